#!/usr/bin/env python3
"""cattube's local cloud: the stack `cattube up` deploys, running on this machine.

One process serves:

- **AWS** (one endpoint, `AWS_ENDPOINT_URL`): moto's server, in process, with the
  corrections of tests/support/moto_server.py, and with what moto does not do:
  - S3 event notifications invoke the named Lambda function asynchronously with AWS's
    event document (URL-encoded key, size, eTag, versionId, sequencer), when the
    function's resource policy lets S3 invoke it;
  - EventBridge PutEvents reaches every rule whose pattern matches; a Lambda target is
    invoked asynchronously (when the function's policy lets events.amazonaws.com invoke
    it for that rule), other targets are left to moto;
  - a Lambda function runs as deployed: the zip cattube uploaded (moto's copy), on this
    machine's Python, its handler, environment, timeout and memory, with temporary
    credentials of its execution role (STS AssumeRole, the role's trust policy checked),
    its output kept in CloudWatch Logs (/aws/lambda/<function>) and in
    <workdir>/logs/<function>.log; an asynchronous invocation that fails is retried twice
    (Lambda's asynchronous retries), and `--duplicate-s3-events` delivers each S3 event
    twice (S3 delivers at least once);
  - IAM is enforced for every S3 and SNS request signed with temporary (STS) credentials,
    that is, the function's and MediaConvert's calls: the role's policies and the bucket
    policy, evaluated by the project's evaluator (tests/iam/iam_check.py), AccessDenied in
    the service's protocol otherwise, and S3's rule that GetObject/HeadObject of a missing
    key answers 403 unless the caller may s3:ListBucket. Requests signed with the local
    cloud's own keys are the account owner's and are not checked.
- **MediaConvert** (`AWS_ENDPOINT_URL_MEDIACONVERT`): local/mediaconvert/server.py, started
  here, which converts with ffmpeg as each job's role and publishes job events here.
- **CloudFront** (`CATTUBE_CDN_ENDPOINT=http://localhost:PORT`): every distribution at
  `http://<its domain>.localhost:PORT/` (curl and browsers resolve *.localhost to
  loopback), serving its S3 origin as CloudFront with an origin access control does.

    python local/cloud.py --env-file FILE [--region R] [--workdir DIR] [--duplicate-s3-events]

Writes FILE (and prints the same `export` lines) once every service answers; runs until
SIGINT or SIGTERM, then stops what it started.
"""

from __future__ import annotations

import argparse
import base64
import concurrent.futures
import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import uuid
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# moto with the project's corrections (importing applies them), and the project's own IAM
# evaluator: the same code the IAM tests exercise, not a copy.
sys.path[:0] = [str(ROOT / "tests" / "support"), str(ROOT / "tests" / "iam")]
import moto_server  # noqa: E402,F401
import s3_post_policy  # noqa: E402
import iam_check  # noqa: E402
import cloudfront_signed  # noqa: E402

from moto.awslambda.models import LambdaBackend, lambda_backends  # noqa: E402
from moto.cloudfront.models import cloudfront_backends  # noqa: E402
from moto.core import DEFAULT_ACCOUNT_ID  # noqa: E402
from moto.events import models as events_models  # noqa: E402
from moto.iam.access_control import AssumedRoleAccessKey, CreateAccessKeyFailure  # noqa: E402
from moto.iam.models import iam_backends  # noqa: E402
from moto.logs.models import logs_backends  # noqa: E402
from moto.s3 import notifications as s3_notifications  # noqa: E402
from moto.s3.models import S3Backend, s3_backends  # noqa: E402
from moto.server import DomainDispatcherApplication, create_backend_app  # noqa: E402
from werkzeug.serving import WSGIRequestHandler, make_server  # noqa: E402

ACCOUNT = DEFAULT_ACCOUNT_ID
# The local cloud's own keys: the account owner's (never checked against IAM).
OWNER_KEY, OWNER_SECRET = "local", "local"
# Upload grants are signed with them: the POST policy check must know the secret.
s3_post_policy.KNOWN_KEYS[OWNER_KEY] = OWNER_SECRET
# Lambda retries a failed asynchronous invocation twice, after about 1 and 2 minutes; the
# local cloud waits these many seconds instead (--retry-delay scales them).
RETRIES = 2


