"""catalog.json: the entry added at submission, updated from MediaConvert's job
state change events (AWS's documented examples), its outputs' codecs strings
derived from the job's own settings, the conditional writes that never lose an
entry (50 concurrent updates against moto's S3), and the notifications."""

from __future__ import annotations

import copy
import json
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.stub import Stubber

import handler
from cattube_test_env import ACCOUNT, FUNCTION_ENV, REGION

DEST = FUNCTION_ENV["DESTINATION_BUCKET"]
QUEUE = FUNCTION_ENV["QUEUE_ARN"]
JOB_ID = "1536964333549-opn151"
ROOT = Path(__file__).resolve().parents[2]


def documented(status: str) -> dict:
    """AWS's example events ("EventBridge events for MediaConvert", MediaConvert User
    Guide: ev_status_progressing, ev_status_status_update, file-group (COMPLETE),
    ev_status_error), as published, with three changes: the queue is this stack's (the
    examples use the account's Default queue, which the stack's rule never matches), the
    job id is one job's throughout, and the COMPLETE example's JSON is made valid (it has
    trailing commas and a "blackSegments" list of bare members) with its output path in
    the stack's destination bucket."""
    base = {
        "version": "0",
        "id": "1234abcd-12ab-34cd-56ef-1234567890ab",
        "detail-type": "MediaConvert Job State Change",
        "source": "aws.mediaconvert",
        "account": "111122223333",
        "region": "us-west-2",
        "resources": [f"arn:aws:mediaconvert:us-west-2:111122223333:jobs/{JOB_ID}"],
    }
    if status == "PROGRESSING":
        return {**base, "time": "2022-12-19T19:20:21Z", "detail": {
            "timestamp": 1671477621654, "accountId": "111122223333", "queue": QUEUE,
            "jobId": JOB_ID, "status": "PROGRESSING", "userMetadata": {}}}
    if status == "STATUS_UPDATE":
        return {**base, "time": "2022-12-19T19:21:21Z", "detail": {
            "timestamp": 1671477681737, "accountId": "111122223333", "queue": QUEUE,
            "jobId": JOB_ID, "status": "STATUS_UPDATE", "userMetadata": {},
            "framesDecoded": 353,
            "jobProgress": {
                "phaseProgress": {
                    "PROBING": {"status": "COMPLETE", "percentComplete": 100},
                    "TRANSCODING": {"status": "PROGRESSING", "percentComplete": 2},
                    "UPLOADING": {"status": "PENDING", "percentComplete": 0}},
                "jobPercentComplete": 7, "currentPhase": "TRANSCODING",
                "retryCount": 0}}}
    if status == "COMPLETE":
        return {**base, "time": "2018-09-14T21:54:31Z", "detail": {
            "status": "COMPLETE", "paddingInserted": 0, "blackVideoDetected": 10,
            "blackSegments": [{"start": 0, "end": 10}],
            "outputGroupDetails": [{
                "outputDetails": [
                    {"outputFilePaths": [f"s3://{DEST}/cats/tabby cat-hd.mp4"], "durationInMs": 180041,
                     "videoDetails": {"averageBitrate": 200000, "widthInPx": 1280, "heightInPx": 720,
                                      "qvbrAvgQuality": 7.38, "qvbrMinQuality": 7, "qvbrMaxQuality": 8,
                                      "qvbrMinQualityLocation": 2168, "qvbrMaxQualityLocation": 25025}},
                    {"outputFilePaths": [f"s3://{DEST}/cats/tabby cat-sd.mp4"], "durationInMs": 180041,
                     "videoDetails": {"widthInPx": 256, "heightInPx": 144}}],
                "type": "FILE_GROUP"}],
            "timestamp": 1536964380391, "accountId": "111122223333", "queue": QUEUE,
            "jobId": JOB_ID, "userMetadata": {}, "warnings": [{"code": 0, "count": 1}]}}
    if status == "ERROR":
        return {**base, "time": "2022-12-19T19:07:12Z", "detail": {
            "timestamp": 1671476832075, "accountId": "111122223333", "queue": QUEUE,
            "jobId": JOB_ID, "status": "ERROR", "errorCode": 1040,
            "errorMessage": "Example error message", "userMetadata": {}}}
    raise ValueError(status)


