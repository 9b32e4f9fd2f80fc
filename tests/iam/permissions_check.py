#!/usr/bin/env python3
"""`cattube permissions` checked (tests/permissions.rs writes the input):

    python permissions_check.py runs.json    # exit 0: all good; 1: every problem listed

`runs.json`: {"account", "region", "policies": {"up"|"down"|"status"|"upload"|"all": policy},
"runs": [{"command", "region" (when not the document's), "calls": [{"service", "method", "path", "query", "action"}]}]}.

1. Every policy against the Service Authorization Reference (iam_check.validate), and no
   action left on "*" that AWS would let the policy scope to a resource type.
2. Every recorded request is identified as its API operation with botocore's service models
   (method, request URI template, the query keys it requires), then mapped to the IAM
   action that authorizes it: the operation's name, except where the reference documents
   another (ACTIONS). Each run's actions must be in its command's policy; every action of
   the "all" policy must be used by some run, except the ones UNUSED lists with the reason.
"""
from __future__ import annotations

import json
import re
import sys
import urllib.parse
from pathlib import Path

import botocore.session

sys.path.insert(0, str(Path(__file__).resolve().parent))
import iam_check  # noqa: E402

# Operations authorized by an action of another name (Service Authorization Reference,
# "Actions defined by Amazon S3" / CloudFront / Lambda), each to every action it needs.
ACTIONS = {
    "s3:HeadBucket": ["s3:ListBucket"],
    "s3:HeadObject": ["s3:GetObject"],
    "s3:ListObjectsV2": ["s3:ListBucket"],
    "s3:ListObjectVersions": ["s3:ListBucketVersions"],
    "s3:ListMultipartUploads": ["s3:ListBucketMultipartUploads"],
    "s3:GetBucketEncryption": ["s3:GetEncryptionConfiguration"],
    "s3:PutBucketEncryption": ["s3:PutEncryptionConfiguration"],
    "s3:GetPublicAccessBlock": ["s3:GetBucketPublicAccessBlock"],
    "s3:PutPublicAccessBlock": ["s3:PutBucketPublicAccessBlock"],
    "s3:GetBucketNotificationConfiguration": ["s3:GetBucketNotification"],
    "s3:PutBucketNotificationConfiguration": ["s3:PutBucketNotification"],
    # The proxy names S3's ?cors and ?lifecycle calls so; IAM authorizes a delete as a put.
    "s3:GetBucketCors": ["s3:GetBucketCORS"],
    "s3:PutBucketCors": ["s3:PutBucketCORS"],
    "s3:DeleteBucketCors": ["s3:PutBucketCORS"],
    "s3:GetBucketLifecycle": ["s3:GetLifecycleConfiguration"],
    "s3:GetBucketLifecycleConfiguration": ["s3:GetLifecycleConfiguration"],
    "s3:PutBucketLifecycle": ["s3:PutLifecycleConfiguration"],
    "s3:PutBucketLifecycleConfiguration": ["s3:PutLifecycleConfiguration"],
    "s3:DeleteBucketLifecycle": ["s3:PutLifecycleConfiguration"],
    "s3:CreateMultipartUpload": ["s3:PutObject"],
    "s3:UploadPart": ["s3:PutObject"],
    "s3:CompleteMultipartUpload": ["s3:PutObject"],
    # A batch delete is authorized object by object; versions by DeleteObjectVersion.
    "s3:DeleteObjects": ["s3:DeleteObject", "s3:DeleteObjectVersion"],
    # The proxy names a service by its signing name; IAM's prefix for the tagging API is "tag".
    "tagging:GetResources": ["tag:GetResources"],
    "cloudfront:CreateDistributionWithTags": ["cloudfront:CreateDistribution", "cloudfront:TagResource"],
    # As cattube sends them: a create that carries tags needs the tagging action too, one
    # that sets the object ownership needs PutBucketOwnershipControls, and the function's
    # role is passed to Lambda (iam:PassRole is authorized, never called).
    "s3:CreateBucket": ["s3:CreateBucket", "s3:PutBucketOwnershipControls"],
    "iam:CreateRole": ["iam:CreateRole", "iam:TagRole"],
    "lambda:CreateFunction": ["lambda:CreateFunction", "lambda:TagResource", "iam:PassRole"],
    # A rule or topic created with tags needs the tagging action too.
    "events:PutRule": ["events:PutRule", "events:TagResource"],
    "sns:CreateTopic": ["sns:CreateTopic", "sns:TagResource"],
    # CloudWatch Logs: CreateLogGroup with tags needs TagResource too (its API reference).
    "logs:CreateLogGroup": ["logs:CreateLogGroup", "logs:TagResource"],
}