def log(message: str) -> None:
    print(f"local-cloud: {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _policy_docs(policies) -> list[dict]:
    docs = []
    for p in policies:
        text = getattr(getattr(p, "default_version", None), "document", None) or getattr(p, "document", None) or p
        docs.append(json.loads(text) if isinstance(text, str) else text)
    return docs


def _bucket_policy(bucket: str) -> list[dict]:
    found = s3_backends[ACCOUNT]["aws"].buckets.get(bucket)
    if found is None or not found.policy:
        return []
    return [json.loads(found.policy)]


def allowed(principal: dict, identity: list[dict], action: str, resource: str, context: dict,
            resource_policies: list[dict]) -> bool:
    extra = {"aws:PrincipalArn": principal["AWS"], "aws:PrincipalAccount": ACCOUNT} if "AWS" in principal else {}
    request = iam_check.Request(principal=principal, action=action, resource=resource,
                                context={"aws:SecureTransport": "true", **extra, **context})
    return iam_check.evaluate(request, identity, resource_policies) == "allow"


# --------------------------------------------------------------------------------------
# Lambda: asynchronous invocations of the deployed code


class Lambdas:
    def __init__(self, endpoint: str, mediaconvert: str, workdir: Path, retry_delay: float, python: str):
        self.endpoint, self.mediaconvert, self.workdir = endpoint, mediaconvert, workdir
        self.retry_delay, self.python = retry_delay, python
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="lambda")
        self.stopping = False  # set on shutdown: no new attempt starts
        self.lock = threading.Lock()
        (workdir / "logs").mkdir(parents=True, exist_ok=True)

    def function(self, arn: str):
        region = arn.split(":")[3]
        return lambda_backends[ACCOUNT][region].get_function(arn)

    def may_invoke(self, fn, service: str, source_arn: str) -> bool:
        """The function's resource policy (lambda:AddPermission) lets `service` invoke it for
        `source_arn`, as Lambda checks before it runs an asynchronous invocation."""
        try:
            policy = fn.policy.get_policy()["Policy"] if fn.policy else None
        except Exception:  # noqa: BLE001 - no policy
            policy = None
        if not policy or not policy.get("Statement"):
            return False
        return allowed({"Service": service}, [], "lambda:InvokeFunction", fn.function_arn,
                       {"aws:SourceArn": source_arn, "aws:SourceAccount": ACCOUNT}, [policy])

    def invoke_async(self, arn: str, event: dict, service: str, source_arn: str) -> None:
        try:
            fn = self.function(arn)
        except Exception as err:  # noqa: BLE001 - the target was deleted: AWS drops the event
            log(f"{service} event for {arn} dropped: {err}")
            return
        if not self.may_invoke(fn, service, source_arn):
            log(f"{service} may not invoke {fn.function_name} for {source_arn}: event dropped")
            return
        self.pool.submit(self._attempt, arn, event, 0)

    def _attempt(self, arn: str, event: dict, attempt: int) -> None:
        if self.stopping:
            return
        try:
            error = self.run(arn, event)
        except Exception as err:  # noqa: BLE001 - the runtime itself failed
            log(f"invoking {arn} failed: {err!r}")
            error = {"errorType": "Runtime.Unknown", "errorMessage": repr(err)}
        if error is None or self.stopping:
            return
        fn = self.function(arn)
        config = _event_invoke_config(fn)
        if attempt < config.get("MaximumRetryAttempts", RETRIES):
            delay = self.retry_delay * (attempt + 1)
            log(f"{fn.function_name}: attempt {attempt + 1} failed, retrying in {delay:g} s")
            threading.Timer(delay, lambda: self.pool.submit(self._attempt, arn, event, attempt + 1)).start()
            return
        destination = config.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        if destination:
            self._record_failure(fn, destination, event, error, attempt + 1)
        else:
            log(f"{fn.function_name}: attempt {attempt + 1} failed, event dropped (no on-failure destination)")

    def _record_failure(self, fn, destination: str, event: dict, error: dict, attempts: int) -> None:
        """Lambda's invocation record, sent to the on-failure destination as the function's
        role (IAM enforced: an S3 bucket needs s3:PutObject). Only S3 destinations here."""
        if not destination.startswith("arn:aws:s3:::"):
            log(f"{fn.function_name}: on-failure destination {destination} is not an S3 bucket; not emulated")
            return
        now = time.time()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"
        record = {
            "version": "1.0", "timestamp": stamp,
            "requestContext": {"requestId": str(uuid.uuid4()), "functionArn": f"{fn.function_arn}:$LATEST",
                               "condition": "RetriesExhausted", "approximateInvokeCount": attempts},
            "requestPayload": event,
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "responsePayload": error,
        }
        # Lambda's key for an asynchronous invocation's record: by function and day.
        key = (f"aws/lambda/async/{fn.function_name}/{time.strftime('%Y/%m/%d', time.gmtime(now))}/"
               f"{time.strftime('%Y-%m-%dT%H.%M.%S', time.gmtime(now))}-{uuid.uuid4()}")
        import boto3
        creds = self._credentials(fn)
        s3 = boto3.client("s3", endpoint_url=self.endpoint, region_name=fn.region,
                          aws_access_key_id=creds["AWS_ACCESS_KEY_ID"],
                          aws_secret_access_key=creds["AWS_SECRET_ACCESS_KEY"],
                          aws_session_token=creds["AWS_SESSION_TOKEN"])
        try:
            s3.put_object(Bucket=destination.split(":::", 1)[1], Key=key, Body=json.dumps(record).encode(),
                          ContentType="application/json")
            log(f"{fn.function_name}: attempt {attempts} failed, record kept in {destination}/{key}")
        except Exception as err:  # noqa: BLE001 - Lambda counts a DestinationDeliveryFailure
            log(f"{fn.function_name}: record of a failed invocation not delivered to {destination}: {err}")

    def _code_dir(self, fn) -> Path:
        with self.lock:
            target = self.workdir / "code" / fn.code_sha_256.replace("/", "_").replace("+", "-")
            if not target.exists():
                partial = Path(tempfile.mkdtemp(dir=self.workdir))
                with zipfile.ZipFile(io.BytesIO(fn.code_bytes)) as z:
                    z.extractall(partial)
                target.parent.mkdir(exist_ok=True)
                partial.rename(target)
            return target

    def _credentials(self, fn) -> dict:
        iam = iam_backends[ACCOUNT]["aws"]
        role = iam.get_role(fn.role.rsplit("/", 1)[-1])
        trust = json.loads(role.assume_role_policy_document) if isinstance(role.assume_role_policy_document, str) \
            else role.assume_role_policy_document
        if not allowed({"Service": "lambda.amazonaws.com"}, [], "sts:AssumeRole", role.arn, {}, [trust]):
            raise PermissionError(f"{role.arn}'s trust policy does not let Lambda assume it")
        import boto3
        sts = boto3.client("sts", endpoint_url=self.endpoint, region_name=fn.region,
                           aws_access_key_id=OWNER_KEY, aws_secret_access_key=OWNER_SECRET)
        creds = sts.assume_role(RoleArn=role.arn, RoleSessionName=fn.function_name[:64])["Credentials"]
        return {"AWS_ACCESS_KEY_ID": creds["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"],
                "AWS_SESSION_TOKEN": creds["SessionToken"]}

    def run(self, arn: str, event: dict) -> dict | None:
        """One invocation; None when the function returned without error, else the error
        (errorType, errorMessage) as Lambda reports it."""
        fn = self.function(arn)
        request_id = str(uuid.uuid4())
        group = f"/aws/lambda/{fn.function_name}"
        day = time.strftime("%Y/%m/%d", time.gmtime())
        stream = f"{day}/[$LATEST]{uuid.uuid4().hex}"
        code = self._code_dir(fn)
        started = time.time()
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "TZ": ":UTC",
            **{k: str(v) for k, v in (fn.environment_vars or {}).items()},
            **self._credentials(fn),
            "AWS_REGION": fn.region, "AWS_DEFAULT_REGION": fn.region,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_LAMBDA_FUNCTION_NAME": fn.function_name, "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
            "AWS_LAMBDA_LOG_GROUP_NAME": group, "AWS_LAMBDA_LOG_STREAM_NAME": stream,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{fn.run_time}", "LAMBDA_TASK_ROOT": str(code),
            "_HANDLER": fn.handler, "PYTHONDONTWRITEBYTECODE": "1",
            "LOCAL_LAMBDA_FUNCTION_ARN": fn.function_arn, "LOCAL_LAMBDA_REQUEST_ID": request_id,
            "LOCAL_LAMBDA_DEADLINE": str(started + fn.timeout),
        }
        if self.mediaconvert:
            env["AWS_ENDPOINT_URL_MEDIACONVERT"] = self.mediaconvert
        with tempfile.NamedTemporaryFile(dir=self.workdir, suffix=".json", delete=False) as result_file:
            env["LOCAL_LAMBDA_RESULT"] = result_file.name
        lines = [f"START RequestId: {request_id} Version: $LATEST"]
        proc = subprocess.Popen([self.python, str(ROOT / "local" / "lambda_runtime.py")], cwd=code, env=env,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            output, _ = proc.communicate(json.dumps(event).encode(), timeout=fn.timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
            timed_out = True
        elapsed_ms = (time.time() - started) * 1000
        lines += output.decode("utf-8", "replace").splitlines()
        try:
            outcome = json.loads(Path(result_file.name).read_text() or "{}")
        except ValueError:
            outcome = {}
        os.unlink(result_file.name)
        if timed_out:
            lines.append(f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime())}Z {request_id} "
                         f"Task timed out after {fn.timeout:.2f} seconds")
        elif "errorType" not in outcome and "result" not in outcome:
            outcome = {"errorType": "Runtime.ExitError", "errorMessage": f"exit status {proc.returncode}"}
        if "errorType" in outcome:
            lines.append(json.dumps({k: outcome[k] for k in ("errorType", "errorMessage") if k in outcome}))
        lines.append(f"END RequestId: {request_id}")
        lines.append(f"REPORT RequestId: {request_id}\tDuration: {elapsed_ms:.2f} ms\t"
                     f"Billed Duration: {int(elapsed_ms) + 1} ms\tMemory Size: {fn.memory_size} MB\t"
                     f"Max Memory Used: {int(outcome.get('maxRssMb', 0))} MB")
        self._keep_logs(fn, group, stream, lines)
        if timed_out:
            return {"errorType": "Sandbox.Timedout", "errorMessage": f"Task timed out after {fn.timeout:.2f} seconds"}
        if "errorType" in outcome:
            return {k: outcome[k] for k in ("errorType", "errorMessage") if k in outcome}
        return None

    def _keep_logs(self, fn, group: str, stream: str, lines: list[str]) -> None:
        """Lambda writes to CloudWatch Logs as the function's role: it creates a missing group
        only when the role may logs:CreateLogGroup, and writes only when it may
        CreateLogStream and PutLogEvents; otherwise the lines are lost, as on AWS (the
        workdir's copy is this cloud's own)."""
        backend = logs_backends[ACCOUNT][fn.region]
        group_arn = f"arn:aws:logs:{fn.region}:{ACCOUNT}:log-group:{group}"
        stream_arn = f"{group_arn}:log-stream:{stream}"
        with self.lock:
            with open(self.workdir / "logs" / f"{fn.function_name}.log", "a") as out:
                out.write("\n".join(lines) + "\n")
            role_arn, identity = _role_policies(fn)
            may = lambda action, resource: allowed({"AWS": role_arn}, identity, action, resource, {}, [])  # noqa: E731
            if group not in backend.groups:
                if not may("logs:CreateLogGroup", group_arn):
                    log(f"{fn.function_name}: log group {group} missing and its role may not create it: "
                        "logs lost")
                    return
                backend.create_log_group(group, {})
            if not (may("logs:CreateLogStream", stream_arn) and may("logs:PutLogEvents", stream_arn)):
                log(f"{fn.function_name}: its role may not write to {group}: logs lost")
                return
            backend.create_log_stream(group, stream)
            now = int(time.time() * 1000)
            backend.put_log_events(group, stream, [{"timestamp": now, "message": line} for line in lines])