def job_settings() -> dict:
    job = json.loads((ROOT / "lambda-artifact" / "job.json").read_text())
    return handler.build_settings(job["Settings"], f"s3://src/cats/tabby cat.mp4", f"s3://{DEST}/cats/tabby cat")


def get_job_response(settings: dict) -> dict:
    return {"Job": {"Id": JOB_ID, "Role": FUNCTION_ENV["MEDIACONVERT_ROLE_ARN"], "Settings": settings}}


def catalog(fake_s3) -> dict:
    return json.loads(fake_s3.objects[handler.CATALOG_KEY][0])


def submit(key: str = "cats/tabby cat.mp4") -> None:
    handler.catalog_submitted(FUNCTION_ENV, key, JOB_ID)


def test_a_submitted_job_is_added_with_if_none_match_then_updated_with_if_match(fake_s3, monkeypatch):
    sent = []
    original = fake_s3._send

    def spy(request, **kwargs):
        if request.method == "PUT":
            sent.append({k: request.headers.get(k) for k in ("If-None-Match", "If-Match", "Cache-Control",
                                                           "Content-Type")})
        return original(request, **kwargs)

    fake_s3.client.meta.events.unregister("before-send.s3", original)
    fake_s3.client.meta.events.register("before-send.s3", spy)
    submit()
    (video,) = catalog(fake_s3)["videos"]
    assert video["key"] == "cats/tabby cat.mp4"
    assert video["status"] == "SUBMITTED" and video["job_id"] == JOB_ID and video["outputs"] == []
    assert video["submitted"].endswith("Z") and video["percent"] is None
    read_etag = fake_s3.objects[handler.CATALOG_KEY][1]  # what the update reads, before it writes
    handler.handle_job_event(FUNCTION_ENV, documented("PROGRESSING"))
    as_text = lambda v: v.decode() if isinstance(v, bytes) else v
    assert as_text(sent[0]["If-None-Match"]) == "*" and sent[0]["If-Match"] is None
    assert as_text(sent[1]["If-Match"]) == read_etag
    assert read_etag != fake_s3.objects[handler.CATALOG_KEY][1]  # the write made a new one
    assert sent[1]["If-None-Match"] is None
    assert all(as_text(s["Cache-Control"]) == "no-cache" for s in sent)
    assert all(as_text(s["Content-Type"]) == "application/json" for s in sent)


@pytest.mark.parametrize("may_list", [False, True], ids=["403 without ListBucket", "404 with ListBucket"])
def test_the_first_submission_creates_the_catalog_whether_a_missing_key_answers_403_or_404(fake_s3, may_list):
    fake_s3.may_list = may_list
    submit()
    assert [v["job_id"] for v in catalog(fake_s3)["videos"]] == [JOB_ID]
    # A job event into a fresh stack (no entry, no catalog) creates it too.
    del fake_s3.objects[handler.CATALOG_KEY]
    handler.handle_job_event(FUNCTION_ENV, documented("PROGRESSING"))
    assert [v["status"] for v in catalog(fake_s3)["videos"]] == ["PROGRESSING"]


def test_a_catalog_the_role_may_not_read_is_never_overwritten(fake_s3):
    before = json.dumps({"version": 1, "videos": [handler.new_entry("a.mp4", "job-a", "2024-01-01T00:00:00Z")]})
    fake_s3.objects[handler.CATALOG_KEY] = (before.encode(), '"etag-before"')
    fake_s3.denied_get.add(handler.CATALOG_KEY)
    with pytest.raises(handler.CatalogUnreadable, match="catalog.json exists but GetObject of it is denied"):
        handler.update_catalog(DEST, lambda videos: videos.append(handler.new_entry("b.mp4", "job-b", "now")) or True)
    assert fake_s3.objects[handler.CATALOG_KEY][0] == before.encode()
    # It gave up at once: one absent read, one refused write, one more read.
    assert [op for op, key in fake_s3.calls if key == handler.CATALOG_KEY] == ["GetObject", "PutObject", "GetObject"]


