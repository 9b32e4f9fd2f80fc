"""Tests of the converter function (handler.py) and the default job.json.

Every MediaConvert call goes through botocore's Stubber: the request must
match `expected_params` exactly AND pass botocore's validation against the
MediaConvert API model, and stubbed responses are validated too.

The job.json -> job template conversion is cattube's (the Rust side,
`job_template::wanted`): its unit tests are in stages/tests/job_template.rs, and
tests/lifecycle.rs checks the CreateJobTemplate body cattube really sends against
botocore's model. `template_like_cattubes` below only builds a GetJobTemplate
answer for the handler's tests.
"""

from __future__ import annotations

import copy
import datetime
import hashlib
import json
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError, ParamValidationError
from botocore.stub import Stubber
from botocore.validate import validate_parameters

import handler
from cattube_test_env import ACCOUNT, FUNCTION_ENV, REGION

JOB_JSON = Path(handler.__file__).resolve().parent / "job.json"
SOURCE_BUCKET = "cattube-source-123456789012-ap-southeast-2"
DEST = FUNCTION_ENV["DESTINATION_BUCKET"]
TEMPLATE_ARN = f"arn:aws:mediaconvert:{REGION}:{ACCOUNT}:jobTemplates/cattube-job"


# --------------------------------------------------------------------------
# A job template for the handler's tests to read.
# --------------------------------------------------------------------------

# Top-level keys of a job.json (the tutorial's CreateJob format) that a job
# template does not hold.
NOT_IN_TEMPLATE = ("Queue", "Role", "UserMetadata")


def load_job_json() -> dict:
    return json.loads(JOB_JSON.read_text(encoding="utf-8"))


def template_like_cattubes(job: dict, name: str, queue_arn: str) -> dict:
    """A job template as cattube registers it, for stubbed GetJobTemplate answers: the
    handler only relies on its Settings (inputs without FileInput, the outputs' groups)."""
    request = {k: copy.deepcopy(v) for k, v in job.items() if k not in NOT_IN_TEMPLATE}
    for template_input in request["Settings"].get("Inputs", []):
        template_input.pop("FileInput", None)
    request["Name"] = name
    request["Queue"] = queue_arn
    return request


def get_job_template_response(job: dict | None = None) -> dict:
    """What GetJobTemplate returns for the template made from `job`."""
    job = load_job_json() if job is None else job
    created = template_like_cattubes(job, FUNCTION_ENV["JOB_TEMPLATE"], FUNCTION_ENV["QUEUE_ARN"])
    now = datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)
    return {
        "JobTemplate": {
            **created,
            "Arn": TEMPLATE_ARN,
            "Type": "CUSTOM",
            "CreatedAt": now,
            "LastUpdated": now,
        }
    }


# --------------------------------------------------------------------------
# Helpers for the handler tests.
# --------------------------------------------------------------------------


def s3_record(
    key: str,
    size: int = 1_048_576,
    bucket: str = SOURCE_BUCKET,
    etag: str = "0123456789abcdef0123456789abcdef",
    sequencer: str = "0065A1B2C3D4E5F6A7",
    version_id: str | None = None,
    event_name: str = "ObjectCreated:Put",
) -> dict:
    """One S3 event notification record, `key` URL-encoded the way S3 sends it."""
    obj = {"key": key, "size": size, "eTag": etag, "sequencer": sequencer}
    if version_id is not None:
        obj["versionId"] = version_id
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": REGION,
        "eventTime": "2025-01-01T00:00:00.000Z",
        "eventName": event_name,
        "userIdentity": {"principalId": "AWS:EXAMPLE"},
        "requestParameters": {"sourceIPAddress": "192.0.2.1"},
        "responseElements": {"x-amz-request-id": "EXAMPLE", "x-amz-id-2": "EXAMPLE"},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "cattube-notifications",
            "bucket": {
                "name": bucket,
                "ownerIdentity": {"principalId": "EXAMPLE"},
                "arn": f"arn:aws:s3:::{bucket}",
            },
            "object": obj,
        },
    }


def token_for(key, bucket=SOURCE_BUCKET, version_id="", etag="0123456789abcdef0123456789abcdef",
              sequencer="0065A1B2C3D4E5F6A7") -> str:
    """The documented token derivation: sha256 over bucket, decoded key,
    version id, ETag and sequencer (a JSON array), as 64 hex characters."""
    identity = json.dumps([bucket, key, version_id, etag, sequencer], ensure_ascii=True)
    return hashlib.sha256(identity.encode("ascii")).hexdigest()


def expected_settings(file_input: str, destination: str) -> dict:
    """The job.json settings as the job must carry them: one input with the
    template's selectors plus FileInput, and the given destination."""
    settings = copy.deepcopy(get_job_template_response()["JobTemplate"]["Settings"])
    settings["Inputs"] = [
        {
            "AudioSelectors": {"Audio Selector 1": {"DefaultSelection": "DEFAULT"}},
            "VideoSelector": {},
            "TimecodeSource": "ZEROBASED",
            "FileInput": file_input,
        }
    ]
    settings["OutputGroups"][0]["OutputGroupSettings"]["FileGroupSettings"]["Destination"] = destination
    return settings


def expected_create_job(file_input, destination, metadata_key, token) -> dict:
    return {
        "JobTemplate": "cattube-job",
        "Queue": FUNCTION_ENV["QUEUE_ARN"],
        "Role": FUNCTION_ENV["MEDIACONVERT_ROLE_ARN"],
        "Settings": expected_settings(file_input, destination),
        "UserMetadata": {"cattube:stack": "cattube", "cattube:source-key": metadata_key, "cattube:claim": token},
        "ClientRequestToken": token,
        "AccelerationSettings": {"Mode": "DISABLED"},
        "StatusUpdateInterval": "SECONDS_60",
        "Priority": 0,
    }