def _event_invoke_config(fn) -> dict:
    """The function's asynchronous invocation settings (PutFunctionEventInvokeConfig)."""
    configs = getattr(fn, "event_invoke_config", None) or []
    return configs[-1].config if configs else {}


def _role_policies(fn) -> tuple[str, list[dict]]:
    """The function's role ARN and its identity policies (inline and attached)."""
    iam = iam_backends[ACCOUNT]["aws"]
    role = iam.get_role(fn.role.rsplit("/", 1)[-1])
    return role.arn, _policy_docs([*role.policies.values(), *role.managed_policies.values()])


def _invoke(self, function_name, qualifier, body, headers, response_headers):
    """Lambda Invoke: an asynchronous one (InvocationType Event, as `cattube jobs
    --retry-failed` sends) is queued for the function as S3's and EventBridge's are, with its
    retries and on-failure destination; the caller's own IAM is the account owner's here."""
    if headers.get("X-Amz-Invocation-Type") != "Event" or LAMBDAS is None:
        return _moto_invoke(self, function_name, qualifier, body, headers, response_headers)
    fn = self.get_function(function_name, qualifier)
    event = json.loads(body) if body else {}
    LAMBDAS.pool.submit(LAMBDAS._attempt, fn.function_arn, event, 0)
    return b""


