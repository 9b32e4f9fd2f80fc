"""Limits that bound the bill ([job] max-upload-mb, max-duration-min,
max-output-minutes-per-day): each rejects exactly the uploads over it and bills
nothing for them (no CreateJob: the Stubber fails on any call not queued); the
rejected object is tagged, shown in the catalog and never submitted by a later
delivery; the MP4 header reader on clips ffmpeg makes (moov first and last),
with ranged reads only; and 20 concurrent uploads against a daily cap that
allows 10 submit 10 jobs, against moto's S3 (its conditional writes made atomic
as S3's are: tests/support/moto_server.py)."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import threading
from pathlib import Path

import boto3
import pytest

import handler
from cattube_test_env import FUNCTION_ENV, REGION
from test_catalog import moto_s3  # noqa: F401 - the fixture
from test_handler import (SOURCE_BUCKET, expect_job, expect_template, expected_create_job,
                          get_job_template_response, s3_record, token_for)

DEST = FUNCTION_ENV["DESTINATION_BUCKET"]
ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None,
                            reason="needs Debian's ffmpeg (scripts/test installs it)")


# --------------------------------------------------------------------------
# Clips made by ffmpeg, and what ffprobe says of them.
# --------------------------------------------------------------------------


def make_clip(path: Path, seconds: int, faststart: bool, noisy: bool = False) -> Path:
    """A video-only clip; a noisy one is big (about 1 MB a second), so reading it whole
    would show."""
    noise = ["-vf", "noise=alls=100:allf=t+u"] if noisy else []
    args = ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc=duration={seconds}:size=320x240:rate=10",
            *noise, "-c:v", "libx264", "-preset", "ultrafast"]
    if faststart:
        args += ["-movflags", "+faststart"]
    subprocess.run([*args, str(path)], check=True)
    return path


def ffprobe_duration(path: Path) -> float:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "json", str(path)],
                         check=True, capture_output=True, text=True).stdout
    return float(json.loads(out)["format"]["duration"])


def top_level_boxes(data: bytes) -> list[bytes]:
    boxes, offset = [], 0
    while offset + 8 <= len(data):
        size = int.from_bytes(data[offset:offset + 4], "big")
        boxes.append(data[offset + 4:offset + 8])
        offset += size
    return boxes


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    if shutil.which("ffmpeg") is None:
        pytest.skip("needs ffmpeg")
    d = tmp_path_factory.mktemp("clips")
    return {
        "moov-first": make_clip(d / "first.mp4", 3, True, noisy=True),
        "moov-last": make_clip(d / "last.mp4", 3, False, noisy=True),
        "mov": make_clip(d / "clip.mov", 2, False, noisy=True),
        "long": make_clip(d / "long.mp4", 75, False),
        "short": make_clip(d / "short.mp4", 45, True),
        "mkv": make_clip(d / "clip.mkv", 2, False),
    }


class Reader:
    """read(start, length) over a file, counting reads and bytes."""

    def __init__(self, data: bytes):
        self.data, self.reads, self.bytes = data, 0, 0

    def __call__(self, start: int, length: int) -> bytes:
        self.reads += 1
        part = self.data[start:start + length]
        self.bytes += len(part)
        return part


@ffmpeg
@pytest.mark.parametrize("clip, reads", [("moov-first", 1), ("moov-last", 2), ("mov", 2)])
def test_the_header_reader_times_ffmpeg_clips_with_ranged_reads_only(clips, clip, reads):
    data = clips[clip].read_bytes()
    order = top_level_boxes(data)
    # The clips are what they claim: moov before or after the media data.
    assert (order.index(b"moov") < order.index(b"mdat")) == (clip == "moov-first"), order
    reader = Reader(data)
    seconds = handler.mp4_duration(reader, len(data))
    assert seconds == pytest.approx(ffprobe_duration(clips[clip]), abs=0.05)
    assert reader.reads == reads
    assert reader.bytes <= reads * handler.MP4_READ_BYTES < len(data)


@ffmpeg
def test_the_header_reader_does_not_guess_other_formats(clips):
    data = clips["mkv"].read_bytes()
    assert handler.mp4_duration(Reader(data), len(data)) is None
    garbage = b"\x00\x00\x00\x04junk" * 100
    assert handler.mp4_duration(Reader(garbage), len(garbage)) is None
    # An mp4 cut before its moov (moov last): no duration, and no endless reading.
    whole = clips["moov-last"].read_bytes()
    cut = whole[: len(whole) // 2]
    reader = Reader(cut)
    assert handler.mp4_duration(reader, len(cut)) is None
    assert reader.reads <= handler.MP4_MAX_READS


# --------------------------------------------------------------------------
# The handler: each limit rejects exactly the uploads over it, with no CreateJob.
# --------------------------------------------------------------------------


def upload(fake_s3, key: str, data: bytes, **record) -> dict:
    """The object in the (in-memory) source bucket and its S3 event."""
    fake_s3.objects[key] = (data, '"0123456789abcdef0123456789abcdef"')
    return {"Records": [s3_record(key, size=len(data), **record)]}


def no_probe(stubber, times: int = 1) -> None:
    """A region where MediaConvert answers no Probe: the header reader decides."""
    for _ in range(times):
        stubber.add_client_error("probe", service_error_code="NotFoundException", http_status_code=404)


def probe_says(stubber, key: str, seconds: float) -> None:
    stubber.add_response("probe", {"ProbeResults": [{"Container": {"Duration": seconds, "Format": "mp4"}}]},
                         {"InputFiles": [{"FileUrl": f"s3://{SOURCE_BUCKET}/{key}"}]})


def expect_submitted(stubber, key: str) -> None:
    base = key.rsplit(".", 1)[0]
    expect_job(stubber, f"job-{base}", expected_create_job(
        f"s3://{SOURCE_BUCKET}/{key}", f"s3://{DEST}/{base}", key, token_for(key)))


def catalog(fake_s3) -> list[dict]:
    return json.loads(fake_s3.objects[handler.CATALOG_KEY][0])["videos"]


def assert_rejected(fake_s3, key: str, limit: str) -> dict:
    """The rejection is recorded three ways: tag, catalog entry, claim."""
    assert (handler.REJECTED_TAG, limit) in fake_s3.tags[key]
    (entry,) = [v for v in catalog(fake_s3) if v["key"] == key]
    assert entry["status"] == "REJECTED" and entry["job_id"] is None and entry["limit"] == limit
    assert entry["error"]
    assert fake_s3.claims()[handler.claim_key(token_for(key))]["state"] == "REJECTED"
    assert key in fake_s3.objects  # kept, never deleted by the function
    return entry


def test_max_upload_mb_rejects_a_larger_upload_tags_it_and_keeps_its_tags(stubber, fake_s3, monkeypatch, capsys):
    monkeypatch.setenv("MAX_UPLOAD_MB", "1")
    key = "cats/3 hours of 4K.mov"
    event = upload(fake_s3, key, b"x" * (1024 * 1024 + 1))
    fake_s3.tags[key] = [("team", "video")]
    # Nothing queued: any MediaConvert call (GetJobTemplate, Probe, CreateJob) fails the test.
    result = handler.lambda_handler(event, None)
    assert result == {"jobs": [], "skipped": [{"key": key, "reason": "larger than 1 MB", "limit": "max-upload-mb"}]}
    assert_rejected(fake_s3, key, "max-upload-mb")
    assert ("team", "video") in fake_s3.tags[key]
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert any(line["message"] == "upload rejected: larger than 1 MB" for line in lines)


def test_max_upload_mb_converts_an_upload_of_exactly_the_limit(stubber, fake_s3, monkeypatch):
    monkeypatch.setenv("MAX_UPLOAD_MB", "1")
    key = "cats/tabby.mp4"
    event = upload(fake_s3, key, b"x" * (1024 * 1024))
    expect_template(stubber)
    expect_submitted(stubber, key)
    assert [j["job_id"] for j in handler.lambda_handler(event, None)["jobs"]] == ["job-cats/tabby"]
    assert key not in fake_s3.tags


@pytest.mark.parametrize("seconds, rejected", [(600.0, False), (600.5, True), (10800.0, True)])
def test_max_duration_min_with_probe_rejects_exactly_the_longer_uploads(stubber, fake_s3, monkeypatch,
                                                                        seconds, rejected):
    monkeypatch.setenv("MAX_DURATION_MIN", "10")
    key = "cats/tabby.mp4"
    event = upload(fake_s3, key, b"not read: Probe answers")
    probe_says(stubber, key, seconds)
    if not rejected:
        expect_template(stubber)
        expect_submitted(stubber, key)
    result = handler.lambda_handler(event, None)
    assert bool(result["jobs"]) is not rejected
    if rejected:
        entry = assert_rejected(fake_s3, key, "max-duration-min")
        assert entry["duration_ms"] == int(seconds * 1000)
        assert entry["error"] == f"longer than 10 min ({seconds / 60:.1f} min)"
    assert fake_s3.ranges == []  # Probe answered: the file itself is not read


@ffmpeg
def test_max_duration_min_without_probe_reads_the_header_and_rejects_the_longer_clip(stubber, fake_s3, monkeypatch,
                                                                                     clips):
    monkeypatch.setenv("MAX_DURATION_MIN", "1")
    no_probe(stubber, 2)
    expect_template(stubber)
    expect_submitted(stubber, "cats/short.mp4")
    for name in ("long", "short"):
        handler.lambda_handler(upload(fake_s3, f"cats/{name}.mp4", clips[name].read_bytes()), None)
    assert_rejected(fake_s3, "cats/long.mp4", "max-duration-min")
    statuses = {v["key"]: v["status"] for v in catalog(fake_s3)}
    assert statuses == {"cats/long.mp4": "REJECTED", "cats/short.mp4": "SUBMITTED"}
    # Ranged reads only, each at most MP4_READ_BYTES.
    assert fake_s3.ranges and all(r.startswith("bytes=") for _, r in fake_s3.ranges)
    for _, wanted in fake_s3.ranges:
        start, end = map(int, wanted.removeprefix("bytes=").split("-"))
        assert end - start + 1 <= handler.MP4_READ_BYTES


@ffmpeg
def test_a_file_no_one_can_time_is_rejected_when_a_duration_limit_is_set(stubber, fake_s3, monkeypatch, clips):
    """Fail closed: an unknown duration cannot be bounded (docs/conversion.md says why)."""
    monkeypatch.setenv("MAX_DURATION_MIN", "60")
    key = "cats/clip.mkv"
    no_probe(stubber)
    handler.lambda_handler(upload(fake_s3, key, clips["mkv"].read_bytes()), None)
    entry = assert_rejected(fake_s3, key, "max-duration-min")
    assert entry["error"].startswith("duration unknown")


def test_a_rejected_upload_is_never_submitted_by_a_later_delivery(stubber, fake_s3, monkeypatch):
    monkeypatch.setenv("MAX_DURATION_MIN", "10")
    key = "cats/tabby.mp4"
    event = upload(fake_s3, key, b"x")
    probe_says(stubber, key, 3600.0)  # once: a second Probe or any CreateJob fails the test
    handler.lambda_handler(copy.deepcopy(event), None)
    for _ in range(3):
        again = handler.lambda_handler(copy.deepcopy(event), None)
        assert again == {"jobs": [], "skipped": [{"key": key, "reason": "already rejected",
                                                  "limit": "max-duration-min"}]}
    assert len([v for v in catalog(fake_s3) if v["key"] == key]) == 1


def test_a_new_accepted_upload_of_a_rejected_key_replaces_the_rejection(stubber, fake_s3, monkeypatch):
    monkeypatch.setenv("MAX_DURATION_MIN", "10")
    key = "cats/tabby.mp4"
    probe_says(stubber, key, 3600.0)
    handler.lambda_handler(upload(fake_s3, key, b"x"), None)
    probe_says(stubber, key, 60.0)
    expect_template(stubber)
    base = "cats/tabby"
    token = token_for(key, sequencer="00FF")
    expect_job(stubber, "job-2", expected_create_job(f"s3://{SOURCE_BUCKET}/{key}", f"s3://{DEST}/{base}", key, token))
    handler.lambda_handler(upload(fake_s3, key, b"x", sequencer="00FF"), None)
    assert [(v["status"], v["job_id"]) for v in catalog(fake_s3)] == [("SUBMITTED", "job-2")]


def test_the_daily_cap_counts_billed_output_minutes_and_rejects_the_upload_over_it(stubber, fake_s3, monkeypatch):
    # The default job.json bills one output minute per output per source minute, 10 s at least.
    outputs = sum(len(g["Outputs"]) for g in get_job_template_response()["JobTemplate"]["Settings"]["OutputGroups"])
    monkeypatch.setenv("MAX_OUTPUT_MINUTES_PER_DAY", str(3 * outputs))
    keys = ["cats/a.mp4", "cats/b.mp4", "cats/c.mp4", "cats/d.mp4"]
    seconds = [60.0, 90.0, 30.0, 5.0]  # 1 + 1.5 + 0.5 = 3 source minutes; then the 10 s minimum is over
    for key, s in zip(keys, seconds):  # each invocation reads the template once
        probe_says(stubber, key, s)
        expect_template(stubber)
        if key != "cats/d.mp4":
            expect_submitted(stubber, key)
    for key in keys:
        handler.lambda_handler(upload(fake_s3, key, b"x"), None)
    entry = assert_rejected(fake_s3, "cats/d.mp4", "max-output-minutes-per-day")
    assert f"over today's {3 * outputs} output minutes" in entry["error"]
    usage = json.loads(fake_s3.objects[handler.day_usage_key()][0])
    assert usage["output_minutes"] == pytest.approx(3 * outputs)
    assert sorted(usage["jobs"]) == sorted(token_for(k) for k in keys[:3])


def test_the_daily_cap_counts_a_retried_upload_once(stubber, fake_s3, monkeypatch):
    """CreateJob fails after the minutes were counted: the retry is not counted again."""
    monkeypatch.setenv("MAX_OUTPUT_MINUTES_PER_DAY", "1000")
    key = "cats/a.mp4"
    event = upload(fake_s3, key, b"x")
    probe_says(stubber, key, 60.0)
    expect_template(stubber)
    stubber.add_client_error("create_job", service_error_code="TooManyRequestsException", http_status_code=429)
    with pytest.raises(Exception):
        handler.lambda_handler(copy.deepcopy(event), None)
    stubber.add_response("list_jobs", {"Jobs": []})  # the takeover looks for an earlier job first
    probe_says(stubber, key, 60.0)
    expect_template(stubber)
    expect_submitted(stubber, key)
    handler.lambda_handler(copy.deepcopy(event), None)
    usage = json.loads(fake_s3.objects[handler.day_usage_key()][0])
    assert list(usage["jobs"]) == [token_for(key)]


def test_without_limits_nothing_is_probed_or_read(stubber, fake_s3):
    key = "cats/tabby.mp4"
    expect_template(stubber)
    expect_submitted(stubber, key)
    handler.lambda_handler(upload(fake_s3, key, b"x"), None)
    assert fake_s3.ranges == [] and key not in fake_s3.tags


@pytest.mark.parametrize("name", ["MAX_DURATION_MIN", "MAX_OUTPUT_MINUTES_PER_DAY"])
@pytest.mark.parametrize("bad", ["0", "-5", "ten", "1.5"])
def test_a_bad_limit_is_an_error_not_a_silent_pass(stubber, fake_s3, monkeypatch, name, bad):
    monkeypatch.setenv(name, bad)
    with pytest.raises(RuntimeError, match=name):
        handler.lambda_handler(upload(fake_s3, "cats/tabby.mp4", b"x"), None)


# --------------------------------------------------------------------------
# 20 concurrent uploads against a daily cap that allows 10: at most 10 jobs.
# The handler runs for real against moto's S3 (conditional writes as S3's);
# MediaConvert is a counter with the real API model.
# --------------------------------------------------------------------------


class CountingMediaConvert:
    """Probe answers 30 s for every file; CreateJob is counted."""

    def __init__(self, template: dict):
        self.meta = boto3.client("mediaconvert", region_name=REGION).meta
        self.template = template
        self.created: list[str] = []
        self.lock = threading.Lock()

    def probe(self, InputFiles):
        return {"ProbeResults": [{"Container": {"Duration": 30.0}}]}

    def get_job_template(self, Name):
        return {"JobTemplate": copy.deepcopy(self.template)}

    def create_job(self, **request):
        with self.lock:
            self.created.append(request["Settings"]["Inputs"][0]["FileInput"])
            return {"Job": {"Id": f"job-{len(self.created)}", "Role": request["Role"], "Settings": request["Settings"]}}


@pytest.mark.loopback
def test_twenty_concurrent_uploads_against_a_cap_of_ten_submit_ten_jobs(moto_s3, monkeypatch):  # noqa: F811
    template = get_job_template_response()["JobTemplate"]
    per_upload = handler.billed_output_minutes(template, 30.0)
    monkeypatch.setenv("MAX_OUTPUT_MINUTES_PER_DAY", str(int(10 * per_upload)))
    mediaconvert = CountingMediaConvert(template)
    monkeypatch.setattr(handler, "_CLIENT", mediaconvert)
    moto_s3.create_bucket(Bucket=SOURCE_BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    keys = [f"cats/{i:02d}.mp4" for i in range(20)]
    for key in keys:
        moto_s3.put_object(Bucket=SOURCE_BUCKET, Key=key, Body=b"x")
    start = threading.Barrier(len(keys))
    errors = []

    def one(key):
        try:
            start.wait()
            handler.lambda_handler({"Records": [s3_record(key, size=1)]}, None)
        except Exception as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=one, args=(key,)) for key in keys]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(mediaconvert.created) == 10
    doc = json.loads(moto_s3.get_object(Bucket=DEST, Key=handler.CATALOG_KEY)["Body"].read())
    statuses = sorted(v["status"] for v in doc["videos"])
    assert statuses == ["REJECTED"] * 10 + ["SUBMITTED"] * 10
    usage = json.loads(moto_s3.get_object(Bucket=DEST, Key=handler.day_usage_key())["Body"].read())
    assert len(usage["jobs"]) == 10 and usage["output_minutes"] == pytest.approx(10 * per_upload)
    # Each rejected object carries the tag, in the real (emulated) S3.
    rejected = {v["key"] for v in doc["videos"] if v["status"] == "REJECTED"}
    for key in rejected:
        tags = moto_s3.get_object_tagging(Bucket=SOURCE_BUCKET, Key=key)["TagSet"]
        assert {"Key": handler.REJECTED_TAG, "Value": "max-output-minutes-per-day"} in tags
