"""The emulator's POST policy checks (s3_post_policy.py), held to grants made by botocore's
own generate_presigned_post: what it signs is accepted, what breaks a condition is refused
with S3's codes, and nothing refused is stored."""

import os
import sys
import time
from pathlib import Path

import boto3
from botocore.config import Config
import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
import s3_post_policy  # noqa: E402  (patches moto's POST Object in this process)

from moto.server import ThreadedMotoServer  # noqa: E402

BUCKET = "grants"


@pytest.fixture(scope="module")
def s3():
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    client = boto3.client("s3", region_name="eu-west-1", endpoint_url=f"http://{host}:{port}",
                          aws_access_key_id="testing", aws_secret_access_key="testing",
                          # SigV4: S3 takes SigV2 only for buckets made before June 2020.
                          config=Config(signature_version="s3v4"))
    client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    yield client
    server.stop()


def grant(s3, key="cats/a.mp4", expires=300, max_bytes=1000, fields=None, conditions=None):
    return s3.generate_presigned_post(
        BUCKET, key, Fields=fields or {},
        Conditions=(conditions if conditions is not None else
                    [["content-length-range", 1, max_bytes], ["starts-with", "$Content-Type", "video/"]]),
        ExpiresIn=expires)


def post(g, data=b"meow" * 10, extra=None, content_type="video/mp4"):
    form = {**g["fields"], "Content-Type": content_type, **(extra or {})}
    return requests.post(g["url"], data=form, files={"file": ("a.mp4", data)}, timeout=10)


def stored(s3, key):
    try:
        return s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None


def code(response):
    return response.text.split("<Code>")[1].split("</Code>")[0]


def test_an_allowed_upload_lands_byte_exact(s3):
    data = bytes(range(256)) * 3
    answer = post(grant(s3, key="cats/ok.mp4"), data)
    assert answer.status_code == 204, answer.text
    assert stored(s3, "cats/ok.mp4") == data


@pytest.mark.parametrize("case, expected", [
    ("larger", (400, "EntityTooLarge")),
    ("content type", (403, "AccessDenied")),
    ("other key", (403, "AccessDenied")),
    ("extra field", (403, "AccessDenied")),
    ("tampered signature", (403, "SignatureDoesNotMatch")),
    ("unknown key id", (403, "InvalidAccessKeyId")),
    ("unsigned", (403, "AccessDenied")),
])
def test_what_breaks_the_policy_is_refused_and_not_stored(s3, case, expected):
    key = f"cats/{case.replace(' ', '-')}.mp4"
    g = grant(s3, key=key)
    kwargs = {}
    if case == "larger":
        kwargs["data"] = b"x" * 1001
    elif case == "content type":
        kwargs["content_type"] = "text/html"
    elif case == "other key":
        g["fields"]["key"] = "elsewhere.mp4"
    elif case == "extra field":
        kwargs["extra"] = {"x-amz-meta-owner": "mallory"}
    elif case == "tampered signature":
        g["fields"]["x-amz-signature"] = "0" * 64
    elif case == "unknown key id":
        g["fields"]["x-amz-credential"] = g["fields"]["x-amz-credential"].replace("testing", "nosuchkey", 1)
    elif case == "unsigned":
        g["fields"] = {"key": key}
    answer = post(g, **kwargs)
    assert (answer.status_code, code(answer)) == expected, answer.text
    assert stored(s3, key) is None
    assert stored(s3, "elsewhere.mp4") is None


def test_an_expired_grant_is_refused(s3):
    g = grant(s3, key="cats/late.mp4", expires=1)
    time.sleep(2)
    answer = post(g)
    assert (answer.status_code, code(answer)) == (403, "AccessDenied"), answer.text
    assert "expired" in answer.text
    assert stored(s3, "cats/late.mp4") is None


def test_a_prefix_grant_takes_the_file_name(s3):
    g = s3.generate_presigned_post(BUCKET, "incoming/abc/${filename}",
                                   Conditions=[["starts-with", "$key", "incoming/abc/"],
                                               ["content-length-range", 1, 100]])
    answer = requests.post(g["url"], data=g["fields"], files={"file": ("tabby.mp4", b"purr")}, timeout=10)
    assert answer.status_code == 204, answer.text
    assert stored(s3, "incoming/abc/tabby.mp4") == b"purr"


def test_the_signature_is_sigv4s():
    # AWS's documented derivation, independently of botocore: a changed byte changes it.
    a = s3_post_policy.signature("secret", "20261207", "eu-west-1", "s3", "cG9saWN5")
    assert a == s3_post_policy.signature("secret", "20261207", "eu-west-1", "s3", "cG9saWN5")
    assert a != s3_post_policy.signature("secret", "20261207", "eu-west-1", "s3", "cG9saWN6")
    assert len(a) == 64