# Actions of the policy no e2e run uses, and why they stay.
UNUSED = {
    # Repairs of drift `up` observes: the runs here converge from nothing and then find
    # nothing to repair.
    "mediaconvert:UpdateQueue": "up resumes a paused queue",
    "mediaconvert:UpdateJobTemplate": "up repairs a drifted job template",
    "mediaconvert:TagResource": "up repairs a queue's or template's tags",
    "mediaconvert:CancelJob": "down cancels the queue's unfinished jobs, when there are any",
    "cloudfront:UpdateOriginAccessControl": "up repairs a drifted origin access control",
    "s3:PutBucketCORS": "up writes the source bucket's CORS rule with [uploads] allowed-origins (tests/upload_grants.rs)",
    "sns:SetTopicAttributes": "up encrypts a topic someone decrypted",
    "sns:Unsubscribe": "up unsubscribes an address removed from [notify] email",
    "acm:AddTagsToCertificate": "up repairs the tags of the stack's certificate",
    "route53:GetHostedZone": "with [domain] zone-id the zone is read by its id; the runs here find it by name",
    "servicequotas:ListServiceQuotas": "asked only once the account reaches a CloudFront quota's default (tests/shared_oac.rs)",
    "secretsmanager:TagResource": "up repairs the tags of a private stack's signing secret",
}

