"""S3's CORS evaluation, as AWS documents it ("How does Amazon S3 evaluate the CORS
configuration on a bucket?", "Troubleshooting CORS").

moto 5.2 differs: its preflight (OPTIONS) walks every rule and answers 403 as soon as one
rule's origins do not match the request's (so a bucket with two rules refuses the second
rule's origin), otherwise merges the headers of all rules, and never checks the requested
method or headers. S3 uses the **first** rule whose AllowedOrigins match the Origin (exactly,
or through its one `*`), whose AllowedMethods hold Access-Control-Request-Method, and whose
AllowedHeaders match every header of Access-Control-Request-Headers (case-insensitively,
`*` as a wildcard); without one it answers 403 "CORSResponse: This CORS request is not
allowed…". The answer names that rule's methods, the requested headers, its ExposeHeaders
and MaxAgeSeconds. An actual request with an Origin gets the matching rule's headers too
(moto already adds them to object answers; POST Object gets them here).
"""

from __future__ import annotations

import re
import uuid

from moto.s3.exceptions import MissingBucket
from moto.s3.responses import S3Response


def _glob(pattern: str, text: str) -> bool:
    return re.fullmatch(".*".join(re.escape(p) for p in pattern.split("*")), text, re.IGNORECASE) is not None


def _origin_allowed(origin: str, allowed: list[str]) -> bool:
    return any(a == "*" or a == origin or ("*" in a and _glob(a, origin)) for a in allowed)


def matching_rule(rules, origin: str, method: str, headers: list[str]):
    for rule in rules or []:
        if not _origin_allowed(origin, rule.allowed_origins or []):
            continue
        if method not in (rule.allowed_methods or []):
            continue
        allowed = rule.allowed_headers or []
        if all(any(_glob(a, h) for a in allowed) for h in headers):
            return rule
    return None


def _forbidden(message: str):
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessForbidden</Code>'
            f"<Message>{message}</Message><RequestId>{uuid.uuid4().hex[:16].upper()}</RequestId></Error>")
    return 403, {"Content-Type": "application/xml"}, body


def _headers(rule, origin: str, requested: list[str] | None) -> dict[str, str]:
    wildcard = "*" in (rule.allowed_origins or [])
    out = {
        "Access-Control-Allow-Origin": "*" if wildcard else origin,
        "Access-Control-Allow-Methods": ", ".join(rule.allowed_methods),
        "Vary": "Origin, Access-Control-Request-Headers, Access-Control-Request-Method",
    }
    if not wildcard:
        out["Access-Control-Allow-Credentials"] = "true"
    if requested:
        out["Access-Control-Allow-Headers"] = ", ".join(requested)
    if rule.exposed_headers:
        exposed = rule.exposed_headers
        out["Access-Control-Expose-Headers"] = ", ".join(exposed if isinstance(exposed, list) else [exposed])
    if rule.max_age_seconds is not None:
        out["Access-Control-Max-Age"] = str(rule.max_age_seconds)
    return out


def _preflight(self, headers, bucket_name):
    try:
        bucket = self.backend.head_bucket(bucket_name)
    except MissingBucket:
        return 403, {}, ""
    origin = headers.get("Origin")
    method = headers.get("Access-Control-Request-Method")
    if not origin or not method:
        return 400, {}, "Insufficient information. Origin request header needed."
    if not bucket.cors:
        return _forbidden("CORSResponse: CORS is not enabled for this bucket.")
    requested = [h.strip().lower() for h in (headers.get("Access-Control-Request-Headers") or "").split(",")
                 if h.strip()]
    rule = matching_rule(bucket.cors, origin, method, requested)
    if rule is None:
        return _forbidden("CORSResponse: This CORS request is not allowed. This is usually because the "
                          "evalution of Origin, request method / Access-Control-Request-Method or "
                          "Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.")
    return 200, _headers(rule, origin, requested), ""


def _actual(self):
    origin = self.headers.get("Origin")
    if not origin:
        return {}
    try:
        bucket = self.backend.get_bucket(self.bucket_name)
    except Exception:  # noqa: BLE001 - no bucket: no CORS headers
        return {}
    rule = matching_rule(bucket.cors, origin, self.method, [])
    return _headers(rule, origin, None) if rule is not None else {}


S3Response._response_options = _preflight
S3Response._get_cors_headers_other = _actual
