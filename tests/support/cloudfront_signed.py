"""CloudFront's check of a signed URL or signed cookies, written from AWS's documentation
("Create a signed URL using a canned policy" / "... a custom policy", "Set signed cookies
using a custom policy"), independently of cattube's Rust signer: Python's `cryptography`
verifies the RSA-SHA1 (PKCS #1 v1.5) signature.

`check(url, cookies, public_keys, now)` is what CloudFront decides for a request to `url`
(the whole URL as requested, query included) carrying `cookies` (name -> value) on a
behavior that trusts the key groups holding `public_keys` (key id -> PEM): None when it
serves the request, else CloudFront's reason, as its 403 body names it.

- the signature comes from the query string (`Expires` or `Policy`, `Signature`,
  `Key-Pair-Id`) when it has one, else from the cookies (`CloudFront-Expires` or
  `CloudFront-Policy`, `CloudFront-Signature`, `CloudFront-Key-Pair-Id`); none: MissingKey;
- the key must be one of the trusted groups' public keys: else InvalidKey;
- a canned policy is rebuilt from the URL without the signing parameters and `Expires`,
  byte for byte; a custom policy is the base64 `Policy`, with CloudFront's character
  substitutions (`-` for `+`, `_` for `=`, `~` for `/`);
- the signature must verify over that policy: else AccessDenied;
- the policy's Resource (`*` any run of characters, `?` one) must match the URL without the
  signing parameters, and now must be before DateLessThan (and after DateGreaterThan):
  else AccessDenied.

Command line (for tests/private.rs): python cloudfront_signed.py KEYS.json URL [COOKIE-HEADER]
with KEYS.json {"key id": "PEM", ...}; prints "ok" (exit 0) or the reason (exit 1).
"""
from __future__ import annotations

import base64
import json
import re
import sys
import time
import urllib.parse

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

QUERY = ("Expires", "Policy", "Signature", "Key-Pair-Id")
COOKIES = {"Expires": "CloudFront-Expires", "Policy": "CloudFront-Policy",
           "Signature": "CloudFront-Signature", "Key-Pair-Id": "CloudFront-Key-Pair-Id"}


def cloudfront_b64decode(text: str) -> bytes:
    return base64.b64decode(text.replace("-", "+").replace("_", "=").replace("~", "/"), validate=True)


def unsigned_url(url: str) -> str:
    """The URL without the query parameters that sign it (what a policy's Resource names)."""
    parts = urllib.parse.urlsplit(url)
    kept = [(k, v) for k, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True) if k not in QUERY]
    query = urllib.parse.urlencode(kept)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def canned_policy(url: str, expires: int) -> bytes:
    return ('{"Statement":[{"Resource":"%s","Condition":{"DateLessThan":{"AWS:EpochTime":%d}}}]}'
            % (url, expires)).encode()


def resource_matches(resource: str, url: str) -> bool:
    pattern = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in resource)
    return re.fullmatch(pattern, url, flags=re.DOTALL) is not None


def parse_cookie_header(header: str) -> dict[str, str]:
    header = header.split(":", 1)[1] if header.lower().startswith("cookie:") else header
    pairs = (part.strip().split("=", 1) for part in header.split(";") if "=" in part)
    return {name: value for name, value in pairs}


def check(url: str, cookies: dict[str, str], public_keys: dict[str, str], now: float | None = None) -> str | None:
    now = time.time() if now is None else now
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query, keep_blank_values=True))
    if "Signature" in query or "Key-Pair-Id" in query:
        signed = {k: query.get(k) for k in QUERY}
    else:
        signed = {k: cookies.get(name) for k, name in COOKIES.items()}
    if not signed["Signature"] or not signed["Key-Pair-Id"]:
        return "MissingKey"
    pem = public_keys.get(signed["Key-Pair-Id"])
    if pem is None:
        return "InvalidKey"
    base = unsigned_url(url)
    try:
        if signed["Policy"]:
            policy_bytes = cloudfront_b64decode(signed["Policy"])
        elif signed["Expires"]:
            policy_bytes = canned_policy(base, int(signed["Expires"]))
        else:
            return "MalformedPolicy"
        signature = cloudfront_b64decode(signed["Signature"])
    except ValueError:
        return "MalformedPolicy"
    key = serialization.load_pem_public_key(pem.encode())
    try:
        key.verify(signature, policy_bytes, padding.PKCS1v15(), hashes.SHA1())
    except InvalidSignature:
        return "AccessDenied"
    try:
        statement = json.loads(policy_bytes)["Statement"][0]
    except (ValueError, KeyError, IndexError):
        return "MalformedPolicy"
    if not resource_matches(statement.get("Resource", "*"), base):
        return "AccessDenied"
    condition = statement.get("Condition", {})
    less = condition.get("DateLessThan", {}).get("AWS:EpochTime")
    if less is None or now >= less:
        return "AccessDenied"
    greater = condition.get("DateGreaterThan", {}).get("AWS:EpochTime")
    if greater is not None and now <= greater:
        return "AccessDenied"
    return None


def main(argv: list[str]) -> int:
    with open(argv[1]) as f:
        keys = json.load(f)
    cookies = parse_cookie_header(argv[3]) if len(argv) > 3 else {}
    reason = check(argv[2], cookies, keys)
    print(reason or "ok")
    return 0 if reason is None else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
