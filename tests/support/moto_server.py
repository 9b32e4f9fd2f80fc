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

moto applies a bucket-policy statement whatever its Principal names unless it is a bare
string, so a Deny to `{"Service": "cloudfront.amazonaws.com"}` (the destination bucket's
statement keeping the converter's claims from CloudFront) denied every caller, the account
owner and the converter role included: a retried invocation could write its claim but not
read it back (GetObject 403). On AWS a statement binds only the principals it names, and a
request signed with an access key (or unsigned) is never an AWS service principal. This
launcher leaves out of moto's evaluation every statement whose Principal names only
services (the local cloud evaluates CloudFront's reads itself, with tests/iam/iam_check.py).

moto's CloudFront drops `OriginAccessControlId` and `S3OriginConfig` from a distribution's
origins (on create and on update alike), so a distribution created with an Origin Access
Control reads back as if it had none, and cattube would report "OAC detached" forever. The
launcher keeps both fields on the origin, as CloudFront does, and refuses to delete an OAC
that a distribution's origin still uses (409 OriginAccessControlInUse, as CloudFront does;
moto deletes it). What moto still cannot check (disable-before-delete, ETags) is covered by
cattube's aws-smithy-mocks tests.

moto's Service Quotas has no ListServiceQuotas (cattube's quota check asks it for an
applied value once an account reaches a CloudFront quota's default). The launcher answers
it as AWS does for an account with no applied value it can retrieve: an empty list. A test
that needs a raised quota answers the call through the proxy (`AwsErrorReply::json_ok`).

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

moto's PutFunctionEventInvokeConfig appends a configuration and GetFunctionEventInvokeConfig
answers the first, so a changed on-failure destination read back as the old one forever;
Lambda's Put replaces the function's configuration, and so does this launcher's. moto also
stores any destination; Lambda checks, when it is written, that the function's execution
role may send to it (sqs:SendMessage, sns:Publish, lambda:InvokeFunction, events:PutEvents,
s3:PutObject and s3:ListBucket) and otherwise answers InvalidParameterValueException "The
destination ARN ... is invalid." (the AWS provider's documentation quotes it). This
launcher checks the role's identity policies the same way.

moto stores whatever a POST Object (a browser-based upload) carries, checking neither its
signature nor its policy; S3 refuses a form whose signature, expiry or conditions fail.
tests/support/s3_post_policy.py (imported here) makes moto check them as S3 does, so an
upload grant's tests prove what the grant allows and refuses.

moto's CORS preflight refuses an origin as soon as one rule does not list it, merges the
headers of every rule and never checks the requested method or headers; S3 uses the first
rule that matches origin, method and headers. tests/support/s3_cors.py (imported here)
answers as S3 does.

moto takes a presigned URL (SigV4 in the query string) without checking its signature,
signed headers or expiry; S3 refuses one whose signature does not match the request it
received (so a part of another length than its URL signs) or that has expired.
tests/support/s3_presigned.py (imported here) checks them as S3 does.

moto's ACM issues a DNS-validated certificate 60 seconds after the request whether or not
its validation records exist; ACM issues it only once every validation CNAME resolves. This
launcher issues a pending certificate when each of its validation records is, with ACM's
value, a CNAME in a public Route 53 hosted zone of the emulator, or was published through
the test-only path POST /_cattube/public-dns/<name> (body: the value), which stands for a
DNS provider outside Route 53. moto's DeleteCertificate deletes a certificate a
distribution still serves; ACM refuses (ResourceInUseException), and so does this launcher.
moto's CloudFront takes any ViewerCertificate and any alternate domain name; CloudFront
refuses a certificate that is not issued, not in us-east-1 or not covering every alias
(InvalidViewerCertificate), and an alias another distribution has (CNAMEAlreadyExists), and
so does this launcher.

moto lacks UpdateKeyGroup and DeleteKeyGroup, deletes a public key a key group still lists
and drops their comments; tests/support/cloudfront_keys.py (imported here) answers as
CloudFront does (If-Match, PublicKeyInUse, ResourceInUse, NoSuchPublicKey).

moto's UpdateFunctionCode ignores `Architectures`; Lambda changes the function's
architecture with the new code, and so does this launcher.

moto knows AWS's managed policies (AmazonS3FullAccess, AWSElementalMediaConvertFullAccess…)
only when asked to load all of them up front (about 3 s per account); every AWS account has
them, and the console tutorial's roles attach them: this launcher loads each from moto's
copy of AWS's list when GetPolicy or AttachRolePolicy first names it.

Usage: python tests/support/moto_server.py -H 127.0.0.1 -p PORT
"""

import contextvars
import os
import json
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


from moto.iam.access_control import IAMPolicy  # noqa: E402
from moto.s3.models import FakeBucket  # noqa: E402


def _binds_a_caller(statement) -> bool:
    """Whether a request moto answers (signed with an access key, or anonymous) can be the
    statement's principal: not when it names AWS services only."""
    principal = statement.get("Principal")
    return not isinstance(principal, dict) or "AWS" in principal or "CanonicalUser" in principal


def _get_permission_of_callers(self, action, resource):
    if self.policy is None:
        return PermissionResult.NEUTRAL
    policy = json.loads(self.policy)
    statements = policy.get("Statement")
    statements = [s for s in (statements if isinstance(statements, list) else [statements]) if _binds_a_caller(s)]
    if not statements:
        return PermissionResult.NEUTRAL
    return IAMPolicy(json.dumps({**policy, "Statement": statements})).is_action_permitted(action, resource)


FakeBucket.get_permission = _get_permission_of_callers


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
from moto.iam import models as _iam  # noqa: E402

_CODE_PATH = "/_cattube/lambda-code/"


# Where this moto answers, when it runs inside another server (local/cloud.py sets it);
# otherwise taken from the command line.
OWN_ADDRESS = None


def _own_address():
    if OWN_ADDRESS:
        return OWN_ADDRESS
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

_aws_managed = None


def _load_aws_managed_policy(backend, arn):
    """Adds AWS's managed policy `arn` to the account, as AWS has it, when first named."""
    global _aws_managed
    if arn in backend.managed_policies or not arn.startswith("arn:aws:iam::aws:policy/"):
        return
    if _aws_managed is None:
        _aws_managed = json.loads(_iam.aws_managed_policies_data)
    name = arn.rsplit("/", 1)[-1]
    if name in _aws_managed:
        policy = _iam.AWSManagedPolicy.from_data(
            name, backend.account_id, backend.region_name, _aws_managed[name]
        )
        if policy.arn == arn:
            backend.managed_policies[arn] = policy


def _naming_aws_managed(method):
    def wrapper(self, policy_arn, *args, **kwargs):
        _load_aws_managed_policy(self, policy_arn)
        return method(self, policy_arn, *args, **kwargs)

    return wrapper


_iam.IAMBackend.get_policy = _naming_aws_managed(_iam.IAMBackend.get_policy)
_iam.IAMBackend.attach_role_policy = _naming_aws_managed(_iam.IAMBackend.attach_role_policy)

_update_function_code = _awslambda.LambdaFunction.update_function_code


def _update_function_code_and_architecture(self, updated_spec):
    if updated_spec.get("Architectures"):
        self.architectures = updated_spec["Architectures"]
    return _update_function_code(self, updated_spec)


_awslambda.LambdaFunction.update_function_code = _update_function_code_and_architecture

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

_put_event_invoke_config = _awslambda.LambdaBackend.put_function_event_invoke_config


# What a function's role must be allowed to do for Lambda to accept a destination: the
# actions AWS's Lambda guide lists per destination type, on the destination's ARN (an S3
# bucket's objects for PutObject).
_DESTINATION_ACTIONS = {
    "sqs": [("sqs:SendMessage", "")],
    "sns": [("sns:Publish", "")],
    "lambda": [("lambda:InvokeFunction", "")],
    "events": [("events:PutEvents", "")],
    "s3": [("s3:PutObject", "/*"), ("s3:ListBucket", "")],
}


def _role_documents(role):
    documents = list(role.policies.values())
    for policy in role.managed_policies.values():
        documents += [v.document for v in policy.versions if v.is_default_version]
    return documents


def _role_reaches(backend, function, destination) -> bool:
    """Whether the function's execution role may send to `destination`, as Lambda checks
    when the destination is written (identity policies only: what moto keeps)."""
    from moto.iam.exceptions import NotFoundException
    from moto.iam.models import iam_backends

    try:
        role = iam_backends[backend.account_id][backend.partition].get_role_by_arn(function.role)
    except NotFoundException:
        return False
    service = destination.split(":")[2] if destination.count(":") >= 2 else ""
    needed = _DESTINATION_ACTIONS.get(service)
    if not needed:
        return False
    documents = [IAMPolicy(d) for d in _role_documents(role)]
    for action, suffix in needed:
        results = [p.is_action_permitted(action, destination + suffix) for p in documents]
        if PermissionResult.DENIED in results or PermissionResult.PERMITTED not in results:
            return False
    return True


def _put_event_invoke_config_replacing(self, function_name, config):
    function = self.get_function(function_name)
    destinations = (config.get("DestinationConfig") or {}).values()
    for destination in (d.get("Destination") for d in destinations if d.get("Destination")):
        if not _role_reaches(self, function, destination):
            raise _awslambda.InvalidParameterValueException(
                f"The destination ARN {destination} is invalid."
            )
    function.event_invoke_config = []
    return _put_event_invoke_config(self, function_name, config)


_awslambda.LambdaBackend.put_function_event_invoke_config = _put_event_invoke_config_replacing
import s3_post_policy  # noqa: E402,F401  (applies the POST policy checks)
import s3_cors  # noqa: E402,F401  (S3's CORS evaluation)
import s3_presigned  # noqa: E402,F401  (presigned URLs' signature, signed headers, expiry)
import cloudfront_keys  # noqa: E402,F401  (CloudFront key groups and public keys)
# ---- ACM issues only what DNS validates; CloudFront checks certificates and aliases ----
from moto.acm import models as _acm  # noqa: E402
from moto.cloudfront.exceptions import CloudFrontException  # noqa: E402
from moto.core.exceptions import JsonRESTError  # noqa: E402
from moto.route53 import models as _route53  # noqa: E402

_PUBLIC_DNS_PATH = "/_cattube/public-dns/"
# name (lowercase, final dot) -> CNAME value, as published outside Route 53 by a test.
_public_dns = {}


def _fqdn(name):
    return name.rstrip(".").lower() + "."


def _resolves(name, value):
    want = _fqdn(value)
    if _public_dns.get(_fqdn(name)) is not None:
        return _fqdn(_public_dns[_fqdn(name)]) == want
    for partitions in _route53.route53_backends.values():
        for backend in partitions.values():
            for zone in backend.zones.values():
                if zone.private_zone:
                    continue
                for rrset in zone.rrsets:
                    if rrset.type == "CNAME" and _fqdn(rrset.name) == _fqdn(name):
                        if any(_fqdn(v) == want for v in rrset.records):
                            return True
    return False


_cert_check = _acm.CertBundle.check


def _check_issuing_when_dns_validates(self):
    if self.type == "AMAZON_ISSUED" and self.status == "PENDING_VALIDATION":
        options = self.describe()["Certificate"].get("DomainValidationOptions", [])
        records = [o["ResourceRecord"] for o in options if "ResourceRecord" in o]
        if records and all(_resolves(r["Name"], r["Value"]) for r in records):
            self.status = "ISSUED"
        return
    _cert_check(self)


_acm.CertBundle.check = _check_issuing_when_dns_validates


def _distributions():
    for partitions in _cloudfront.cloudfront_backends.values():
        for backend in partitions.values():
            yield from backend.distributions.values()


class _InUse(JsonRESTError):
    def __init__(self, arn):
        super().__init__(
            "ResourceInUseException", f"Certificate {arn} is in use by CloudFront."
        )


_delete_certificate = _acm.AWSCertificateManagerBackend.delete_certificate


def _delete_certificate_not_in_use(self, arn):
    for dist in _distributions():
        viewer = getattr(dist.distribution_config, "ViewerCertificate", None)
        if viewer is not None and viewer.acm_certificate_arn == arn:
            raise _InUse(arn)
    return _delete_certificate(self, arn)


_acm.AWSCertificateManagerBackend.delete_certificate = _delete_certificate_not_in_use


_delete_origin_access_control = _cloudfront.CloudFrontBackend.delete_origin_access_control


def _delete_origin_access_control_not_in_use(self, control_id):
    # CloudFront refuses to delete an OAC that a distribution's origin still uses (409
    # OriginAccessControlInUse); moto deletes it. The shared OAC's `down` relies on it.
    for dist in _distributions():
        origins = getattr(dist.distribution_config, "Origins", {}).get("Items") or []
        if any(getattr(o, "origin_access_control_id", "") == control_id for o in origins):
            raise CloudFrontException(
                "OriginAccessControlInUse",
                "Cannot delete this origin access control because it's in use by one or more origins.",
            )
    return _delete_origin_access_control(self, control_id)


_cloudfront.CloudFrontBackend.delete_origin_access_control = (
    _delete_origin_access_control_not_in_use
)


def _alias_list(aliases):
    """The names of an Aliases element as the XML parser left it."""
    items = (aliases or {}).get("Items") or []
    if isinstance(items, dict):
        items = items.get("CNAME") or []
    if isinstance(items, str):
        items = [items]
    return [a.lower() for a in items]


def _check_viewer(backend, config, own_id=None):
    aliases = _alias_list(config.get("Aliases"))
    viewer = config.get("ViewerCertificate") or {}
    arn = viewer.get("ACMCertificateArn") or ""
    for dist in _distributions():
        if dist.distribution_id == own_id:
            continue
        theirs = _alias_list(getattr(dist.distribution_config, "Aliases", None))
        taken = sorted(set(aliases) & set(theirs))
        if taken:
            raise CloudFrontException(
                "CNAMEAlreadyExists",
                f"One or more of the CNAMEs you provided are already associated with a different resource: {', '.join(taken)}",
            )
    if not arn:
        if aliases:
            raise CloudFrontException(
                "InvalidViewerCertificate",
                "To add an alternate domain name (CNAME) to a CloudFront distribution, you must attach a trusted certificate that validates your authorization to use the domain name.",
            )
        return
    parts = arn.split(":")
    bundle = None
    if len(parts) > 4 and parts[3] == "us-east-1":
        acm = _acm.acm_backends[parts[4]]["us-east-1"]
        bundle = acm._certificates.get(arn)
    if bundle is not None:
        bundle.check()
    covered = set()
    if bundle is not None:
        covered = {n.lower() for n in bundle.sans} | {(bundle.common_name or "").lower()}
    def covers(name):
        return name in covered or any(
            c.startswith("*.") and name.split(".", 1)[-1] == c[2:] for c in covered
        )
    if bundle is None or bundle.status != "ISSUED" or not all(covers(a) for a in aliases):
        raise CloudFrontException(
            "InvalidViewerCertificate",
            "The specified SSL certificate doesn't exist, isn't in us-east-1 region, isn't valid, or doesn't include a valid certificate chain.",
        )


_create_with_tags = _cloudfront.CloudFrontBackend.create_distribution_with_tags
_update_distribution = _cloudfront.CloudFrontBackend.update_distribution


def _create_checking_viewer(self, distribution_config, tags):
    _check_viewer(self, distribution_config)
    return _create_with_tags(self, distribution_config, tags)


def _update_checking_viewer(self, dist_config, _id, if_match):
    if dist_config:
        _check_viewer(self, dist_config, own_id=_id)
    return _update_distribution(self, dist_config, _id, if_match)


_cloudfront.CloudFrontBackend.create_distribution_with_tags = _create_checking_viewer
_cloudfront.CloudFrontBackend.update_distribution = _update_checking_viewer

_dispatch_before_dns = DomainDispatcherApplication.__call__


def _dispatch_public_dns(self, environ, start_response):
    path = environ.get("PATH_INFO", "")
    if not path.startswith(_PUBLIC_DNS_PATH) or environ.get("REQUEST_METHOD") != "POST":
        return _dispatch_before_dns(self, environ, start_response)
    length = int(environ.get("CONTENT_LENGTH") or 0)
    value = environ["wsgi.input"].read(length).decode().strip()
    _public_dns[_fqdn(path[len(_PUBLIC_DNS_PATH):])] = value
    start_response("204 No Content", [])
    return [b""]


DomainDispatcherApplication.__call__ = _dispatch_public_dns

# ---- Service Quotas: ListServiceQuotas, which moto lacks ----
from moto.servicequotas import responses as _servicequotas  # noqa: E402


def _list_no_applied_quotas(self):
    # AWS lists only the quotas whose applied value it can retrieve; moto holds none. A test
    # that needs one (a raised quota) answers this call through the proxy.
    return json.dumps({"Quotas": []})


_servicequotas.ServiceQuotasResponse.list_service_quotas = _list_no_applied_quotas

if __name__ == "__main__":
    main()