def test_the_documented_events_move_the_entry_along(fake_s3, stubber):
    submit()
    handler.handle_job_event(FUNCTION_ENV, documented("PROGRESSING"))
    assert catalog(fake_s3)["videos"][0]["status"] == "PROGRESSING"
    handler.handle_job_event(FUNCTION_ENV, documented("STATUS_UPDATE"))
    (video,) = catalog(fake_s3)["videos"]
    assert (video["status"], video["percent"]) == ("PROGRESSING", 7)
    assert video["updated"] == "2022-12-19T19:21:21Z"

    stubber.add_response("get_job", get_job_response(job_settings()), {"Id": JOB_ID})
    handler.handle_job_event(FUNCTION_ENV, documented("COMPLETE"))
    (video,) = catalog(fake_s3)["videos"]
    assert video["status"] == "COMPLETE" and video["percent"] == 100
    assert video["duration_ms"] == 180041
    hd, sd = video["outputs"]
    assert hd == {"path": "cats/tabby cat-hd.mp4", "container": "mp4", "codec": "hevc", "width": 1280,
                  "height": 720, "bitrate": 200000,
                  # HEVC Main, Main tier, level 4 (AUTO at 1280x720 is 3.1: L93), tagged hvc1.
                  "mime": 'video/mp4; codecs="hvc1.1.6.L93.90,mp4a.40.2"'}
    assert sd["codec"] == "av1" and (sd["width"], sd["height"]) == (256, 144)
    assert sd["mime"] == 'video/mp4; codecs="av01.0.00M.08,mp4a.40.2"'
    assert sd["bitrate"] == 100000  # the settings' MaxBitrate: the event has no average

    # A late or repeated event never moves a finished entry back.
    handler.handle_job_event(FUNCTION_ENV, documented("STATUS_UPDATE"))
    assert catalog(fake_s3)["videos"][0]["status"] == "COMPLETE"


def test_an_error_keeps_mediaconverts_message_and_is_published_once(fake_s3, monkeypatch):
    monkeypatch.setenv("TOPIC_ARN", f"arn:aws:sns:{REGION}:{ACCOUNT}:cattube-jobs")
    sns = boto3.client("sns", region_name=REGION)
    monkeypatch.setattr(handler, "_SNS", sns)
    submit()
    with Stubber(sns) as stub:
        stub.add_response("publish", {"MessageId": "1"}, {
            "TopicArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:cattube-jobs",
            "Subject": "cattube: error cats/tabby cat.mp4",
            "Message": f"cats/tabby cat.mp4: ERROR\njob {JOB_ID}\nMediaConvert: Example error message"})
        handler.handle_job_event(FUNCTION_ENV, documented("ERROR"))
        # EventBridge may deliver an event twice: one message per finished job.
        handler.handle_job_event(FUNCTION_ENV, documented("ERROR"))
        stub.assert_no_pending_responses()
    (video,) = catalog(fake_s3)["videos"]
    assert (video["status"], video["error"]) == ("ERROR", "Example error message")


