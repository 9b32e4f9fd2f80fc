"""Hermetic test setup for the converter function: fake credentials, a fixed
region, the function's environment, no network, and a MediaConvert client
wrapped in botocore's Stubber (every request is validated against the real
MediaConvert API model shipped with botocore)."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import boto3
import pytest
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


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
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