# Actions one command's runs here do not use, although the command does in other cases.
STATELESS = "with a state file it reads them by their recorded ids; without one it lists them"
ADOPTED = "down puts back what up changed on an adopted resource; the runs here adopt nothing"
RESTORED = "down restores an adopted function's code from its kept version; the tutorial's down --including-adopted deletes it"
UNUSED_BY = {
    ("upload", "s3:AbortMultipartUpload"): "upload aborts a failed multipart upload (down aborts a grant's unfinished one)",
    ("gc", "s3:AbortMultipartUpload"): "gc aborts unfinished multipart uploads, when there are any (down does)",
    ("up", "cloudfront:GetDistributionConfig"): "up repairs a drifted distribution (down uses it)",
    ("up", "cloudfront:UpdateDistribution"): "up repairs a drifted distribution (down uses it)",
    ("up", "lambda:RemovePermission"): "up replaces a drifted invoke permission (down uses it)",
    ("up", "events:RemoveTargets"): "up removes a rule's foreign targets (down uses it)",
    ("up", "sns:DeleteTopic"): "up deletes the topic once [notify] email is removed (down uses it)",
    ("up", "cloudfront:DeleteKeyGroup"): "up deletes the key group once [delivery] private is off (down uses it)",
    ("up", "secretsmanager:DeleteSecret"): "up deletes the signing secret once [delivery] private is off (down uses it)",
    ("gc", "cloudfront:DeleteKeyGroup"): "gc deletes an expired private stack's key group; the one here was not private",
    ("gc", "cloudfront:GetKeyGroup"): "gc deletes an expired private stack's key group; the one here was not private",
    ("gc", "cloudfront:DeletePublicKey"): "gc deletes an expired private stack's public keys; the one here was not private",
    ("gc", "cloudfront:GetPublicKey"): "gc deletes an expired private stack's public keys; the one here was not private",
    ("gc", "secretsmanager:DeleteSecret"): "gc deletes an expired private stack's signing secret; the one here was not private",
    ("gc", "secretsmanager:GetResourcePolicy"): "gc reads an expired private stack's signing secret; the one here was not private",
    ("status", "cloudfront:ListDistributions"): STATELESS,
    ("status", "acm:ListCertificates"): STATELESS,
    ("down", "acm:ListCertificates"): STATELESS,
    ("gc", "acm:DeleteCertificate"): "gc deletes an expired stack's [domain] certificate; the one here had none",
    ("gc", "route53:ChangeResourceRecordSets"): "gc deletes an expired stack's [domain] records; the one here had none",
    ("gc", "route53:ListHostedZonesByName"): "gc deletes an expired stack's [domain] records; the one here had none",
    ("gc", "route53:ListResourceRecordSets"): "gc deletes an expired stack's [domain] records; the one here had none",
    ("status", "cloudfront:ListOriginAccessControls"): STATELESS,
    ("down", "cloudfront:ListDistributions"): STATELESS,
    ("down", "cloudfront:ListOriginAccessControls"): STATELESS,
    ("down", "iam:DetachRolePolicy"): "down detaches what someone attached to a role; here up removed it first",
    ("up", "s3:PutBucketVersioning"): "up versions the state bucket it creates; here state push created it first",
    # gc is down for every expired stack: the one here held no videos, no foreign policy and
    # no topic, and this stack (whose remote state gc would write) had not expired. (gc reads
    # and deletes objects: the expired stack's player page.)
    ("gc", "iam:DetachRolePolicy"): "gc detaches what someone attached to an expired stack's role",
    ("gc", "sns:DeleteTopic"): "gc deletes an expired stack's [notify] topic; the one here had none",
    ("gc", "s3:DeleteObjectVersion"): "gc empties an expired stack's buckets; the one here held no videos",
    ("gc", "s3:PutObject"): "gc writes this stack's remote state once this stack has expired",
    ("down", "iam:PutRolePolicy"): ADOPTED,
    ("down", "iam:UpdateAssumeRolePolicy"): ADOPTED,
    ("down", "lambda:UpdateFunctionConfiguration"): ADOPTED,
    ("down", "s3:PutBucketOwnershipControls"): ADOPTED,
    ("down", "s3:PutBucketPublicAccessBlock"): ADOPTED,
    ("down", "s3:PutEncryptionConfiguration"): ADOPTED,
    ("down", "lambda:GetFunctionConfiguration"): RESTORED,
    ("down", "lambda:ListVersionsByFunction"): RESTORED,
    ("down", "lambda:UpdateFunctionCode"): RESTORED,
    ("down", "s3:DeleteBucketPolicy"): "down deletes the destination bucket's policy when its statement is the only one (the tutorial's down did)",
    ("gc", "lambda:GetFunctionConfiguration"): RESTORED,
    ("gc", "lambda:ListVersionsByFunction"): RESTORED,
    ("gc", "lambda:UpdateFunctionCode"): RESTORED,
    ("gc", "s3:DeleteBucketPolicy"): "gc deletes an expired stack's bucket policy when its statement is the only one",
    ("gc", "iam:PutRolePolicy"): ADOPTED,
    ("gc", "iam:UpdateAssumeRolePolicy"): ADOPTED,
    ("gc", "lambda:UpdateFunctionConfiguration"): ADOPTED,
    ("gc", "s3:PutBucketOwnershipControls"): ADOPTED,
    ("gc", "s3:PutBucketPublicAccessBlock"): ADOPTED,
    ("gc", "s3:PutEncryptionConfiguration"): ADOPTED,
}

# Commands whose runs together use their policies: the tutorial's `up` is `up` on other
# names (the adopted function's repairs are its), `down --including-adopted` is `down` and
# the deletion of the replaced roles, `adopt` observes every resource as `status` does.
SHARES_USE = {
    "up": ["up@tutorial"],
    "up@tutorial": ["up"],
    "down-including-adopted": ["down"],
    "adopt": ["status"],
}