def create_job_response(job_id: str, params: dict) -> dict:
    return {"Job": {"Id": job_id, "Role": params["Role"], "Settings": params["Settings"],
                    "Queue": params["Queue"], "Status": "SUBMITTED"}}


def expect_template(stubber: Stubber) -> None:
    stubber.add_response("get_job_template", get_job_template_response(), {"Name": "cattube-job"})


def expect_job(stubber: Stubber, job_id: str, params: dict) -> None:
    stubber.add_response("create_job", create_job_response(job_id, params), params)


def log_lines(capsys) -> list[dict]:
    out = capsys.readouterr().out
    return [json.loads(line) for line in out.splitlines() if line.strip()]


# --------------------------------------------------------------------------
# Key decoding, destinations, metadata.
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event_key", "key", "destination", "metadata_key"),
    [
        # spaces arrive as "+" (the tutorial's "no spaces" bug), inside a folder
        ("cats/tabby+cat.mp4", "cats/tabby cat.mp4", f"s3://{DEST}/cats/tabby cat", "cats/tabby cat.mp4"),
        # a literal "+" arrives as %2B
        ("cats/a%2Bb.mp4", "cats/a+b.mp4", f"s3://{DEST}/cats/a+b", "cats/a+b.mp4"),
        # %XX escapes; "(" and ")" are not allowed in UserMetadata: escaped as =XX
        ("clip%281%29.mov", "clip(1).mov", f"s3://{DEST}/clip(1)", "clip=281=29.mov"),
        # UTF-8 unicode plus a space: non-ASCII is escaped per UTF-8 byte
        ("k%C3%A4tzchen+video.mp4", "kätzchen video.mp4", f"s3://{DEST}/kätzchen video", "k=C3=A4tzchen video.mp4"),
        # no folder: the tutorial's example
        ("tabbycat.mp4", "tabbycat.mp4", f"s3://{DEST}/tabbycat", "tabbycat.mp4"),
        # nested folders; only the last extension is dropped
        ("a/b/c/movie.final.mov", "a/b/c/movie.final.mov", f"s3://{DEST}/a/b/c/movie.final", "a/b/c/movie.final.mov"),
        # no extension at all
        ("cats/raw", "cats/raw", f"s3://{DEST}/cats/raw", "cats/raw"),
    ],
)
def test_submits_one_job_per_upload(stubber, capsys, event_key, key, destination, metadata_key):
    params = expected_create_job(
        file_input=f"s3://{SOURCE_BUCKET}/{key}",
        destination=destination,
        metadata_key=metadata_key,
        token=token_for(key),
    )
    expect_template(stubber)
    expect_job(stubber, "1111111111111-abcdef", params)

    result = handler.lambda_handler({"Records": [s3_record(event_key)]}, None)

    assert result == {
        "jobs": [{"job_id": "1111111111111-abcdef", "key": key, "destination": destination}],
        "skipped": [],
    }
    (line,) = log_lines(capsys)
    assert line == {
        "level": "INFO",
        "message": "job submitted",
        "stack": "cattube",
        "source_bucket": SOURCE_BUCKET,
        "source_key": key,
        "job_id": "1111111111111-abcdef",
        "queue": FUNCTION_ENV["QUEUE_ARN"],
        "job_template": "cattube-job",
        "destination": destination,
        "client_request_token": token_for(key),
    }


def test_outputs_are_named_after_the_source_key():
    """Destination (no trailing "/") is the base name; the template's name
    modifiers complete the output names: cats/tabby cat-hd.mp4, -sd.mp4."""
    destination = handler.output_destination("dest", "cats/tabby cat.mp4")
    assert destination == "s3://dest/cats/tabby cat"
    outputs = load_job_json()["Settings"]["OutputGroups"][0]["Outputs"]
    names = [destination.removeprefix("s3://dest/") + o["NameModifier"] + ".mp4" for o in outputs]
    assert names == ["cats/tabby cat-hd.mp4", "cats/tabby cat-sd.mp4"]
    assert handler.output_destination("dest", "tabbycat.mp4") == "s3://dest/tabbycat"
    assert handler.output_destination("dest", "a//b.mp4") == "s3://dest/a//b"
    assert handler.output_destination("dest", ".mp4") == "s3://dest/.mp4"


# Keys S3 accepts (any UTF-8 up to 1,024 bytes) that UserMetadata's alphabet cannot hold as they are.
AWKWARD_KEYS = [
    "cats/tabby cat (1).mp4",
    "cats/tabby cat _1_.mp4",  # what the old sanitising made of the key above: must stay apart
    "kätzchen/日本 ٣.mov",
    "ka\u0308tzchen.mp4",  # decomposed: must not be NFC-normalised into another key
    "a+b%20c%2B=41.mp4",  # "+", "%" and what looks like an escape
    " leading and trailing space ",
    "a&b#c?d'e,f!g[h]$i~j{k}l^m`n|o\\p\"q<r>s;t.mp4",
    "emoji 🐱.mp4",
    "x/" + "y" * 1018 + ".mp4",  # 1,024 bytes
    "ü" * 512,  # 1,024 bytes, every one escaped
]


def metadata_value_allowed(value: str) -> bool:
    """MediaConvert's documented UserMetadata value rule: at most 256 Unicode letters,
    numbers, spaces and _ . : / = + - @ (checked here independently of the handler)."""
    import unicodedata
    return len(value) <= 256 and all(
        unicodedata.category(c)[0] in "LN" or c in " _.:/=+-@" for c in value)


