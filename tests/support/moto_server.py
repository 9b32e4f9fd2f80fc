"""Starts moto's server for cattube's tests, with these corrections.

moto applies a bucket-policy statement even when it cannot evaluate the statement's
condition, so the TLS-only statement every cattube bucket carries (Deny s3:* when
aws:SecureTransport is false) would deny every object request. Real S3 evaluates the
condition from the connection. The emulator is plain HTTP on loopback standing in for
AWS's HTTPS endpoints, so this launcher takes every request as made over TLS
(aws:SecureTransport = true) unless the request carries the test-only header

    x-cattube-test-secure-transport: false

which makes it a plain-HTTP request for policy evaluation (tests send it to prove that the
TLS-only statement denies such requests). A statement's aws:SecureTransport condition under
`Bool` or `BoolIfExists` is evaluated against that value, and the rest of the statement is
left to moto. moto evaluates bucket policies only for object requests; for a request
marked plain HTTP the launcher also evaluates the bucket's policy for bucket-level
operations (s3:ListBucket and the others, on the bucket's ARN), as S3 does.

moto's CloudFront drops `OriginAccessControlId` and `S3OriginConfig` from a distribution's
origins (on create and on update alike), so a distribution created with an Origin Access
Control reads back as if it had none, and cattube would report "OAC detached" forever. The
launcher keeps both fields on the origin, as CloudFront does. What moto still cannot check
(an OAC in use refusing deletion, disable-before-delete, ETags) is covered by cattube's
aws-smithy-mocks tests.

For a bucket without event notifications moto answers
GetBucketNotificationConfiguration with an empty <GetBucketNotificationResponse/>, which no
SDK parses; S3 answers an empty <NotificationConfiguration/>, and so does this launcher.

moto answers GetBucketVersioning with a <GetBucketVersioningResponse> root, which no SDK
parses; S3 answers <VersioningConfiguration> (with no <Status> for a bucket whose
versioning was never turned on), and so does this launcher.

moto enforces If-Match and If-None-Match: * on PutObject (412 PreconditionFailed) and
If-Match on DeleteObject as S3 does, but checks and writes in two steps on its request
threads: this launcher makes PutObject atomic (see below). What it cannot produce (409
ConditionalRequestConflict for two conditional writes at once) the tests inject through
the proxy.

moto's Lambda answers GetFunction with a code Location on AWS's own host, which nothing on
loopback can fetch; Lambda's is a presigned URL that a plain GET downloads. This launcher
answers a Location on its own address, /_cattube/lambda-code/<account>/<region>/<function
ARN>, and serves the zip there. moto's PublishVersion also shares the code's record between
the version and $LATEST (a shallow copy), so a later UpdateFunctionCode changed the
version's code too; Lambda's versions are immutable, and so are this launcher's.

moto stores whatever a POST Object (a browser-based upload) carries, checking neither its
signature nor its policy; S3 refuses a form whose signature, expiry or conditions fail.
tests/support/s3_post_policy.py (imported here) makes moto check them as S3 does, so an
upload grant's tests prove what the grant allows and refuses.

moto's CORS preflight refuses an origin as soon as one rule does not list it, merges the
headers of every rule and never checks the requested method or headers; S3 uses the first
rule that matches origin, method and headers. tests/support/s3_cors.py (imported here)
answers as S3 does.

Usage: python tests/support/moto_server.py -H 127.0.0.1 -p PORT
"""

import contextvars
import os
import threading

# moto's server answers every request with Access-Control-Allow-Origin for any origin
# (flask-cors); S3 sends CORS headers only as the bucket's CORS rules say (s3_cors.py).
os.environ.setdefault("MOTO_DISABLE_GLOBAL_CORS", "true")

from moto.iam.access_control import IAMPolicyStatement, PermissionResult
from moto.s3.exceptions import S3AccessDeniedError
from moto.s3.responses import S3Response
from moto.server import main

SECURE_TRANSPORT_HEADER = "x-cattube-test-secure-transport"
# Whether the request being answered came over TLS (see the docstring): set per request.
_secure_transport = contextvars.ContextVar("secure_transport", default=True)

_setup_class = S3Response.setup_class


def _setup_class_noting_transport(self, request, full_url=None, headers=None):
    plain = (request.headers.get(SECURE_TRANSPORT_HEADER) or "").lower() == "false"
    _secure_transport.set(not plain)
    return _setup_class(self, request, full_url, headers)


S3Response.setup_class = _setup_class_noting_transport

_is_action_permitted = IAMPolicyStatement.is_action_permitted


def _matches(wanted, secure):
    values = wanted if isinstance(wanted, list) else [wanted]
    return any(str(v).lower() == str(secure).lower() for v in values)


def _secure_transport_aware(self, action, resource="*", principal=None, incoming_condition_values=None):
    condition = self._statement.get("Condition") or {}
    rest = {}
    for operator, keys in condition.items():
        if operator in ("Bool", "BoolIfExists") and "aws:SecureTransport" in keys:
            if not _matches(keys["aws:SecureTransport"], _secure_transport.get()):
                # The condition is false for this request: the statement does not apply.
                return PermissionResult.NEUTRAL
            keys = {k: v for k, v in keys.items() if k != "aws:SecureTransport"}
        if keys:
            rest[operator] = keys
    if rest == condition:
        return _is_action_permitted(self, action, resource, principal, incoming_condition_values)
    statement = {k: v for k, v in self._statement.items() if k != "Condition"}
    if rest:
        statement["Condition"] = rest
    return _is_action_permitted(
        IAMPolicyStatement(statement), action, resource, principal, incoming_condition_values
    )