MODELS = {}


def model(service: str):
    if service not in MODELS:
        MODELS[service] = botocore.session.get_session().get_service_model(service)
    return MODELS[service]


def _template(uri: str):
    path, _, query = uri.partition("?")
    # Route 53's model ends some URIs with a slash its SDKs do not send (…/rrset/).
    if len(path) > 1:
        path = path.rstrip("/")
    pattern = ""
    for part in re.split(r"(\{[^}]+\})", path):
        if part.startswith("{"):
            pattern += ".+" if part.endswith("+}") else "[^/]+"
        else:
            pattern += re.escape(part)
    required = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
    return re.compile(pattern + "/?$"), required, len(re.sub(r"\{[^}]+\}", "", path))


def operation(call: dict) -> str | None:
    """The API operation of a recorded request, by botocore's model of its service."""
    service = call["service"]
    if call["action"]:
        return call["action"]
    query = dict(urllib.parse.parse_qsl(call["query"], keep_blank_values=True))
    # The SDK names the operation itself where S3's URIs alone do not tell.
    if "x-id" in query:
        return query["x-id"]
    best = None
    for name in model(service).operation_names:
        http = model(service).operation_model(name).http
        if http["method"] != call["method"]:
            continue
        pattern, required, literal = _template(http["requestUri"])
        if not pattern.match(call["path"]):
            continue
        if any(k not in query or (v and query[k] != v) for k, v in required.items()):
            continue
        score = (len(required), literal)
        if best is None or score > best[0]:
            best = (score, name)
    return best and best[1]


def actions_of(call: dict) -> list[str]:
    name = operation(call)
    if name is None:
        return []
    op = f"{call['service']}:{name}"
    return ACTIONS.get(op, [op])


S3_OBJECT_ACTIONS = {"s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload",
                     "s3:DeleteObject", "s3:DeleteObjectVersion"}


def resource_of(call: dict, action: str, account: str, region: str) -> str | None:
    """The ARN IAM authorizes `action` of this request on, where the request tells it
    (None where the resource is only in the body: a create call, PassRole)."""
    details = iam_check.action_details(action)
    if details is not None and not details["resourceTypes"]:
        return "*"
    service, path = call["service"], urllib.parse.unquote(call["path"])
    query = dict(urllib.parse.parse_qsl(call["query"], keep_blank_values=True))
    parts = [p for p in path.split("/") if p]
    if service == "s3" and parts:
        if action not in S3_OBJECT_ACTIONS:
            return f"arn:aws:s3:::{parts[0]}"
        # A batch delete names its keys in the body.
        return f"arn:aws:s3:::{parts[0]}/{'/'.join(parts[1:]) or '*'}"
    if service == "iam":
        role = re.search(r"RoleName=([^&\s]+)", call.get("operation", ""))
        return role and f"arn:aws:iam::{account}:role/{urllib.parse.unquote(role.group(1))}"
    if service == "lambda" and len(parts) >= 3 and parts[1] == "functions" and action.startswith("lambda:"):
        return f"arn:aws:lambda:{region}:{account}:function:{parts[2]}"
    if service == "mediaconvert" and len(parts) >= 2:
        kind = parts[1]
        if kind == "tags" and len(parts) >= 3:
            return "/".join(parts[2:])
        if kind == "jobs" and "queue" in query:
            queue = query["queue"]
            return queue if queue.startswith("arn:") else f"arn:aws:mediaconvert:{region}:{account}:queues/{queue}"
        if kind in ("queues", "jobTemplates", "jobs") and len(parts) >= 3:
            return f"arn:aws:mediaconvert:{region}:{account}:{kind}/{parts[2]}"
        return None
    if service == "route53" and len(parts) >= 3 and parts[1] == "hostedzone":
        return f"arn:aws:route53:::hostedzone/{parts[2]}"
    if service == "cloudfront" and len(parts) >= 2:
        if parts[1] == "tagging":
            return query.get("Resource")
        if parts[1] in ("distribution", "origin-access-control") and len(parts) >= 3:
            return f"arn:aws:cloudfront::{account}:{parts[1]}/{parts[2]}"
    return None