def test_a_complete_job_is_published_with_its_playback_urls(fake_s3, stubber, monkeypatch):
    monkeypatch.setenv("TOPIC_ARN", f"arn:aws:sns:{REGION}:{ACCOUNT}:cattube-jobs")
    monkeypatch.setenv("PLAYBACK_DOMAIN", "d111111abcdef8.cloudfront.net")
    sns = boto3.client("sns", region_name=REGION)
    monkeypatch.setattr(handler, "_SNS", sns)
    submit()
    stubber.add_response("get_job", get_job_response(job_settings()), {"Id": JOB_ID})
    with Stubber(sns) as stub:
        stub.add_response("publish", {"MessageId": "1"}, {
            "TopicArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:cattube-jobs",
            "Subject": "cattube: complete cats/tabby cat.mp4",
            "Message": "\n".join([
                "cats/tabby cat.mp4: COMPLETE", f"job {JOB_ID}",
                "hevc 1280x720: https://d111111abcdef8.cloudfront.net/cats/tabby%20cat-hd.mp4",
                "av1 256x144: https://d111111abcdef8.cloudfront.net/cats/tabby%20cat-sd.mp4"])})
        handler.handle_job_event(FUNCTION_ENV, documented("COMPLETE"))
        stub.assert_no_pending_responses()


def test_an_event_of_another_queue_changes_nothing(fake_s3):
    event = documented("PROGRESSING")
    event["detail"]["queue"] = f"arn:aws:mediaconvert:{REGION}:{ACCOUNT}:queues/Default"
    assert handler.handle_job_event(FUNCTION_ENV, event) == {"ignored": "another queue"}
    assert handler.CATALOG_KEY not in fake_s3.objects


def test_an_event_before_the_submission_entry_adds_it_from_the_jobs_metadata(fake_s3):
    event = documented("PROGRESSING")
    event["detail"]["userMetadata"] = {"cattube:stack": "cattube", "cattube:source-key": "cats/early.mp4"}
    handler.handle_job_event(FUNCTION_ENV, event)
    submit("cats/early.mp4")  # the submission's own write comes second: no duplicate
    (video,) = catalog(fake_s3)["videos"]
    assert (video["key"], video["status"]) == ("cats/early.mp4", "PROGRESSING")


def test_a_late_status_update_never_moves_percent_back(fake_s3):
    submit()
    ahead = documented("STATUS_UPDATE")
    ahead["detail"]["jobProgress"]["jobPercentComplete"] = 60
    handler.handle_job_event(FUNCTION_ENV, ahead)
    assert catalog(fake_s3)["videos"][0]["percent"] == 60
    handler.handle_job_event(FUNCTION_ENV, documented("STATUS_UPDATE"))  # 7 %, delivered late
    assert catalog(fake_s3)["videos"][0]["percent"] == 60
    ahead["detail"]["jobProgress"]["jobPercentComplete"] = 80
    handler.handle_job_event(FUNCTION_ENV, ahead)
    assert catalog(fake_s3)["videos"][0]["percent"] == 80


def test_a_complete_event_without_output_paths_falls_back_to_the_jobs_settings(fake_s3, stubber):
    """An accelerated job's COMPLETE event can come without outputFilePaths: the paths
    follow from the job's destination and name modifiers, the sizes from GetJob."""
    submit()
    event = documented("COMPLETE")
    event["detail"]["outputGroupDetails"] = []
    job = get_job_response(job_settings())
    job["Job"]["OutputGroupDetails"] = [{"OutputDetails": [
        {"DurationInMs": 180041, "VideoDetails": {"WidthInPx": 1280, "HeightInPx": 720}},
        {"DurationInMs": 180041, "VideoDetails": {"WidthInPx": 256, "HeightInPx": 144}}]}]
    stubber.add_response("get_job", job, {"Id": JOB_ID})
    handler.handle_job_event(FUNCTION_ENV, event)
    (video,) = catalog(fake_s3)["videos"]
    assert video["status"] == "COMPLETE" and video["duration_ms"] == 180041
    assert [(o["path"], o["width"], o["height"]) for o in video["outputs"]] == [
        ("cats/tabby cat-hd.mp4", 1280, 720), ("cats/tabby cat-sd.mp4", 256, 144)]


