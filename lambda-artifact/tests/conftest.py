"""Hermetic test setup for the converter function: fake credentials, a fixed
region, the function's environment, no network, and a MediaConvert client
wrapped in botocore's Stubber (every request is validated against the real
MediaConvert API model shipped with botocore)."""

from __future__ import annotations

import hashlib
import json
import socket
import sys
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.stub import Stubber

TESTS_DIR = Path(__file__).resolve().parent
ARTIFACT_DIR = TESTS_DIR.parent
for path in (str(ARTIFACT_DIR), str(TESTS_DIR)):
    if path not in sys.path:
        sys.path.insert(0, path)

# Keep lambda-artifact/ free of __pycache__ (cattube zips the function code).
sys.dont_write_bytecode = True

import handler  # noqa: E402
from cattube_test_env import FUNCTION_ENV, REGION  # noqa: E402


@pytest.fixture(autouse=True)
def aws_env(monkeypatch, tmp_path):
    """Fake credentials and region; nothing read from ~/.aws; no endpoint overrides."""
    for name in (
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_MEDIACONVERT",
        "AWS_USE_FIPS_ENDPOINT",
        "AWS_USE_DUALSTACK_ENDPOINT",
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name, value in FUNCTION_ENV.items():
        monkeypatch.setenv(name, value)
    # No test may reuse a client another test created.
    monkeypatch.setattr(handler, "_CLIENT", None)


def pytest_configure(config):
    config.addinivalue_line("markers", "loopback: may talk to a local emulator on 127.0.0.1 only")


@pytest.fixture(autouse=True)
def no_network(request, monkeypatch):
    if request.node.get_closest_marker("loopback"):
        connect = socket.socket.connect

        def loopback_only(sock, address):
            if not (isinstance(address, tuple) and address[0] in ("127.0.0.1", "::1")):
                raise RuntimeError(f"network access to {address!r} attempted in a loopback test")
            return connect(sock, address)

        monkeypatch.setattr(socket.socket, "connect", loopback_only)
        return

    def refuse(*args, **kwargs):
        raise RuntimeError("network access attempted in a hermetic test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture
def mediaconvert_client():
    """A real botocore MediaConvert client (regional endpoint, fake credentials)."""
    return boto3.client("mediaconvert", region_name=REGION)


@pytest.fixture
def stubber(monkeypatch, mediaconvert_client):
    """The client the handler uses, stubbed. Unexpected calls fail
    (Stubber raises on a call with no queued response) and so do queued
    responses that were never consumed."""
    stub = Stubber(mediaconvert_client)
    monkeypatch.setattr(handler, "_CLIENT", mediaconvert_client)
    with stub:
        yield stub
        stub.assert_no_pending_responses()


class FakeS3:
    """The few S3 object calls the claims use (PutObject with If-None-Match /
    If-Match, GetObject, DeleteObject), answered in memory at the HTTP layer of
    a real botocore S3 client: botocore validates each request against the S3
    model and parses each answer (S3's own REST-XML errors) as it would AWS's.
    `fail` maps an operation name to an (HTTP status, S3 error code) to answer
    instead, once; `denied_get` holds keys whose GetObject is denied (403) even when
    they exist.

    A missing key's GetObject answers as AWS answers the converter role, which may not
    s3:ListBucket the destination: 403 AccessDenied ("If you don't have the s3:ListBucket
    permission, Amazon S3 returns an HTTP status code 403", GetObject, S3 API Reference).
    `may_list = True` gives the 404 NoSuchKey a caller with s3:ListBucket gets."""

    def __init__(self):
        self.objects: dict[str, tuple[bytes, str]] = {}  # key -> (body, etag)
        self.calls: list[tuple[str, str]] = []  # (operation, key)
        self.fail: dict[str, tuple[int, str]] = {}
        self.denied_get: set[str] = set()
        self.may_list = False
        self.tags: dict[str, list[tuple[str, str]]] = {}  # key -> the object's tag set
        self.ranges: list[tuple[str, str]] = []  # (key, Range) of each ranged GetObject
        # Plain bodies (no aws-chunked checksum trailers) keep the fake simple.
        self.client = boto3.client("s3", region_name=REGION,
                                   config=Config(request_checksum_calculation="when_required"))
        self.client.meta.events.register("before-send.s3", self._send)
        self._count = 0

    def _answer(self, request, status, headers=None, body=b""):
        from botocore.awsrequest import AWSResponse

        class Raw:
            def __init__(self, data):
                self._data = data

            def stream(self, **_):
                yield self._data

            def read(self, *_):
                data, self._data = self._data, b""
                return data

        return AWSResponse(request.url, status, {"content-length": str(len(body)), **(headers or {})}, Raw(body))

    def _error(self, request, status, code):
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
                f"<Message>{code}</Message><RequestId>FAKE</RequestId></Error>").encode()
        return self._answer(request, status, {"content-type": "application/xml"}, body)

    def _send(self, request, **_):
        import urllib.parse

        url = urllib.parse.urlsplit(request.url)
        path = urllib.parse.unquote(url.path.lstrip("/"))
        # Virtual-hosted style (the bucket in the host name) unless the host is S3's own.
        key = path.split("/", 1)[1] if url.hostname.startswith("s3.") else path
        operation = {"PUT": "PutObject", "GET": "GetObject", "DELETE": "DeleteObject"}[request.method]
        if "tagging" in urllib.parse.parse_qs(url.query, keep_blank_values=True):
            operation = operation.replace("Object", "ObjectTagging")
        self.calls.append((operation, key))
        if operation in self.fail:
            return self._error(request, *self.fail.pop(operation))
        existing = self.objects.get(key)
        if operation.endswith("ObjectTagging"):
            return self._tagging(request, operation, key, existing)
        if operation == "GetObject" and existing is not None and request.headers.get("Range"):
            wanted = request.headers["Range"]
            wanted = wanted.decode() if isinstance(wanted, bytes) else wanted
            self.ranges.append((key, wanted))
            start, _, end = wanted.removeprefix("bytes=").partition("-")
            part = existing[0][int(start):int(end) + 1]
            return self._answer(request, 206, {"etag": existing[1]}, part)
        if operation == "GetObject" and key in self.denied_get:
            return self._error(request, 403, "AccessDenied")
        if operation == "PutObject":
            if request.headers.get("If-None-Match") == b"*" or request.headers.get("If-None-Match") == "*":
                if existing is not None:
                    return self._error(request, 412, "PreconditionFailed")
            if_match = request.headers.get("If-Match")
            if if_match is not None:
                if_match = if_match.decode() if isinstance(if_match, bytes) else if_match
                if existing is None:
                    return self._error(request, 404, "NoSuchKey")
                if if_match != existing[1]:
                    return self._error(request, 412, "PreconditionFailed")
            body = request.body if isinstance(request.body, bytes) else request.body.read()
            self._count += 1
            etag = f'"{hashlib.md5(body + bytes([self._count % 256])).hexdigest()}"'
            self.objects[key] = (body, etag)
            return self._answer(request, 200, {"etag": etag})
        if existing is None and operation == "GetObject":
            return self._error(request, 404, "NoSuchKey") if self.may_list else self._error(request, 403, "AccessDenied")
        if existing is None:
            return self._answer(request, 204)
        if operation == "GetObject":
            return self._answer(request, 200, {"etag": existing[1], "content-type": "application/json"}, existing[0])
        del self.objects[key]
        return self._answer(request, 204)

    def _tagging(self, request, operation, key, existing):
        """GetObjectTagging / PutObjectTagging of an object that exists (S3's XML)."""
        if existing is None:
            return self._error(request, 404, "NoSuchKey")
        if operation == "PutObjectTagging":
            import xml.etree.ElementTree as ET

            body = request.body if isinstance(request.body, bytes) else request.body.read()
            ns = {"s3": "http://s3.amazonaws.com/doc/2006-03-01/"}
            root = ET.fromstring(body)
            self.tags[key] = [(t.find("s3:Key", ns).text, t.find("s3:Value", ns).text)
                              for t in root.iter("{http://s3.amazonaws.com/doc/2006-03-01/}Tag")]
            return self._answer(request, 200)
        tags = "".join(f"<Tag><Key>{k}</Key><Value>{v}</Value></Tag>" for k, v in self.tags.get(key, []))
        body = ('<?xml version="1.0" encoding="UTF-8"?><Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
                f"<TagSet>{tags}</TagSet></Tagging>").encode()
        return self._answer(request, 200, {"content-type": "application/xml"}, body)

    def claims(self) -> dict[str, dict]:
        """The claim objects (the catalog beside them is not one)."""
        return {k: json.loads(v[0]) for k, v in self.objects.items() if k.startswith(handler.CLAIM_PREFIX)}


@pytest.fixture(autouse=True)
def fake_s3(monkeypatch):
    """Every test's claims go to a fresh in-memory bucket."""
    fake = FakeS3()
    monkeypatch.setattr(handler, "_S3", fake.client)
    return fake