def check(doc: dict) -> tuple[list[str], dict]:
    problems = []
    policies = doc["policies"]
    for command, policy in policies.items():
        problems += iam_check.validate(policy, f"permissions --for {command}")
        for statement in policy["Statement"]:
            if statement["Resource"] != "*":
                continue
            for action in statement["Action"]:
                details = iam_check.action_details(action)
                if details and details["resourceTypes"]:
                    problems.append(f"--for {command}: {action} is on * but takes a resource type")
    allowed = {c: {a for s in p["Statement"] for a in iam_check.as_list(s["Action"])} for c, p in policies.items()}
    principal = {"AWS": f"arn:aws:iam::{doc['account']}:role/ci"}
    used, operations, used_by, scoped = set(), set(), {}, 0
    operations_by = {}
    for run in doc["runs"]:
        command = run["command"]
        used_by.setdefault(command, set())
        for call in run["calls"]:
            name = operation(call)
            if name is None:
                problems.append(f"{command}: no operation of {call['service']} is {call['method']} {call['path']}?{call['query']}")
                continue
            operations.add(f"{call['service']}:{name}")
            operations_by.setdefault(command, set()).add(f"{call['service']}:{name}")
            for action in actions_of(call):
                used.add(action)
                used_by[command].add(action)
                if action not in allowed[command]:
                    problems.append(f"{command} called {call['service']}:{name}, but its policy lacks {action}")
                    continue
                # And on the resource the request names, as IAM evaluates it.
                resource = resource_of(call, action, doc["account"], run.get("region", doc["region"]))
                if resource is None:
                    continue
                scoped += 1
                request = iam_check.Request(principal, action, resource)
                if iam_check.evaluate(request, [policies[command]]) != "allow":
                    problems.append(f"{command}: {action} on {resource} ({call['method']} {call['path']}) is denied by its policy")
    for command, actions in used_by.items():
        shares = [command, *SHARES_USE.get(command, [])]
        actions = set().union(*(used_by.get(c, set()) for c in shares))
        excused = set(UNUSED) | {a for (c, a) in UNUSED_BY if c in shares}
        for action in sorted(allowed[command] - actions - excused):
            problems.append(f"{action} is in the policy of {command}, which never used it (and UNUSED does not say why)")
    for action in sorted(allowed["all"] - used - set(UNUSED)):
        problems.append(f"{action} is in the policy, but no command used it (and UNUSED does not say why)")
    for action in sorted(set(UNUSED) & used):
        problems.append(f"{action} is listed as unused, but a command used it: take it out of UNUSED")
    for action in sorted(set(UNUSED) - allowed["all"]):
        problems.append(f"{action} is listed as unused, but the policy does not have it")
    for command, action in sorted(UNUSED_BY):
        if action in used_by.get(command, ()):
            problems.append(f"{command} used {action}, listed in UNUSED_BY: take it out")
        if action not in allowed.get(command, ()):
            problems.append(f"{action} is listed in UNUSED_BY for {command}, whose policy does not have it")
    figures = {
        "actions": len(allowed["all"]),
        "operations_recorded": len(operations),
        "actions_used": len(used),
        "actions_checked_on_the_resource_named": scoped,
        "requests": sum(len(run["calls"]) for run in doc["runs"]),
        "unused_listed": len(UNUSED),
        # Per --for: the policy's actions, and the distinct operations its runs called.
        "per_command": {
            c: {"actions": len(allowed[c]), "operations_recorded": len(operations_by.get(c, ()))}
            for c in policies
            if c in operations_by
        },
    }
    return problems, figures


def main(argv: list[str]) -> int:
    doc = json.loads(Path(argv[1]).read_text())
    problems, figures = check(doc)
    print(json.dumps(figures))
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