def test_a_failed_publish_is_logged_as_an_error_and_counted(fake_s3, stubber, monkeypatch, capsys):
    monkeypatch.setenv("TOPIC_ARN", f"arn:aws:sns:{REGION}:{ACCOUNT}:cattube-jobs")
    sns = boto3.client("sns", region_name=REGION)
    monkeypatch.setattr(handler, "_SNS", sns)
    submit()
    with Stubber(sns) as stub:
        stub.add_client_error("publish", "AuthorizationError", "not allowed", 403)
        result = handler.handle_job_event(FUNCTION_ENV, documented("ERROR"))
    assert result["notification_failed"] is True
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    (failed,) = [line for line in lines if line["level"] == "ERROR"]
    assert failed["error_code"] == "AuthorizationError" and failed["NotificationsFailed"] == 1
    # CloudWatch's embedded metric format: the line itself is the metric's data point.
    (directive,) = failed["_aws"]["CloudWatchMetrics"]
    assert directive["Metrics"] == [{"Name": "NotificationsFailed", "Unit": "Count"}]
    assert all(dim in failed for dims in directive["Dimensions"] for dim in dims)
    assert isinstance(failed["_aws"]["Timestamp"], int)


@pytest.mark.parametrize("key", ["cats/tabby cat (1).mp4", "kätzchen+%41.mp4", "x/" + "y" * 1018 + ".mp4"])
def test_an_event_before_the_submission_entry_carries_the_exact_key(fake_s3, stubber, key):
    """The entry an event makes carries the key exactly, however MediaConvert's
    metadata had to hold it (escaped; cut with its hash when long: then GetJob's input)."""
    import test_handler

    upload = handler.parse_record(test_handler.s3_record(urllib.parse.quote_plus(key, safe="/")))
    assert upload["key"] == key
    event = documented("PROGRESSING")
    event["detail"]["userMetadata"] = handler.user_metadata("cattube", key, "t" * 64)
    if "cattube:source-key-sha256" in event["detail"]["userMetadata"]:
        settings = handler.build_settings(job_settings(), f"s3://src/{key}", f"s3://{DEST}/x")
        stubber.add_response("get_job", get_job_response(settings), {"Id": JOB_ID})
    handler.handle_job_event(FUNCTION_ENV, event)
    submit(key)  # the submission's own write comes second: no duplicate
    (video,) = catalog(fake_s3)["videos"]
    assert video["key"] == key


def test_an_hls_group_is_one_output_with_the_master_playlist_and_the_ladders_top_codecs():
    def rung(width, height, profile, level):
        return {"NameModifier": f"_{height}p", "ContainerSettings": {"Container": "M3U8"},
                "VideoDescription": {"Width": width, "Height": height, "CodecSettings": {
                    "Codec": "H_264", "H264Settings": {"CodecProfile": profile, "CodecLevel": level,
                                                       "RateControlMode": "QVBR", "MaxBitrate": height * 5000}}},
                "AudioDescriptions": [{"CodecSettings": {"Codec": "AAC", "AacSettings": {"Bitrate": 96000}}}]}

    settings = {"OutputGroups": [{
        "OutputGroupSettings": {"Type": "HLS_GROUP_SETTINGS", "HlsGroupSettings": {"Destination": f"s3://{DEST}/cats/x"}},
        "Outputs": [rung(640, 360, "MAIN", "AUTO"), rung(1920, 1080, "HIGH", "LEVEL_4"), rung(1280, 720, "HIGH", "AUTO")]}]}
    details = [{"type": "HLS_GROUP", "playlistFilePaths": [f"s3://{DEST}/cats/x.m3u8"],
                "outputDetails": [{"outputFilePaths": [f"s3://{DEST}/cats/x_{h}p.m3u8"], "durationInMs": 5000,
                                   "videoDetails": {"widthInPx": w, "heightInPx": h}}
                                  for w, h in ((640, 360), (1920, 1080), (1280, 720))]}]
    (output,) = handler.catalog_outputs(DEST, settings, details)
    assert output["path"] == "cats/x.m3u8" and output["container"] == "hls" and output["codec"] == "h264"
    assert (output["width"], output["height"]) == (1920, 1080)
    assert output["mime"] == 'application/vnd.apple.mpegurl; codecs="avc1.640028,mp4a.40.2"'