LAMBDAS: Lambdas | None = None

# --------------------------------------------------------------------------------------
# S3 event notifications: AWS's event document, delivered through Lambdas

_sequence = 0
_sequence_lock = threading.Lock()


def _sequencer() -> str:
    """S3's sequencer: hexadecimal, growing with each event of a key (compared as strings
    of equal length, which this keeps)."""
    global _sequence
    with _sequence_lock:
        _sequence += 1
        return f"{time.time_ns():016X}{_sequence:08X}"


def s3_event(event_name: str, bucket, key, notification_id: str) -> dict:
    """The event S3 sends ("Event message structure", S3 User Guide)."""
    now = time.time()
    obj = {"key": urllib.parse.quote_plus(key.name, safe="/"), "size": key.size,
           "eTag": key.etag.strip('"'), "sequencer": _sequencer()}
    if getattr(key, "_version_id", None):
        obj["versionId"] = key.version_id
    return {"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": bucket.region_name,
        "eventTime": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z",
        "eventName": event_name[3:] if event_name.startswith("s3:") else event_name,
        "userIdentity": {"principalId": f"AWS:{ACCOUNT}"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"x-amz-request-id": uuid.uuid4().hex[:16].upper(),
                             "x-amz-id-2": base64.b64encode(os.urandom(48)).decode()},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": notification_id,
               "bucket": {"name": bucket.name, "ownerIdentity": {"principalId": ACCOUNT},
                          "arn": f"arn:aws:s3:::{bucket.name}"},
               "object": obj},
    }]}


DUPLICATE_S3_EVENTS = False


# moto's CompleteMultipartUpload stores the object through its PutObject, which sends an
# ObjectCreated:Put event before the CompleteMultipartUpload one; S3 sends only the latter.
_completing = threading.local()
_complete_multipart_upload = S3Backend.complete_multipart_upload