IAMPolicyStatement.is_action_permitted = _secure_transport_aware

_authorize_s3 = S3Response._authenticate_and_authorize_s3_action


def _authorize_s3_with_bucket_policy(self, bucket_name=None, key_name=None):
    if bucket_name and not key_name and not _secure_transport.get():
        try:
            bucket = self.backend.get_bucket(bucket_name)
        except Exception:  # noqa: BLE001 - no such bucket (yet): moto answers as it would
            bucket = None
        action = self.data.get("Action")
        if bucket is not None and action:
            resource = f"arn:{bucket.partition}:s3:::{bucket_name}"
            if bucket.get_permission(f"s3:{action}", resource) == PermissionResult.DENIED:
                raise S3AccessDeniedError()
    return _authorize_s3(self, bucket_name=bucket_name, key_name=key_name)


S3Response._authenticate_and_authorize_s3_action = _authorize_s3_with_bucket_policy


from moto.cloudfront import models as _cloudfront  # noqa: E402

_origin_init = _cloudfront.Origin.__init__


def _origin_keeping_oac(self, origin):
    _origin_init(self, origin)
    # Serialised by moto under the API's member names (OriginAccessControlId, S3OriginConfig).
    self.origin_access_control_id = origin.get("OriginAccessControlId") or ""
    if "S3OriginConfig" in origin:
        self.s3_origin_config = {
            "OriginAccessIdentity": origin["S3OriginConfig"].get("OriginAccessIdentity") or ""
        }


_cloudfront.Origin.__init__ = _origin_keeping_oac

_get_bucket_notification = S3Response.get_bucket_notification
_EMPTY_NOTIFICATION = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<NotificationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>'
)


def _get_bucket_notification_like_s3(self):
    if not self.backend.get_bucket_notification_configuration(self.bucket_name):
        return 200, {"Content-Type": "application/xml"}, _EMPTY_NOTIFICATION
    return _get_bucket_notification(self)


S3Response.get_bucket_notification = _get_bucket_notification_like_s3

def _get_bucket_versioning_like_s3(self):
    status = self.backend.get_bucket_versioning(self.bucket_name)
    inner = f"<Status>{status}</Status>" if status else ""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        f"{inner}</VersioningConfiguration>"
    )
    return 200, {"Content-Type": "application/xml"}, body


S3Response.get_bucket_versioning = _get_bucket_versioning_like_s3

# moto checks PutObject's If-Match / If-None-Match and then stores the object as two
# steps, with no lock between them, and its server answers requests on threads: two
# conditional writes of one key at once can both pass the check, and one overwrites the
# other (found by lambda-artifact/tests/test_catalog.py's 50 concurrent catalog updates,
# which lost 2 entries). S3 evaluates the condition and writes atomically, so this
# launcher serialises PutObject.
_put_object = S3Response.put_object
_put_object_lock = threading.Lock()


def _put_object_atomically(self):
    with _put_object_lock:
        return _put_object(self)


S3Response.put_object = _put_object_atomically

import copy  # noqa: E402
import sys  # noqa: E402
from urllib.parse import quote, unquote  # noqa: E402

from moto.awslambda import models as _awslambda  # noqa: E402
from moto.moto_server.werkzeug_app import DomainDispatcherApplication  # noqa: E402

_CODE_PATH = "/_cattube/lambda-code/"


def _own_address():
    args = sys.argv[1:]
    host = args[args.index("-H") + 1] if "-H" in args else "127.0.0.1"
    port = args[args.index("-p") + 1] if "-p" in args else "5000"
    return f"http://{host}:{port}"


_get_code = _awslambda.LambdaFunction.get_code


def _get_code_served_here(self):
    resp = _get_code(self)
    if "Location" in resp.get("Code", {}):
        resp["Code"]["Location"] = (
            f"{_own_address()}{_CODE_PATH}{self.account_id}/{self.region}/"
            f"{quote(self.function_arn, safe='')}"
        )
    return resp


_awslambda.LambdaFunction.get_code = _get_code_served_here

_publish_version = _awslambda.LambdaStorage.publish_version


def _publish_immutable_version(self, name_or_arn, description=""):
    fn = _publish_version(self, name_or_arn, description)
    if fn is not None:
        fn.code = copy.deepcopy(fn.code)
    return fn


_awslambda.LambdaStorage.publish_version = _publish_immutable_version

_dispatch = DomainDispatcherApplication.__call__


def _dispatch_serving_code(self, environ, start_response):
    path = environ.get("PATH_INFO", "")
    if not path.startswith(_CODE_PATH):
        return _dispatch(self, environ, start_response)
    account, region, arn = path[len(_CODE_PATH):].split("/", 2)
    storage = _awslambda.lambda_backends[account][region]._lambdas
    fn = storage.get_function_by_name_or_arn_with_qualifier(unquote(arn))
    start_response("200 OK", [("Content-Type", "application/zip")])
    return [fn.code_bytes]


DomainDispatcherApplication.__call__ = _dispatch_serving_code

import s3_post_policy  # noqa: E402,F401  (applies the POST policy checks)
import s3_cors  # noqa: E402,F401  (S3's CORS evaluation)

if __name__ == "__main__":
    main()