@pytest.mark.parametrize("codec_settings, size, want", [
    ({"Codec": "H_264", "H264Settings": {"CodecProfile": "MAIN", "CodecLevel": "LEVEL_3_1"}}, (1280, 720), "avc1.4D001F"),
    ({"Codec": "H_264", "H264Settings": {}}, (1920, 1080), "avc1.4D0028"),
    ({"Codec": "H_265", "H265Settings": {"CodecProfile": "MAIN10_HIGH", "CodecLevel": "LEVEL_5_1",
                                         "WriteMp4PackagingType": "HVC1"}}, (3840, 2160), "hvc1.2.4.H153.90"),
    ({"Codec": "H_265", "H265Settings": {}}, (1920, 1080), "hev1.1.6.L120.90"),
    ({"Codec": "AV1", "Av1Settings": {"BitDepth": "BIT_10"}}, (1920, 1080), "av01.0.08M.10"),
    ({"Codec": "VP9"}, (1920, 1080), None),
])
def test_codecs_strings_follow_the_settings(codec_settings, size, want):
    assert handler.video_codecs(codec_settings, *size) == want


def test_the_catalog_holds_only_what_the_player_needs(fake_s3, stubber):
    submit()
    stubber.add_response("get_job", get_job_response(job_settings()), {"Id": JOB_ID})
    handler.handle_job_event(FUNCTION_ENV, documented("COMPLETE"))
    text = fake_s3.objects[handler.CATALOG_KEY][0].decode()
    for secret in ("s3://", ACCOUNT, "111122223333", "arn:", "Settings", "QVBR", "src"):
        assert secret not in text, secret
    (video,) = json.loads(text)["videos"]
    assert set(video) == {"key", "status", "percent", "job_id", "submitted", "updated", "duration_ms",
                          "error", "outputs"}


# --------------------------------------------------------------------------
# 50 concurrent updates against moto's S3 server, which enforces If-Match and
# If-None-Match: * on PutObject as S3 does (tests/support/moto_server.py).
# --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def moto_s3(monkeypatch):
    port = free_port()
    server = subprocess.Popen([sys.executable, str(ROOT / "tests" / "support" / "moto_server.py"),
                               "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        client = boto3.client("s3", region_name=REGION, endpoint_url=f"http://127.0.0.1:{port}",
                              config=Config(s3={"addressing_style": "path"}, max_pool_connections=60,
                                            retries={"mode": "standard"}))
        deadline = time.time() + 30
        while True:
            try:
                client.list_buckets()
                break
            except Exception:
                if time.time() > deadline:
                    raise
                time.sleep(0.2)
        client.create_bucket(Bucket=DEST, CreateBucketConfiguration={"LocationConstraint": REGION})
        monkeypatch.setattr(handler, "_S3", client)
        yield client
    finally:
        server.terminate()
        server.wait(10)


@pytest.mark.loopback
def test_fifty_concurrent_updates_lose_no_entry(moto_s3):
    # moto enforces the conditions (the claims' tests rely on it too): shown here first.
    moto_s3.put_object(Bucket=DEST, Key="probe", Body=b"1", IfNoneMatch="*")
    with pytest.raises(Exception) as refused:
        moto_s3.put_object(Bucket=DEST, Key="probe", Body=b"2", IfMatch='"not-its-etag"')
    assert handler._error_code(refused.value) == "PreconditionFailed"

    errors = []
    start = threading.Barrier(50)

    def one(i):
        try:
            start.wait()
            handler.update_catalog(DEST, lambda videos: videos.append(
                handler.new_entry(f"cats/{i}.mp4", f"job-{i}", handler.rfc3339())) or True)
        except Exception as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    doc = json.loads(moto_s3.get_object(Bucket=DEST, Key=handler.CATALOG_KEY)["Body"].read())
    assert sorted(v["job_id"] for v in doc["videos"]) == sorted(f"job-{i}" for i in range(50))