@pytest.mark.parametrize("key", AWKWARD_KEYS)
def test_every_s3_key_round_trips_through_user_metadata(key):
    assert len(key.encode("utf-8")) <= 1024
    metadata = handler.user_metadata("cattube", key, "t" * 64)
    assert len(metadata) <= 10 and all(metadata_value_allowed(v) for v in metadata.values())
    assert all(len(k) <= 128 for k in metadata)
    decoded, digest = handler.metadata_key(metadata)
    if digest is None:
        assert decoded == key
    else:  # cut: a prefix of the key, and the key's own hash to match it exactly
        assert key.startswith(decoded) and len(decoded) < len(key)
        assert digest == hashlib.sha256(key.encode("utf-8")).hexdigest()


def test_distinct_keys_stay_distinct_in_user_metadata():
    stored = {tuple(sorted(handler.user_metadata("cattube", k).items())) for k in AWKWARD_KEYS}
    assert len(stored) == len(AWKWARD_KEYS)


def test_a_long_key_is_cut_at_a_whole_character():
    metadata = handler.user_metadata("cattube", "ü" * 512)
    assert metadata["cattube:source-key"] == "=C3=BC" * 42  # 252 characters; a 43rd would be 258
    assert handler.metadata_key(metadata)[0] == "ü" * 42


# --------------------------------------------------------------------------
# Skipped and ignored records.
# --------------------------------------------------------------------------


def test_folder_marker_is_skipped(stubber, capsys):
    # no responses queued: any MediaConvert call would fail the test
    result = handler.lambda_handler({"Records": [s3_record("cats%2Fkittens/", size=0)]}, None)
    assert result == {"jobs": [], "skipped": [{"key": "cats/kittens/", "reason": "folder marker"}]}
    (line,) = log_lines(capsys)
    assert line["message"] == "upload skipped: folder marker"
    assert line["reason"] == "folder marker"
    assert line["source_key"] == "cats/kittens/"
    assert line["stack"] == "cattube"


def test_folder_marker_with_content_is_still_skipped(stubber, capsys):
    result = handler.lambda_handler({"Records": [s3_record("cats/", size=12)]}, None)
    assert result["skipped"] == [{"key": "cats/", "reason": "folder marker"}]


def test_empty_object_is_skipped(stubber, capsys):
    result = handler.lambda_handler({"Records": [s3_record("cats/empty+cat.mp4", size=0)]}, None)
    assert result == {"jobs": [], "skipped": [{"key": "cats/empty cat.mp4", "reason": "empty object"}]}
    (line,) = log_lines(capsys)
    assert line["level"] == "INFO"
    assert line["reason"] == "empty object"
    assert line["size"] == 0


def test_non_create_records_are_ignored(stubber, capsys):
    removed = s3_record("cats/tabby.mp4", event_name="ObjectRemoved:Delete")
    other = {"eventSource": "aws:sqs", "eventName": "ObjectCreated:Put", "body": "{}"}
    result = handler.lambda_handler({"Records": [removed, other]}, None)
    assert result == {"jobs": [], "skipped": []}
    lines = log_lines(capsys)
    assert [line["message"] for line in lines] == ["record ignored: not an S3 ObjectCreated event"] * 2
    assert lines[0]["event_name"] == "ObjectRemoved:Delete"


def test_s3_test_event_without_records_does_nothing(stubber, capsys):
    event = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": SOURCE_BUCKET}
    assert handler.lambda_handler(event, None) == {"jobs": [], "skipped": []}


# --------------------------------------------------------------------------
# Several records, duplicates, idempotency.
# --------------------------------------------------------------------------


def test_two_records_make_two_jobs_and_read_the_template_once(stubber, capsys):
    first = s3_record("cats/one.mp4", sequencer="001", etag="e1")
    marker = s3_record("cats/", size=0, sequencer="002")
    second = s3_record("dogs/two+dogs.mov", sequencer="003", etag="e2")
    expect_template(stubber)
    expect_job(stubber, "job-1", expected_create_job(
        f"s3://{SOURCE_BUCKET}/cats/one.mp4", f"s3://{DEST}/cats/one", "cats/one.mp4",
        token_for("cats/one.mp4", etag="e1", sequencer="001")))
    expect_job(stubber, "job-2", expected_create_job(
        f"s3://{SOURCE_BUCKET}/dogs/two dogs.mov", f"s3://{DEST}/dogs/two dogs", "dogs/two dogs.mov",
        token_for("dogs/two dogs.mov", etag="e2", sequencer="003")))

    result = handler.lambda_handler({"Records": [first, marker, second]}, None)

    assert [job["job_id"] for job in result["jobs"]] == ["job-1", "job-2"]
    assert result["skipped"] == [{"key": "cats/", "reason": "folder marker"}]
    submitted = [line for line in log_lines(capsys) if line["message"] == "job submitted"]
    assert [line["job_id"] for line in submitted] == ["job-1", "job-2"]


def _tabby(**changes):
    event = {"Records": [s3_record("cats/tabby+cat.mp4", version_id="v1", sequencer="00AA", **changes)]}
    token = token_for("cats/tabby cat.mp4", version_id="v1", sequencer="00AA", **changes)
    params = expected_create_job(
        f"s3://{SOURCE_BUCKET}/cats/tabby cat.mp4", f"s3://{DEST}/cats/tabby cat", "cats/tabby cat.mp4", token
    )
    return event, token, params


def test_a_duplicate_delivery_hours_later_submits_no_second_job(stubber, fake_s3, monkeypatch):
    """The same event delivered again (S3 at least once, Lambda's retries 1 and 2
    minutes later, or hours later): one job; MediaConvert is not even called."""
    event, token, params = _tabby()
    expect_template(stubber)
    expect_job(stubber, "job-1", params)  # exactly once: the Stubber fails on a second CreateJob

    first = handler.lambda_handler(copy.deepcopy(event), None)
    assert first["jobs"][0]["job_id"] == "job-1"
    claim = fake_s3.claims()[handler.claim_key(token)]
    assert claim["state"] == "SUBMITTED" and claim["job_id"] == "job-1"

    later = time.time() + 6 * 3600
    monkeypatch.setattr(handler.time, "time", lambda: later)
    for _ in range(3):
        again = handler.lambda_handler(copy.deepcopy(event), None)
        assert again == {"jobs": [], "skipped": [
            {"key": "cats/tabby cat.mp4", "reason": "already submitted", "job_id": "job-1"}]}
    assert len(token) == 64 and token.isascii()