def _complete_multipart_upload_once(self, *args, **kwargs):
    _completing.active = True
    try:
        return _complete_multipart_upload(self, *args, **kwargs)
    finally:
        _completing.active = False


S3Backend.complete_multipart_upload = _complete_multipart_upload_once


def _send_s3_event(account_id, event_name, bucket, key) -> None:
    if getattr(_completing, "active", False) and event_name == s3_notifications.S3NotificationEvent.OBJECT_CREATED_PUT_EVENT:
        return None
    config = bucket.notification_configuration
    if config is None or LAMBDAS is None:
        return _original_send_event(account_id, event_name, bucket, key)
    for notification in config.cloud_function:
        if notification.matches(event_name, key.name):
            event = s3_event(str(getattr(event_name, "value", event_name)), bucket, key, notification.id)
            for _ in range(2 if DUPLICATE_S3_EVENTS else 1):
                LAMBDAS.invoke_async(notification.arn, event, "s3.amazonaws.com", f"arn:aws:s3:::{bucket.name}")
    # Queues, topics and EventBridge as moto does them; its own Lambda call is not made.
    functions, config.cloud_function = config.cloud_function, []
    try:
        _original_send_event(account_id, event_name, bucket, key)
    finally:
        config.cloud_function = functions


_original_send_event = s3_notifications.send_event
# moto's models call it as notifications.send_event: replacing the module's name is enough.
s3_notifications.send_event = _send_s3_event


# --------------------------------------------------------------------------------------
# EventBridge: a rule's Lambda targets invoked asynchronously

_original_send_to_targets = events_models.Rule.send_to_targets


def _send_to_targets(self, original_event, transform_input=True):
    if not self.event_pattern.matches_event(original_event):
        return None
    others = []
    for target in self.targets:
        if target["Arn"].split(":")[2] != "lambda" or LAMBDAS is None:
            others.append(target)
            continue
        transformer = target.get("InputTransformer") or {}
        event = events_models.EventTemplateParser.parse(
            input_template=transformer.get("InputTemplate"),
            input_paths_map=transformer.get("InputPathsMap", {}), event=original_event)
        if target.get("Input"):
            event = json.loads(target["Input"])
        LAMBDAS.invoke_async(target["Arn"], event, "events.amazonaws.com", self.arn)
    if others:
        saved = self.targets
        self.targets = others
        try:
            return _original_send_to_targets(self, original_event, transform_input)
        finally:
            self.targets = saved
    return None


events_models.Rule.send_to_targets = _send_to_targets

_moto_invoke = LambdaBackend.invoke
LambdaBackend.invoke = _invoke


# --------------------------------------------------------------------------------------
# IAM for temporary credentials, in front of moto (WSGI middleware)

CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/[^/]+/([^/]+)/([^/]+)/")


def _s3_error(code: str, message: str, status: str = "403 Forbidden", head: bool = False):
    body = b"" if head else (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>'
        f"<RequestId>{uuid.uuid4().hex[:16].upper()}</RequestId></Error>").encode()
    return status, [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))], body


def _query_error(code: str, message: str):
    body = (f'<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Sender</Type>'
            f"<Code>{code}</Code><Message>{message}</Message></Error>"
            f"<RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>").encode()
    return "403 Forbidden", [("Content-Type", "text/xml"), ("Content-Length", str(len(body)))], body


def s3_actions(method: str, path: str, query: dict, headers) -> tuple[str, list[tuple[str, str, dict]]]:
    """(bucket, [(action, resource ARN, context)]) of a path-style S3 request."""
    bucket, _, key = urllib.parse.unquote(path.lstrip("/")).partition("/")
    bucket_arn = f"arn:aws:s3:::{bucket}"
    if not key:
        if method in ("GET", "HEAD") and not (set(query) - {"list-type", "prefix", "delimiter", "max-keys",
                                                             "continuation-token", "start-after", "marker",
                                                             "encoding-type", "fetch-owner"}):
            return bucket, [("s3:ListBucket", bucket_arn, {"s3:prefix": query.get("prefix", "")})]
        # Bucket configuration: nothing the pipeline's roles are granted.
        return bucket, [("s3:" + (next(iter(query), "UnknownBucketOperation")), bucket_arn, {})]
    object_arn = f"{bucket_arn}/{key}"
    if "tagging" in query:
        # An object's tags are their own actions (GetObjectTagging, PutObjectTagging,
        # DeleteObjectTagging in the Service Authorization Reference), not GetObject/PutObject.
        verb = {"GET": "Get", "HEAD": "Get", "PUT": "Put", "DELETE": "Delete"}.get(method, method.title())
        return bucket, [(f"s3:{verb}ObjectTagging", object_arn, {})]
    if method in ("GET", "HEAD"):
        return bucket, [("s3:GetObject", object_arn, {})]
    if method == "DELETE":
        return bucket, [("s3:AbortMultipartUpload" if "uploadId" in query else "s3:DeleteObject", object_arn, {})]
    actions = [("s3:PutObject", object_arn, {})]
    source = headers.get("x-amz-copy-source")
    if source:
        actions.append(("s3:GetObject", "arn:aws:s3:::" + urllib.parse.unquote(source.lstrip("/").split("?")[0]), {}))
    return bucket, actions


