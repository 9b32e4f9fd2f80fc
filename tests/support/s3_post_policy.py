"""S3's browser-based uploads (POST Object with a signed policy), checked as S3 checks them.

moto 5.2 stores whatever a POST to a bucket carries: it verifies neither the signature nor
the policy, its expiry or its conditions, so an upload grant (`cattube upload-url`) would
prove nothing against it. AWS documents the checks ("Browser-based uploads using POST",
"Creating a POST policy", "Calculating a signature", Amazon S3 API Reference); this module
makes moto's POST Object do them, in this order, with S3's error codes:

1. the form carries `policy`, `x-amz-algorithm` = AWS4-HMAC-SHA256, `x-amz-credential`,
   `x-amz-date` and `x-amz-signature` (otherwise AccessDenied: the cattube buckets block
   public access, so an unsigned POST is anonymous and refused);
2. the credential's access key is known (InvalidAccessKeyId) and the signature is the
   HMAC-SHA256 of the base64 policy with the credential scope's signing key
   (SignatureDoesNotMatch);
3. the policy has not expired ("Invalid according to Policy: Policy expired.");
4. every form field but `policy`, `x-amz-signature`, `file` and `x-ignore-*` is named by
   a condition ("Extra input fields: …");
5. every condition holds: `{"field": value}` and `["eq", "$field", value]` exactly,
   `["starts-with", "$field", prefix]`, `{"bucket": …}` against the bucket
   ("Policy Condition failed: …");
6. `["content-length-range", min, max]` bounds the file's size (EntityTooLarge,
   EntityTooSmall, HTTP 400).

A refused POST stores nothing. Secret keys are looked up in moto's IAM access keys and STS
sessions, then in KNOWN_KEYS: the static keys of the test harness (tests/support/mod.rs
signs with testing/testing) and of the local cloud (local/cloud.py adds its own).
What is not checked: the signer's own permission to s3:PutObject (the local cloud's IAM
enforcement covers requests with an Authorization header only).
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import uuid

from moto.s3.responses import S3Response

# Access key id → secret access key of the static credentials the tests sign with.
KNOWN_KEYS = {"testing": "testing"}

# Form fields no condition needs to name (AWS: "Creating a POST policy").
_EXEMPT = {"policy", "x-amz-signature", "file"}


class Refused(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def response(self):
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{self.code}</Code><Message>{_xml(self.message)}</Message>"
            f"<RequestId>{uuid.uuid4().hex[:16].upper()}</RequestId></Error>"
        )
        return self.status, {"Content-Type": "application/xml"}, body


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _secret(access_key: str) -> str | None:
    try:
        from moto.iam.models import iam_backends
        from moto.sts.models import sts_backends
    except ImportError:  # pragma: no cover
        return KNOWN_KEYS.get(access_key)
    for account in list(iam_backends.keys()):
        backend = iam_backends[account]["global"]
        for user in backend.users.values():
            for key in user.access_keys:
                if key.access_key_id == access_key:
                    return key.secret_access_key
    for account in list(sts_backends.keys()):
        for role in sts_backends[account]["global"].assumed_roles:
            if role.access_key_id == access_key:
                return role.secret_access_key
    return KNOWN_KEYS.get(access_key)


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def signature(secret: str, day: str, region: str, service: str, policy_b64: str) -> str:
    key = _hmac(("AWS4" + secret).encode(), day)
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    return hmac.new(key, policy_b64.encode(), hashlib.sha256).hexdigest()


def _expired(expiration: str, now: datetime.datetime) -> bool:
    text = expiration.replace("Z", "+00:00")
    try:
        at = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise Refused(400, "InvalidPolicyDocument", "Invalid Policy: Invalid 'expiration' value: '" + expiration + "'")
    if at.tzinfo is None:
        at = at.replace(tzinfo=datetime.timezone.utc)
    return at <= now


def check(bucket: str, form: dict[str, str], size: int, now: datetime.datetime | None = None) -> None:
    """Raises Refused unless S3 would accept this POST (form fields by name, the file's size)."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    fields = {name.lower(): value for name, value in form.items()}
    missing = [f for f in ("policy", "x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-signature")
               if f not in fields]
    if missing:
        raise Refused(403, "AccessDenied", "Access Denied")
    if fields["x-amz-algorithm"] != "AWS4-HMAC-SHA256":
        raise Refused(400, "InvalidArgument", "Only AWS4-HMAC-SHA256 is supported")
    try:
        access_key, day, region, service, terminator = fields["x-amz-credential"].split("/")
    except ValueError:
        raise Refused(400, "InvalidArgument", "Invalid credential: " + fields["x-amz-credential"])
    secret = _secret(access_key)
    if secret is None:
        raise Refused(403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.")
    expected = signature(secret, day, region, service, fields["policy"])
    if not hmac.compare_digest(expected, fields["x-amz-signature"]):
        raise Refused(403, "SignatureDoesNotMatch", "The request signature we calculated does not match the "
                      "signature you provided. Check your key and signing method.")
    try:
        policy = json.loads(base64.b64decode(fields["policy"]))
    except ValueError:
        raise Refused(400, "InvalidPolicyDocument", "Invalid Policy: Invalid JSON.")
    if "expiration" not in policy or _expired(policy["expiration"], now):
        raise Refused(403, "AccessDenied", "Invalid according to Policy: Policy expired.")
    named: set[str] = set()
    length_range = None
    for condition in policy.get("conditions", []):
        if isinstance(condition, dict):
            ((name, value),) = condition.items()
            condition = ["eq", "$" + name, value]
        op = str(condition[0]).lower()
        if op == "content-length-range":
            length_range = (int(condition[1]), int(condition[2]))
            continue
        name = str(condition[1]).lstrip("$").lower()
        named.add(name)
        actual = bucket if name == "bucket" else fields.get(name)
        wanted = str(condition[2])
        holds = actual is not None and (actual == wanted if op == "eq" else
                                        actual.startswith(wanted) if op == "starts-with" else False)
        if not holds:
            raise Refused(403, "AccessDenied",
                          "Invalid according to Policy: Policy Condition failed: " + json.dumps(condition))
    extra = [name for name in form if name.lower() not in named and name.lower() not in _EXEMPT
             and not name.lower().startswith("x-ignore-")]
    if extra:
        raise Refused(403, "AccessDenied", "Invalid according to Policy: Extra input fields: " + ", ".join(extra))
    if length_range is not None:
        low, high = length_range
        if size > high:
            raise Refused(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size")
        if size < low:
            raise Refused(400, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size")


_post = S3Response._bucket_response_post


def _post_checking_policy(self, request, bucket_name):
    self.path = self._get_path(request)
    if self.is_delete_keys():
        return _post(self, request, bucket_name)
    form = {name: value for name, value in self.form_data.items() if name != "file"}
    body = self.raw_body if isinstance(self.raw_body, (bytes, bytearray)) else str(self.raw_body or "").encode()
    try:
        check(bucket_name, form, len(body))
    except Refused as refused:
        # S3 adds the matching CORS rule's headers to its refusals too, so a page on an
        # allowed origin can read why its upload was refused.
        status, headers, answer = refused.response()
        return status, {**self._get_cors_headers_other(), **headers}, answer
    status, headers, answer = _post(self, request, bucket_name)
    # A page on an allowed origin reads the answer (S3 adds the CORS rule's headers).
    return status, {**self._get_cors_headers_other(), **headers}, answer


S3Response._bucket_response_post = _post_checking_policy