def list_jobs_response(*jobs: tuple[str, dict, float]) -> dict:
    """A ListJobs page: (job id, UserMetadata, CreatedAt epoch seconds), newest first."""
    return {"Jobs": [{"Id": job_id, "Role": FUNCTION_ENV["MEDIACONVERT_ROLE_ARN"], "Settings": {},
                      "UserMetadata": metadata, "Queue": FUNCTION_ENV["QUEUE_ARN"], "Status": "PROGRESSING",
                      "CreatedAt": datetime.datetime.fromtimestamp(created, datetime.timezone.utc)}
                     for job_id, metadata, created in jobs]}


def expect_list_jobs(stubber: Stubber, *jobs: tuple[str, dict, float], next_token: str | None = None,
                     token: str | None = None) -> None:
    response = list_jobs_response(*jobs)
    if next_token:
        response["NextToken"] = next_token
    params = {"Queue": FUNCTION_ENV["QUEUE_ARN"], "Order": "DESCENDING", "MaxResults": 20}
    if token:
        params["NextToken"] = token
    stubber.add_response("list_jobs", response, params)


def test_a_failed_submission_is_submitted_again_on_the_retry(stubber, fake_s3):
    event, token, params = _tabby()
    expect_template(stubber)
    stubber.add_client_error("create_job", "TooManyRequestsException", "slow down", 429, expected_params=params)
    with pytest.raises(ClientError):
        handler.lambda_handler(copy.deepcopy(event), None)
    claim = fake_s3.claims()[handler.claim_key(token)]
    assert claim["state"] == "IN_PROGRESS" and claim["expires_at"] == 0  # released: a retry takes it over
    # The retry looks for the job first (none carries the token) and then submits.
    expect_list_jobs(stubber, ("other-job", {"cattube:claim": "f" * 64}, time.time()))
    expect_template(stubber)
    expect_job(stubber, "job-2", params)
    assert handler.lambda_handler(copy.deepcopy(event), None)["jobs"][0]["job_id"] == "job-2"


class LambdaContext:
    """The part of Lambda's context object the handler reads: remaining time runs down
    with the (patched) clock."""

    def __init__(self, clock, timeout_s: float):
        self.clock, self.deadline = clock, clock() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - self.clock()) * 1000))


class InvocationTimedOut(BaseException):
    """Lambda stopping the invocation: no handler code runs after it."""


def test_a_timeout_between_create_job_and_the_record_adopts_the_job_on_the_retry(
        stubber, fake_s3, monkeypatch, capsys):
    """The first attempt's job is made, then its time runs out before the claim records
    it. Lambda's retry (after the claim expired, past MediaConvert's one-minute token
    window) finds the job by the claim token in its UserMetadata and makes no second."""
    now = [1_700_000_000.0]
    monkeypatch.setattr(handler.time, "time", lambda: now[0])
    event, token, params = _tabby()
    context = LambdaContext(lambda: now[0], timeout_s=30)
    expect_template(stubber)
    expect_job(stubber, "job-1", params)
    real_create = handler._client().create_job

    def create_then_time_runs_out(**kwargs):
        made = real_create(**kwargs)
        now[0] += 31  # the rest of the invocation's time went by
        assert context.get_remaining_time_in_millis() == 0
        raise InvocationTimedOut()

    monkeypatch.setattr(handler._client(), "create_job", create_then_time_runs_out)
    with pytest.raises(InvocationTimedOut):
        handler.lambda_handler(copy.deepcopy(event), context)
    assert fake_s3.claims()[handler.claim_key(token)]["state"] == "IN_PROGRESS"

    now[0] += 90  # the claim (remaining time + 30 s) has expired; Lambda retries
    monkeypatch.setattr(handler._client(), "create_job", real_create)  # a CreateJob now would fail the Stubber
    expect_list_jobs(stubber, ("newer-job", {"cattube:claim": "e" * 64}, now[0] - 5), next_token="p2")
    expect_list_jobs(stubber, ("job-1", {"cattube:claim": token}, now[0] - 121), token="p2")
    retry = handler.lambda_handler(copy.deepcopy(event), LambdaContext(lambda: now[0], timeout_s=30))
    assert [j["job_id"] for j in retry["jobs"]] == ["job-1"]
    claim = fake_s3.claims()[handler.claim_key(token)]
    assert claim["state"] == "SUBMITTED" and claim["job_id"] == "job-1"
    assert [v["job_id"] for v in json.loads(fake_s3.objects[handler.CATALOG_KEY][0])["videos"]] == ["job-1"]
    assert any(line["message"] == "job adopted: an earlier attempt submitted it" for line in log_lines(capsys))


def test_create_job_that_succeeded_but_raised_is_adopted_on_the_retry(stubber, fake_s3):
    """CreateJob made the job server-side, but the answer was lost (a timeout reading
    it): the claim is released, and the retry adopts the job instead of a second."""
    event, token, params = _tabby()
    expect_template(stubber)
    stubber.add_client_error("create_job", "RequestTimeout", "answer lost", 500, expected_params=params)
    with pytest.raises(ClientError):
        handler.lambda_handler(copy.deepcopy(event), None)
    expect_list_jobs(stubber, ("job-1", {"cattube:claim": token}, time.time()))
    retry = handler.lambda_handler(copy.deepcopy(event), None)
    assert [j["job_id"] for j in retry["jobs"]] == ["job-1"]
    assert fake_s3.claims()[handler.claim_key(token)]["job_id"] == "job-1"