class Enforcer:
    """WSGI middleware: requests signed with STS credentials are checked against IAM."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        denial = None
        found = CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
        if found and found.group(1) != OWNER_KEY:
            denial = self.check(environ, found.group(1), found.group(3))
        if denial is not None:
            status, headers, body = denial
            start_response(status, headers)
            return [body]
        return self.app(environ, start_response)

    def principal(self, environ, access_key: str):
        try:
            key = AssumedRoleAccessKey(ACCOUNT, "aws", access_key,
                                       {"X-Amz-Security-Token": environ.get("HTTP_X_AMZ_SECURITY_TOKEN", "")})
        except CreateAccessKeyFailure:
            return None, None
        role_arn = f"arn:aws:iam::{ACCOUNT}:role/{key._owner_role_name}"
        try:
            return role_arn, _policy_docs(key.collect_policies())
        except Exception:  # noqa: BLE001 - the role was deleted since: its sessions may do nothing
            return role_arn, []

    def check(self, environ, access_key: str, service: str):
        role_arn, identity = self.principal(environ, access_key)
        if role_arn is None:
            return None  # not a temporary credential of this cloud: moto answers as it does
        principal = {"AWS": role_arn}
        method = environ["REQUEST_METHOD"]
        query = dict(urllib.parse.parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
        if service == "s3":
            headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
            # The path as sent (PATH_INFO is already percent-decoded, as latin-1).
            raw_path = urllib.parse.urlsplit(environ.get("RAW_URI") or environ.get("REQUEST_URI") or "/").path
            bucket, actions = s3_actions(method, raw_path, query, headers)
            policies = _bucket_policy(bucket)
            for action, resource, context in actions:
                if not allowed(principal, identity, action, resource, context, policies):
                    return _s3_error("AccessDenied", f"User: {role_arn} is not authorized to perform: {action} "
                                     f"on resource: \"{resource}\"", head=method == "HEAD")
            if method in ("GET", "HEAD") and actions[0][0] == "s3:GetObject" and "uploadId" not in query:
                key = resource_key(actions[0][1])
                if s3_backends[ACCOUNT]["aws"].buckets.get(bucket) is not None and \
                        s3_backends[ACCOUNT]["aws"].get_object(bucket, key) is None and \
                        not allowed(principal, identity, "s3:ListBucket", f"arn:aws:s3:::{bucket}",
                                    {"s3:prefix": key}, policies):
                    # S3 hides whether the key exists from a caller that may not list the bucket.
                    return _s3_error("AccessDenied", "Access Denied", head=method == "HEAD")
            return None
        if service == "sns":
            body = self._form(environ)
            action, topic = body.get("Action"), body.get("TopicArn") or body.get("TargetArn") or "*"
            if action and not allowed(principal, identity, f"sns:{action}", topic, {}, []):
                return _query_error("AuthorizationError", f"User: {role_arn} is not authorized to perform: "
                                    f"SNS:{action} on resource: {topic}")
        return None

    @staticmethod
    def _form(environ) -> dict:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(raw)
        return dict(urllib.parse.parse_qsl(raw.decode("utf-8", "replace")))


def resource_key(object_arn: str) -> str:
    return object_arn.split(":::", 1)[1].split("/", 1)[1]


# --------------------------------------------------------------------------------------
# CloudFront: distributions served as with an origin access control


class CDNHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *_):
        pass

    def do_GET(self):
        self.serve(body=True)

    def do_HEAD(self):
        self.serve(body=False)

    def answer(self, status: int, headers: dict | None = None, data: bytes = b"", body: bool = True):
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Server", "CloudFront")
        self.end_headers()
        if body:
            self.wfile.write(data)

    def error(self, status: int, code: str, body: bool):
        data = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
                f"<Message>{code}</Message></Error>").encode()
        self.answer(status, {"Content-Type": "application/xml", "X-Cache": "Error from cloudfront"}, data, body)

    def unsigned(self, distribution, path: str) -> str | None:
        """Why CloudFront refuses this request for its signature (None: it needs none, or it
        verifies): a behavior with trusted key groups serves only signed URLs or cookies
        (tests/support/cloudfront_signed.py, CloudFront's documented check)."""
        keys = _trusted_keys(_behavior(distribution.distribution_config, path))
        if keys is None:
            return None
        cookies = cloudfront_signed.parse_cookie_header(self.headers.get("Cookie") or "")
        url = f"http://{self.headers.get('Host')}{self.path}"
        return cloudfront_signed.check(url, cookies, keys)

    def serve(self, body: bool):
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0].lower()
        domain = host[: -len(".localhost")] if host.endswith(".localhost") else host
        distribution = next((d for d in cloudfront_backends[ACCOUNT]["aws"].distributions.values()
                             if d.domain_name == domain), None)
        if distribution is None:
            return self.error(404, "NoSuchDistribution", body)
        config = distribution.distribution_config
        origin = config.Origins["Items"][0]
        bucket = origin.domain_name.split(".s3.", 1)[0].split(".s3-", 1)[0]
        path = urllib.parse.urlsplit(self.path).path
        key = urllib.parse.unquote(path[1:]) if path != "/" else (getattr(config, "DefaultRootObject", "") or "")
        key = (origin.origin_path.strip("/") + "/" + key).lstrip("/") if origin.origin_path else key
        refused = self.unsigned(distribution, path)
        if refused:
            return self.error(403, refused, body)
        if not getattr(origin, "origin_access_control_id", ""):
            # Without an OAC CloudFront asks S3 anonymously: the stack's buckets are private.
            return self.error(403, "AccessDenied", body)
        principal = {"Service": "cloudfront.amazonaws.com"}
        context = {"aws:SourceArn": distribution.arn, "aws:SourceAccount": ACCOUNT}
        policies = _bucket_policy(bucket)
        if not key or not allowed(principal, [], "s3:GetObject", f"arn:aws:s3:::{bucket}/{key}", context, policies):
            return self.error(403, "AccessDenied", body)
        obj = s3_backends[ACCOUNT]["aws"].get_object(bucket, key)
        if obj is None:
            may_list = allowed(principal, [], "s3:ListBucket", f"arn:aws:s3:::{bucket}", context, policies)
            return self.error(404 if may_list else 403, "NoSuchKey" if may_list else "AccessDenied", body)
        data = obj.value
        headers = {"Content-Type": obj.metadata.get("Content-Type") or "binary/octet-stream",
                   "ETag": obj.etag, "Last-Modified": obj.last_modified_RFC1123, "Accept-Ranges": "bytes",
                   "X-Cache": "Miss from cloudfront"}
        for name in ("Cache-Control", "Content-Disposition", "Content-Encoding"):
            if obj.metadata.get(name):
                headers[name] = obj.metadata[name]
        wanted = self.headers.get("Range")
        if wanted:
            span = byte_range(wanted, len(data))
            if span is None:
                headers["Content-Range"] = f"bytes */{len(data)}"
                return self.answer(416, headers, b"", body)
            start, end = span
            headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
            return self.answer(206, headers, data[start:end + 1], body)
        return self.answer(200, headers, data, body)


