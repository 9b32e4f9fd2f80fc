"""The emulator's presigned-URL checks (s3_presigned.py), held to URLs signed by botocore's
own SigV4 query signer: what it signs is accepted, a request that differs from what was
signed (another key, another signed Content-Length) or comes after the expiry is refused
with S3's codes, and nothing refused is stored."""

import os
import sys
import time
from urllib.parse import quote
from pathlib import Path

import boto3
import pytest
import requests
from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

sys.path.insert(0, str(Path(__file__).resolve().parent))
import s3_presigned  # noqa: E402,F401  (patches moto's object requests in this process)

from moto.server import ThreadedMotoServer  # noqa: E402

BUCKET = "presigned"


@pytest.fixture(scope="module")
def endpoint():
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    client = boto3.client("s3", region_name="eu-west-1", endpoint_url=url,
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    yield url, client
    server.stop()


def presign(url, key, expires=300, length=None):
    """A presigned PUT of `key`; with `length`, Content-Length is signed into it."""
    # Encoded, as botocore's serializer hands URLs to its signer.
    request = AWSRequest(method="PUT", url=f"{url}/{BUCKET}/{quote(key)}",
                         headers={"Content-Length": str(length)} if length is not None else {})
    S3SigV4QueryAuth(Credentials("testing", "testing"), "s3", "eu-west-1", expires=expires).add_auth(request)
    return request.url


def stored(client, key):
    try:
        return client.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    except client.exceptions.NoSuchKey:
        return None


def test_a_signed_put_is_accepted(endpoint):
    url, client = endpoint
    answer = requests.put(presign(url, "cats/a b.mp4"), data=b"meow", timeout=10)
    assert answer.status_code == 200, answer.text
    assert stored(client, "cats/a b.mp4") == b"meow"


def test_another_key_is_refused(endpoint):
    url, client = endpoint
    signed = presign(url, "cats/mine.mp4").replace("cats/mine.mp4", "cats/other.mp4")
    answer = requests.put(signed, data=b"meow", timeout=10)
    assert answer.status_code == 403 and "SignatureDoesNotMatch" in answer.text, answer.text
    assert stored(client, "cats/other.mp4") is None


def test_a_signed_content_length_bounds_the_body(endpoint):
    url, client = endpoint
    signed = presign(url, "cats/sized.mp4", length=4)
    for body in (b"meow!", b"mew"):
        answer = requests.put(signed, data=body, timeout=10)
        assert answer.status_code == 403 and "SignatureDoesNotMatch" in answer.text, answer.text
        assert stored(client, "cats/sized.mp4") is None
    answer = requests.put(signed, data=b"meow", timeout=10)
    assert answer.status_code == 200, answer.text


def test_an_expired_url_is_refused(endpoint):
    url, client = endpoint
    signed = presign(url, "cats/late.mp4", expires=1)
    time.sleep(2.1)
    answer = requests.put(signed, data=b"meow", timeout=10)
    assert answer.status_code == 403 and "Request has expired" in answer.text, answer.text
    assert stored(client, "cats/late.mp4") is None