def test_the_search_for_an_earlier_job_stops_at_jobs_older_than_the_earlier_claim(stubber, fake_s3):
    event, token, params = _tabby()
    claimed = time.time() - 600
    fake_s3.objects[handler.claim_key(token)] = (json.dumps(
        {"state": "IN_PROGRESS", "claimed_at": claimed, "expires_at": claimed + 60}).encode(), '"e1"')
    # One page reaching past the earlier claim (minus clock skew): no second page is read.
    expect_list_jobs(stubber, ("other", {}, claimed + 1), ("older", {}, claimed - 61), next_token="p2")
    expect_template(stubber)
    expect_job(stubber, "job-2", params)
    assert handler.lambda_handler(copy.deepcopy(event), None)["jobs"][0]["job_id"] == "job-2"


def test_a_new_upload_of_the_same_key_gets_its_own_job(stubber, fake_s3):
    event, _, params = _tabby()
    new_event, new_token, new_params = _tabby(etag="ffffffffffffffffffffffffffffffff")
    new_event["Records"][0]["s3"]["object"]["sequencer"] = "00AB"
    new_token = token_for("cats/tabby cat.mp4", version_id="v1", sequencer="00AB",
                          etag="ffffffffffffffffffffffffffffffff")
    new_params["ClientRequestToken"] = new_params["UserMetadata"]["cattube:claim"] = new_token
    expect_template(stubber)
    expect_job(stubber, "job-1", params)
    expect_template(stubber)
    expect_job(stubber, "job-2", new_params)
    assert handler.lambda_handler(event, None)["jobs"][0]["job_id"] == "job-1"
    assert handler.lambda_handler(new_event, None)["jobs"][0]["job_id"] == "job-2"
    assert len(fake_s3.claims()) == 2


def test_a_claim_held_by_a_running_invocation_fails_this_one_for_a_retry(stubber, fake_s3, capsys):
    event, token, _ = _tabby()
    key = handler.claim_key(token)
    fake_s3.objects[key] = (json.dumps({"state": "IN_PROGRESS", "expires_at": time.time() + 60}).encode(), '"e1"')
    with pytest.raises(handler.ClaimHeld):
        handler.lambda_handler(copy.deepcopy(event), None)  # no MediaConvert call queued: none made
    assert log_lines(capsys)[-1]["message"] == "claiming the upload failed"


def test_an_expired_claim_is_taken_over_once(stubber, fake_s3):
    """Its holder timed out: the claim is overwritten with If-Match on the ETag read."""
    event, token, params = _tabby()
    key = handler.claim_key(token)
    fake_s3.objects[key] = (json.dumps({"state": "IN_PROGRESS", "expires_at": time.time() - 1}).encode(), '"e1"')
    expect_list_jobs(stubber)  # no job carries its token
    expect_template(stubber)
    expect_job(stubber, "job-3", params)
    assert handler.lambda_handler(copy.deepcopy(event), None)["jobs"][0]["job_id"] == "job-3"
    puts = [c for c in fake_s3.calls if c[0] == "PutObject" and c[1].startswith(handler.CLAIM_PREFIX)]
    assert len(puts) == 3  # If-None-Match (refused), If-Match takeover, SUBMITTED


def test_a_takeover_lost_to_another_invocation_submits_nothing(stubber, fake_s3):
    event, token, _ = _tabby()
    key = handler.claim_key(token)
    fake_s3.objects[key] = (json.dumps({"state": "IN_PROGRESS", "expires_at": time.time() - 1}).encode(), '"e1"')
    real_get = fake_s3.client.get_object

    def get_then_someone_else_takes_over(**kwargs):
        found = real_get(**kwargs)
        fake_s3.objects[key] = (fake_s3.objects[key][0], '"e2"')
        return found

    fake_s3.client.get_object = get_then_someone_else_takes_over
    with pytest.raises(handler.ClaimHeld):
        handler.lambda_handler(copy.deepcopy(event), None)


def test_the_claim_write_uses_if_none_match_and_lives_under_the_claim_prefix(stubber, fake_s3):
    event, token, params = _tabby()
    expect_template(stubber)
    expect_job(stubber, "job-1", params)
    seen = []
    fake_s3.client.meta.events.register_first(
        "before-send.s3", lambda request, **_: seen.append(dict(request.headers)) or None)
    handler.lambda_handler(copy.deepcopy(event), None)
    assert seen[0].get("If-None-Match") in ("*", b"*")
    assert all(k.startswith(handler.CLAIM_PREFIX) for k in fake_s3.claims())


def test_a_failure_to_record_the_job_is_logged_and_the_job_kept(stubber, fake_s3, capsys):
    event, _, params = _tabby()
    expect_template(stubber)
    expect_job(stubber, "job-1", params)
    real_put = fake_s3.client.put_object
    calls = []

    def second_put_fails(**kwargs):
        calls.append(kwargs)
        if len(calls) == 2:
            fake_s3.fail["PutObject"] = (403, "AccessDenied")
        return real_put(**kwargs)

    fake_s3.client.put_object = second_put_fails
    assert handler.lambda_handler(copy.deepcopy(event), None)["jobs"][0]["job_id"] == "job-1"
    assert any(line["message"] == "recording the submitted job failed" for line in log_lines(capsys))


def test_a_new_upload_of_the_same_key_gets_a_new_token():
    def token(**changes):
        record = s3_record("cats/tabby.mp4", **changes)
        return handler.client_request_token(handler.parse_record(record))

    base = token()
    assert token() == base
    assert token(sequencer="0065A1B2C3D4E5F6A8") != base  # overwritten: new event
    assert token(etag="ffffffffffffffffffffffffffffffff") != base
    assert token(version_id="v2") != base
    assert token(bucket="other-bucket") != base
    assert base == token_for("cats/tabby.mp4")