def _listed(value, member: str) -> list:
    """A list member as moto keeps it: a list, or the XML's {member: item-or-items}."""
    if isinstance(value, dict):
        value = value.get(member, [])
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _path_matches(pattern: str, path: str) -> bool:
    """A cache behavior's PathPattern (`*` any run, `?` one character) against a path."""
    pattern = "/" + pattern.lstrip("/")
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, path, flags=re.DOTALL) is not None


def _behavior(config, path: str):
    """The cache behavior CloudFront picks: the first whose PathPattern matches, else the default."""
    behaviors = getattr(config, "CacheBehaviors", None) or {}
    items = behaviors.get("Items") if isinstance(behaviors, dict) else None
    for behavior in _listed(items, "CacheBehavior"):
        pattern = getattr(behavior, "path_pattern", None) or (behavior.get("PathPattern") if isinstance(behavior, dict) else "")
        if pattern and _path_matches(pattern, path):
            return behavior
    return config.DefaultCacheBehavior


def _trusted_keys(behavior) -> dict[str, str] | None:
    """The public keys (id -> PEM) of the key groups a behavior trusts; None when it trusts none."""
    trusted = getattr(behavior, "trusted_key_groups", None)
    if isinstance(behavior, dict):
        trusted = behavior.get("TrustedKeyGroups")
    if trusted is None:
        return None
    enabled = trusted.get("Enabled") if isinstance(trusted, dict) else trusted.enabled
    items = trusted.get("Items") if isinstance(trusted, dict) else trusted.items
    groups = _listed(items, "KeyGroup")
    if str(enabled).lower() not in ("true", "1") or not groups:
        return None
    backend = cloudfront_backends[ACCOUNT]["aws"]
    keys = {}
    for group_id in groups:
        group = backend.key_groups.get(group_id)
        for key_id in _listed(group.items if group else [], "PublicKey"):
            key = backend.public_keys.get(key_id)
            if key is not None:
                keys[key_id] = key.encoded_key
    return keys


def byte_range(header: str, size: int) -> tuple[int, int] | None:
    """The first range of a `bytes=` Range header, inclusive; None when unsatisfiable."""
    match = re.fullmatch(r"\s*bytes=(\d*)-(\d*)\s*(,.*)?", header)
    if not match or (match.group(1) == "" and match.group(2) == ""):
        return None
    first, last = match.group(1), match.group(2)
    if first == "":
        length = int(last)
        return (max(0, size - length), size - 1) if length and size else None
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    return (start, end) if start < size and start <= end else None


# --------------------------------------------------------------------------------------


