"""S3's presigned URLs (SigV4 in the query string), checked as S3 checks them.

moto 5.2 takes a presigned request without checking its signature, its signed headers or
its expiry, so a multipart grant (`cattube upload-url --multipart`: a presigned UploadPart
URL per part, each signing its part's Content-Length, and a presigned
CompleteMultipartUpload) would prove nothing against it. AWS documents the check
("Authenticating Requests: Using Query Parameters (AWS Signature Version 4)", "Signature
Calculations for the Authorization Header", Amazon S3 API Reference): S3 rebuilds the
canonical request from the request it received (method, URI-encoded path, query without
X-Amz-Signature, the values of the headers X-Amz-SignedHeaders names, UNSIGNED-PAYLOAD) and
refuses with 403 SignatureDoesNotMatch when the signature differs, so a signed header
(Content-Length) with another value is refused; a request after X-Amz-Date + X-Amz-Expires
is refused with 403 AccessDenied "Request has expired". This module makes moto's object
requests do that whenever the query carries X-Amz-Signature. Refusals carry the matching
CORS rule's headers, as S3's do, so a page can read them, and so does the answer to an
object POST (CompleteMultipartUpload), which moto sends without them. Secret keys come from
s3_post_policy (moto's IAM and STS keys, then its KNOWN_KEYS).
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from moto.s3.responses import S3Response

import s3_post_policy
from s3_post_policy import Refused


def _encode(text: str, safe: str = "-_.~") -> str:
    return quote(text, safe=safe)


def _signing_key(secret: str, day: str, region: str, service: str) -> bytes:
    key = hmac.new(("AWS4" + secret).encode(), day.encode(), hashlib.sha256).digest()
    for part in (region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def check(method: str, raw_uri: str, headers: dict[str, str], now: datetime.datetime | None = None) -> None:
    """Raises Refused unless S3 would accept this presigned request (`raw_uri` as sent:
    path and query; `headers` by lower-case name)."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    parts = urlsplit(raw_uri)
    query = parse_qsl(parts.query, keep_blank_values=True)
    params = dict(query)
    if params.get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256":
        raise Refused(400, "AuthorizationQueryParametersError", "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"")
    try:
        access_key, day, region, service, _ = params["X-Amz-Credential"].split("/")
        amz_date = params["X-Amz-Date"]
        expires = int(params["X-Amz-Expires"])
        signed_headers = params["X-Amz-SignedHeaders"]
        given = params["X-Amz-Signature"]
    except (KeyError, ValueError):
        raise Refused(400, "AuthorizationQueryParametersError",
                      "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, "
                      "X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.")
    signed_at = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
    if now > signed_at + datetime.timedelta(seconds=expires):
        raise Refused(403, "AccessDenied", "Request has expired")
    secret = s3_post_policy._secret(access_key)
    if secret is None:
        raise Refused(403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.")
    canonical_query = "&".join(
        f"{_encode(k)}={_encode(v)}" for k, v in sorted(query) if k != "X-Amz-Signature")
    names = signed_headers.split(";")
    canonical_headers = "".join(f"{name}:{' '.join(headers.get(name, '').split())}\n" for name in names)
    path = _encode(unquote(parts.path), safe="/-_.~")
    canonical = "\n".join([method, path, canonical_query, canonical_headers, signed_headers,
                           headers.get("x-amz-content-sha256", "UNSIGNED-PAYLOAD")])
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    expected = hmac.new(_signing_key(secret, day, region, service), to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, given):
        raise Refused(403, "SignatureDoesNotMatch", "The request signature we calculated does not match the "
                      "signature you provided. Check your key and signing method.")


_key_response = S3Response._key_response


def _key_response_checking_signature(self, request, full_url):
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") if hasattr(request, "environ") else None
    raw = raw or full_url
    if "X-Amz-Signature=" in raw:
        headers = {name.lower(): value for name, value in request.headers.items()}
        if request.method in ("PUT", "POST") and "content-length" not in headers:
            headers["content-length"] = str(len(self.body or b""))
        try:
            check(request.method, raw, headers)
        except Refused as refused:
            status, out, body = refused.response()
            return status, {**self._get_cors_headers_other(), **out}, body
    return _key_response(self, request, full_url)


_key_response_public = S3Response.key_response


def _key_response_with_cors(self, request, full_url, headers):
    status, out, body = _key_response_public(self, request, full_url, headers)
    # moto adds no CORS headers to an object POST's answer (CompleteMultipartUpload); S3
    # adds the matching rule's to every answer to a cross-origin request.
    if request.method == "POST":
        out = {**self._get_cors_headers_other(), **out}
    return status, out, body


S3Response._key_response = _key_response_checking_signature
S3Response.key_response = _key_response_with_cors