# --------------------------------------------------------------------------
# Failures propagate so Lambda retries.
# --------------------------------------------------------------------------


def test_create_job_error_propagates(stubber, capsys):
    key = "cats/tabby cat.mp4"
    params = expected_create_job(
        f"s3://{SOURCE_BUCKET}/{key}", f"s3://{DEST}/cats/tabby cat", key, token_for(key)
    )
    expect_template(stubber)
    stubber.add_client_error(
        "create_job",
        service_error_code="TooManyRequestsException",
        service_message="Too many requests",
        http_status_code=429,
        expected_params=params,
    )

    with pytest.raises(ClientError) as raised:
        handler.lambda_handler({"Records": [s3_record("cats/tabby+cat.mp4")]}, None)

    assert raised.value.response["Error"]["Code"] == "TooManyRequestsException"
    (line,) = log_lines(capsys)
    assert line["level"] == "ERROR"
    assert line["message"] == "job submission failed"
    assert line["source_key"] == key
    assert line["error_code"] == "TooManyRequestsException"
    assert line["error_type"] == "TooManyRequestsException"  # botocore's modeled ClientError subclass
    assert "Too many requests" in line["error"]
    assert line["client_request_token"] == token_for(key)


def test_failure_stops_before_later_records(stubber, capsys):
    expect_template(stubber)
    stubber.add_client_error("create_job", service_error_code="BadRequestException", http_status_code=400)
    with pytest.raises(ClientError):
        handler.lambda_handler({"Records": [s3_record("a.mp4"), s3_record("b.mp4", sequencer="2")]}, None)


def test_missing_job_template_propagates(stubber, capsys):
    stubber.add_client_error(
        "get_job_template",
        service_error_code="NotFoundException",
        service_message="template not found",
        http_status_code=404,
        expected_params={"Name": "cattube-job"},
    )
    with pytest.raises(ClientError):
        handler.lambda_handler({"Records": [s3_record("cats/tabby.mp4")]}, None)
    (line,) = log_lines(capsys)
    assert line["level"] == "ERROR"
    assert line["message"] == "reading the job template failed"
    assert line["job_template"] == "cattube-job"
    assert line["error_code"] == "NotFoundException"


def test_missing_configuration_is_an_error(monkeypatch, capsys):
    monkeypatch.delenv("QUEUE_ARN")
    monkeypatch.setenv("STACK", "")
    with pytest.raises(RuntimeError, match="QUEUE_ARN, STACK"):
        handler.lambda_handler({"Records": [s3_record("cats/tabby.mp4")]}, None)
    (line,) = log_lines(capsys)
    assert line["missing_environment_variables"] == ["QUEUE_ARN", "STACK"]


# --------------------------------------------------------------------------
# Templates other than the default job.json.
# --------------------------------------------------------------------------


def test_template_without_inputs_gets_default_input_and_every_group_a_destination(stubber):
    job = load_job_json()
    del job["Settings"]["Inputs"]
    job["Settings"]["OutputGroups"].append(
        {
            "Name": "Apple HLS",
            "Outputs": [{
                "ContainerSettings": {"Container": "M3U8", "M3u8Settings": {}},
                "VideoDescription": {"CodecSettings": {"Codec": "H_264", "H264Settings": {
                    "RateControlMode": "QVBR", "MaxBitrate": 2000000}}},
                "AudioDescriptions": [{"AudioSourceName": "Audio Selector 1", "CodecSettings": {
                    "Codec": "AAC", "AacSettings": {"Bitrate": 96000, "CodingMode": "CODING_MODE_2_0",
                                                    "SampleRate": 48000}}}],
                "NameModifier": "-hls",
            }],
            "OutputGroupSettings": {"Type": "HLS_GROUP_SETTINGS",
                                    "HlsGroupSettings": {"SegmentLength": 6, "MinSegmentLength": 0,
                                                         "Destination": "s3://placeholder/"}},
        }
    )
    job["Priority"] = 10
    job["AccelerationSettings"] = {"Mode": "PREFERRED"}
    template = get_job_template_response(job)
    stubber.add_response("get_job_template", template, {"Name": "cattube-job"})

    settings = copy.deepcopy(template["JobTemplate"]["Settings"])
    settings["Inputs"] = [{
        "AudioSelectors": {"Audio Selector 1": {"DefaultSelection": "DEFAULT"}},
        "VideoSelector": {},
        "TimecodeSource": "ZEROBASED",
        "FileInput": f"s3://{SOURCE_BUCKET}/show/ep 1.mp4",
    }]
    settings["OutputGroups"][0]["OutputGroupSettings"]["FileGroupSettings"]["Destination"] = f"s3://{DEST}/show/ep 1"
    settings["OutputGroups"][1]["OutputGroupSettings"]["HlsGroupSettings"]["Destination"] = f"s3://{DEST}/show/ep 1"
    params = {
        "JobTemplate": "cattube-job",
        "Queue": FUNCTION_ENV["QUEUE_ARN"],
        "Role": FUNCTION_ENV["MEDIACONVERT_ROLE_ARN"],
        "Settings": settings,
        "UserMetadata": {"cattube:stack": "cattube", "cattube:source-key": "show/ep 1.mp4",
                         "cattube:claim": token_for("show/ep 1.mp4")},
        "ClientRequestToken": token_for("show/ep 1.mp4"),
        "AccelerationSettings": {"Mode": "PREFERRED"},
        "StatusUpdateInterval": "SECONDS_60",
        "Priority": 10,
    }
    expect_job(stubber, "job-hls", params)

    result = handler.lambda_handler({"Records": [s3_record("show/ep+1.mp4")]}, None)
    assert result["jobs"][0]["job_id"] == "job-hls"