def wait_for(url: str, what: str, deadline: float) -> None:
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except urllib.error.HTTPError:
            return  # it answered
        except Exception as err:  # noqa: BLE001 - not up yet
            if time.time() > deadline:
                raise SystemExit(f"local-cloud: {what} did not answer at {url}: {err}")
            time.sleep(0.1)


def main(argv: list[str]) -> int:
    global LAMBDAS, DUPLICATE_S3_EVENTS
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env-file", required=True, help="where to write the export lines")
    parser.add_argument("--region", default=os.environ.get("AWS_REGION") or "eu-west-1")
    parser.add_argument("--workdir", help="code, logs and MediaConvert scratch (default: a temporary folder)")
    parser.add_argument("--duplicate-s3-events", action="store_true", help="deliver every S3 event twice")
    parser.add_argument("--retry-delay", type=float, default=1.0,
                        help="seconds before Lambda's first asynchronous retry (the second waits twice as long)")
    parser.add_argument("--python", default=sys.executable, help="the Python that runs functions")
    args = parser.parse_args(argv)
    DUPLICATE_S3_EVENTS = args.duplicate_s3_events
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="cattube-local-"))
    workdir.mkdir(parents=True, exist_ok=True)

    aws_port, cdn_port, mc_port = free_port(), free_port(), free_port()
    endpoint = f"http://127.0.0.1:{aws_port}"
    # GetFunction's code Location is served on this port (moto_server.py).
    moto_server.OWN_ADDRESS = endpoint
    mediaconvert = f"http://127.0.0.1:{mc_port}"
    LAMBDAS = Lambdas(endpoint, mediaconvert, workdir, args.retry_delay, args.python)

    class QuietHandler(WSGIRequestHandler):
        def log_request(self, *_):
            pass

    aws = make_server("127.0.0.1", aws_port, Enforcer(DomainDispatcherApplication(create_backend_app)),
                      threaded=True, request_handler=QuietHandler)
    cdn = ThreadingHTTPServer(("127.0.0.1", cdn_port), CDNHandler)
    for server in (aws, cdn):
        threading.Thread(target=server.serve_forever, daemon=True).start()

    owner_env = {"AWS_ACCESS_KEY_ID": OWNER_KEY, "AWS_SECRET_ACCESS_KEY": OWNER_SECRET,
                 "AWS_REGION": args.region, "AWS_DEFAULT_REGION": args.region}
    mc_server = ROOT / "local" / "mediaconvert" / "server.py"
    mc_log = open(workdir / "mediaconvert.log", "ab")
    mc = subprocess.Popen([sys.executable, str(mc_server), "--port", str(mc_port), "--convert"], stdout=mc_log,
                          stderr=subprocess.STDOUT,
                          env={**os.environ, **owner_env, "AWS_ENDPOINT_URL": endpoint,
                               "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
                               "AWS_EC2_METADATA_DISABLED": "true", "CATTUBE_LOCAL_WORKDIR": str(workdir)})

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        deadline = time.time() + 60
        wait_for(f"{endpoint}/moto-api/", "AWS (moto)", deadline)
        wait_for(f"http://127.0.0.1:{cdn_port}/", "CloudFront", deadline)
        wait_for(mediaconvert + "/", "MediaConvert", deadline)
        lines = [
            f"export AWS_ENDPOINT_URL={endpoint}",
            f"export AWS_ENDPOINT_URL_MEDIACONVERT={mediaconvert}",
            f"export CATTUBE_CDN_ENDPOINT=http://localhost:{cdn_port}",
            f"export AWS_ACCESS_KEY_ID={OWNER_KEY}",
            f"export AWS_SECRET_ACCESS_KEY={OWNER_SECRET}",
            "unset AWS_SESSION_TOKEN AWS_PROFILE",
            f"export AWS_REGION={args.region}",
            f"export AWS_DEFAULT_REGION={args.region}",
            "export AWS_CONFIG_FILE=/dev/null",
            "export AWS_SHARED_CREDENTIALS_FILE=/dev/null",
            "export AWS_EC2_METADATA_DISABLED=true",
            f"export CATTUBE_LOCAL_WORKDIR={workdir}",
        ]
        text = "\n".join(lines) + "\n"
        partial = Path(args.env_file + ".partial")
        partial.write_text(text)
        partial.rename(args.env_file)
        print(text, end="", flush=True)
        log(f"ready; function logs in {workdir}/logs, MediaConvert's in {workdir}/mediaconvert.log; "
            "Ctrl-C stops")
        while not stop.wait(0.5):
            if mc.poll() is not None:
                log(f"MediaConvert exited ({mc.returncode}); see {workdir}/mediaconvert.log")
                return 1
        return 0
    finally:
        LAMBDAS.stopping = True
        mc.terminate()
        try:
            mc.wait(10)
        except subprocess.TimeoutExpired:
            mc.kill()
        aws.shutdown()
        cdn.shutdown()
        LAMBDAS.pool.shutdown(wait=False, cancel_futures=True)
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