def test_template_without_output_groups_is_rejected(stubber, capsys):
    job = load_job_json()
    job["Settings"]["OutputGroups"] = []
    stubber.add_response("get_job_template", get_job_template_response(job), {"Name": "cattube-job"})
    with pytest.raises(ValueError, match="no output group"):
        handler.lambda_handler({"Records": [s3_record("cats/tabby.mp4")]}, None)
    (line,) = log_lines(capsys)
    assert line["message"] == "job submission failed"
    assert line["error_type"] == "ValueError"


# --------------------------------------------------------------------------
# The MediaConvert client.
# --------------------------------------------------------------------------


def test_client_uses_the_regional_endpoint_and_is_created_once(monkeypatch):
    calls = []
    real_client = handler.boto3.client
    monkeypatch.setattr(handler.boto3, "client", lambda *a, **kw: calls.append(a) or real_client(*a, **kw))

    client = handler._client()

    assert handler._client() is client
    assert calls == [("mediaconvert",)]
    assert client.meta.endpoint_url == f"https://mediaconvert.{REGION}.amazonaws.com"
    assert client.meta.region_name == REGION


def test_handler_never_calls_describe_endpoints():
    source = Path(handler.__file__).read_text(encoding="utf-8")
    assert "describe_endpoints(" not in source
    assert "endpoint_url" not in source


# --------------------------------------------------------------------------
# The default job.json.
# --------------------------------------------------------------------------


def test_job_json_is_the_tutorials_job():
    job = load_job_json()
    assert list(job) == ["Queue", "UserMetadata", "Role", "Settings", "AccelerationSettings",
                         "StatusUpdateInterval", "Priority"]
    settings = job["Settings"]
    assert settings["TimecodeConfig"] == {"Source": "ZEROBASED"}
    assert settings["Inputs"] == [{
        "AudioSelectors": {"Audio Selector 1": {"DefaultSelection": "DEFAULT"}},
        "VideoSelector": {},
        "TimecodeSource": "ZEROBASED",
        "FileInput": "s3://source-bucket/input.mp4",
    }]
    (group,) = settings["OutputGroups"]
    assert group["OutputGroupSettings"] == {
        "Type": "FILE_GROUP_SETTINGS",
        "FileGroupSettings": {"Destination": "s3://destination-bucket/"},
    }
    hd, sd = group["Outputs"]
    aac = {"Codec": "AAC", "AacSettings": {"Bitrate": 96000, "CodingMode": "CODING_MODE_2_0", "SampleRate": 48000}}
    for output in (hd, sd):
        assert output["ContainerSettings"] == {"Container": "MP4", "Mp4Settings": {}}
        assert output["AudioDescriptions"] == [{"AudioSourceName": "Audio Selector 1", "CodecSettings": aac}]
    assert hd["NameModifier"] == "-hd"
    assert hd["VideoDescription"] == {"CodecSettings": {"Codec": "H_265", "H265Settings": {
        "MaxBitrate": 5000000, "RateControlMode": "QVBR", "SceneChangeDetect": "TRANSITION_DETECTION",
        # Apple's players play H.265 in MP4 only when it is marked hvc1 (MediaConvert's default is hev1).
        "WriteMp4PackagingType": "HVC1"}}}
    assert sd["NameModifier"] == "-sd"
    assert sd["VideoDescription"] == {"Width": 256, "Height": 144, "CodecSettings": {"Codec": "AV1", "Av1Settings": {
        "RateControlMode": "QVBR", "QvbrSettings": {}, "MaxBitrate": 100000}}}
    assert job["AccelerationSettings"] == {"Mode": "DISABLED"}
    assert job["StatusUpdateInterval"] == "SECONDS_60"
    assert job["Priority"] == 0


def test_job_json_file_input_must_be_stripped_from_the_template(mediaconvert_client):
    """Why the conversion drops FileInput: the model's InputTemplate has none."""
    request = {k: v for k, v in load_job_json().items() if k not in NOT_IN_TEMPLATE}
    request.update(Name="cattube-job", Queue=FUNCTION_ENV["QUEUE_ARN"])
    with Stubber(mediaconvert_client) as stub:
        stub.add_response("create_job_template", {"JobTemplate": {"Name": "cattube-job", "Settings": {}}})
        with pytest.raises(ParamValidationError, match="FileInput"):
            mediaconvert_client.create_job_template(**request)


def test_job_json_as_submitted_job_passes_create_job_validation(mediaconvert_client):
    """The handler's request built from the job.json template is a valid CreateJob,
    and so is job.json itself (the tutorial's CreateJob format)."""
    template = get_job_template_response()["JobTemplate"]
    upload = handler.parse_record(s3_record("cats/tabby+cat.mp4"))
    request = handler.build_create_job_request(dict(FUNCTION_ENV), template, upload)
    tutorial_job = {**load_job_json(), "ClientRequestToken": "tutorial"}
    with Stubber(mediaconvert_client) as stub:
        stub.add_response("create_job", create_job_response("job-1", request), copy.deepcopy(request))
        stub.add_response("create_job", create_job_response("job-2", tutorial_job), copy.deepcopy(tutorial_job))
        assert mediaconvert_client.create_job(**request)["Job"]["Id"] == "job-1"
        assert mediaconvert_client.create_job(**tutorial_job)["Job"]["Id"] == "job-2"
        stub.assert_no_pending_responses()


def test_stubber_rejects_an_invalid_job(mediaconvert_client):
    """Sanity check that model validation is really on (botocore checks
    names, types, required members and minimums; not enums or maximums)."""
    template = get_job_template_response()["JobTemplate"]
    upload = handler.parse_record(s3_record("cats/tabby.mp4"))
    request = handler.build_create_job_request(dict(FUNCTION_ENV), template, upload)
    request["Settings"]["OutputGroups"][0]["Outputs"][1]["VideoDescription"]["CodecSettings"][
        "Av1Settings"]["MaxBitrate"] = 999  # minimum is 1000
    request["Priority"] = -51  # minimum is -50
    request["Settings"]["Inputs"][0]["Filename"] = "typo"
    with Stubber(mediaconvert_client) as stub:
        stub.add_response("create_job", {"Job": {"Role": "r", "Settings": {}}})
        with pytest.raises(ParamValidationError) as raised:
            mediaconvert_client.create_job(**request)
    message = str(raised.value)
    assert "Priority" in message and "MaxBitrate" in message and '"Filename"' in message


# --------------------------------------------------------------------------
# Template members copied to the job: what CreateJob accepts, from the model.
# --------------------------------------------------------------------------


def _model_without(member: str):
    """The MediaConvert model of this botocore with `member` removed from
    CreateJobRequest: the model of an older botocore (the Lambda runtime's
    boto3 may predate a member GetJobTemplate already returns)."""
    import botocore.loaders
    import botocore.model

    raw = copy.deepcopy(botocore.loaders.Loader().load_service_model("mediaconvert", "service-2"))
    del raw["shapes"]["CreateJobRequest"]["members"][member]
    return botocore.model.ServiceModel(raw, "mediaconvert")


def test_template_job_fields_are_copied_and_the_functions_own_kept(mediaconvert_client):
    """What a template carries reaches the job when CreateJob takes it; template-only
    members (Description, Category, Arn...) do not; the function's own members (Queue,
    Role, UserMetadata...) are never the template's. Checked on the request built, not
    on how the handler computes its member list."""
    model = mediaconvert_client.meta.service_model
    template = copy.deepcopy(get_job_template_response()["JobTemplate"])
    template.update(HopDestinations=[{"WaitMinutes": 5}], Description="cats", Category="pets",
                    Queue=f"arn:aws:mediaconvert:{REGION}:{ACCOUNT}:queues/someone-elses")
    upload = handler.parse_record(s3_record("cats/tabby.mp4"))
    request = handler.build_create_job_request(dict(FUNCTION_ENV), template, upload, model)
    validate_parameters(request, model.operation_model("CreateJob").input_shape)
    for member in ("AccelerationSettings", "Priority", "StatusUpdateInterval", "HopDestinations"):
        assert request[member] == template[member], member
    assert not {"Description", "Category", "Arn", "Name", "Type", "CreatedAt"} & set(request)
    assert request["Queue"] == FUNCTION_ENV["QUEUE_ARN"]
    assert request["Settings"]["Inputs"][0]["FileInput"] == f"s3://{SOURCE_BUCKET}/cats/tabby.mp4"


def test_a_template_member_create_job_does_not_accept_is_not_sent(mediaconvert_client):
    """A template carrying ElementalInferenceSettings, read by a botocore whose
    CreateJob has no such member: the request leaves it out and stays valid."""
    template = copy.deepcopy(get_job_template_response()["JobTemplate"])
    template["ElementalInferenceSettings"] = {
        "FeedConfigurationSource": {"FeedArn": f"arn:aws:elemental-inference:{REGION}:{ACCOUNT}:feed/cats"}}
    old_model = _model_without("ElementalInferenceSettings")
    upload = handler.parse_record(s3_record("cats/tabby.mp4"))
    request = handler.build_create_job_request(dict(FUNCTION_ENV), template, upload, old_model)
    assert "ElementalInferenceSettings" not in request
    # Valid for that model: botocore's own validator, as the Lambda runtime's would run it.
    validate_parameters(request, old_model.operation_model("CreateJob").input_shape)
    assert request["Priority"] == 0 and request["StatusUpdateInterval"] == "SECONDS_60"
    # The same template with this botocore's model (which has the member) keeps it.
    current = handler.build_create_job_request(dict(FUNCTION_ENV), template, upload,
                                               mediaconvert_client.meta.service_model)
    assert current["ElementalInferenceSettings"] == template["ElementalInferenceSettings"]


# --------------------------------------------------------------------------
# The size guard: [job] max-upload-mb reaches the function as MAX_UPLOAD_MB.
# --------------------------------------------------------------------------


# A larger upload is rejected: tests/test_limits.py.


def test_an_upload_of_exactly_max_upload_mb_is_converted(stubber, monkeypatch):
    monkeypatch.setenv("MAX_UPLOAD_MB", "100")
    key = "cats/tabby.mp4"
    expect_template(stubber)
    expect_job(stubber, "job-1", expected_create_job(
        f"s3://{SOURCE_BUCKET}/{key}", f"s3://{DEST}/cats/tabby", key, token_for(key)))
    result = handler.lambda_handler({"Records": [s3_record(key, size=100 * 1024 * 1024)]}, None)
    assert [job["job_id"] for job in result["jobs"]] == ["job-1"]
    assert result["skipped"] == []


def test_without_max_upload_mb_any_size_is_converted(stubber, monkeypatch):
    monkeypatch.delenv("MAX_UPLOAD_MB", raising=False)
    key = "cats/huge.mov"
    expect_template(stubber)
    expect_job(stubber, "job-1", expected_create_job(
        f"s3://{SOURCE_BUCKET}/{key}", f"s3://{DEST}/cats/huge", key, token_for(key)))
    result = handler.lambda_handler({"Records": [s3_record(key, size=5 * 1024**4)]}, None)
    assert [job["job_id"] for job in result["jobs"]] == ["job-1"]


@pytest.mark.parametrize("bad", ["0", "-5", "ten", "1.5"])
def test_a_bad_max_upload_mb_is_an_error_not_a_silent_pass(stubber, monkeypatch, capsys, bad):
    monkeypatch.setenv("MAX_UPLOAD_MB", bad)
    with pytest.raises(RuntimeError, match="MAX_UPLOAD_MB"):
        handler.lambda_handler({"Records": [s3_record("cats/tabby.mp4", size=10)]}, None)
