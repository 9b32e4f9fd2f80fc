"""The stand-in with --convert: real conversions with ffmpeg against moto.

Each of cattube's profiles (lambda-artifact/job.json, profiles/web.json, profiles/hls.json)
becomes a job template, and each job is built by the converter function's own code
(handler.build_settings / output_destination), so what is converted here is what a deployed
stack submits. Outputs are read back from moto's S3 and checked with ffprobe; the job state
change events are caught by an EventBridge rule (pattern: source aws.mediaconvert) whose
target is an SQS queue, both in moto.
"""
import importlib.util
import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SERVER = HERE / "server.py"
sys.path.insert(0, str(HERE))
import convert  # noqa: E402

spec = importlib.util.spec_from_file_location("handler", ROOT / "lambda-artifact" / "handler.py")
handler = importlib.util.module_from_spec(spec)
spec.loader.exec_module(handler)

REGION = "us-east-1"
SOURCE, DEST = "cattube-source", "cattube-destination"
KEY = "cats/tabby cat (1).mp4"
ROLE_TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "mediaconvert.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
PROFILES = {"tutorial": ROOT / "lambda-artifact" / "job.json",
            "web": ROOT / "lambda-artifact" / "profiles" / "web.json",
            "hls": ROOT / "lambda-artifact" / "profiles" / "hls.json"}
CLIP = {"width": 320, "height": 180, "seconds": 2}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, what):
    for _ in range(300):
        if proc.poll() is not None:
            pytest.fail(f"{what} exited {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"{what} did not answer on {port}")


def ffprobe(path):
    out = subprocess.run(["ffprobe", "-v", "error", "-print_format", "json", "-show_format",
                          "-show_streams", str(path)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def start_moto(log_dir, extra_env=None):
    """moto (tests/support/moto_server.py) on a free loopback port: (process, environment
    for its clients)."""
    port = free_port()
    log = open(log_dir / "moto.log", "w")
    moto = subprocess.Popen([sys.executable, str(ROOT / "tests" / "support" / "moto_server.py"),
                             "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=log,
                            env={**os.environ, **(extra_env or {})})
    wait_port(port, moto, "moto")
    return moto, {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", **CREDENTIALS,
                  "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION,
                  "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
                  "AWS_EC2_METADATA_DISABLED": "true"}


def stop(proc):
    proc.terminate()
    proc.wait(timeout=10)


def clients(env):
    def client(service):
        return boto3.client(service, endpoint_url=env["AWS_ENDPOINT_URL"], region_name=REGION,
                            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])
    return client


def start_standin(env, log_path):
    """server.py --convert, STATUS_UPDATE every 0.3 s so a 2 s clip shows some:
    (process, endpoint)."""
    proc = subprocess.Popen([sys.executable, str(SERVER), "--port", "0", "--convert",
                             "--status-update-seconds", "0.3"],
                            stdout=subprocess.PIPE, stderr=open(log_path, "w"), text=True,
                            env={**os.environ, **env})
    line = proc.stdout.readline()
    m = re.fullmatch(r"listening on (http://127\.0\.0\.1:\d+)\n", line)
    assert m, (line, log_path.read_text())
    return proc, m.group(1)


def mediaconvert(endpoint):
    return boto3.client("mediaconvert", endpoint_url=endpoint, region_name=REGION,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def make_clip(folder):
    """A CLIP-sized test pattern with a sine tone, H.264 + AAC in MP4."""
    clip = folder / "clip.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i",
                    f"testsrc2=size={CLIP['width']}x{CLIP['height']}:rate=24:duration={CLIP['seconds']}",
                    "-f", "lavfi", "-i", f"sine=frequency=440:duration={CLIP['seconds']}",
                    "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest", str(clip)],
                   check=True)
    return clip


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    moto, values = start_moto(tmp_path_factory.mktemp("moto"))
    yield values
    stop(moto)


@pytest.fixture(scope="module")
def aws(env):
    return clients(env)


@pytest.fixture(scope="module")
def standin(env, tmp_path_factory):
    proc, endpoint = start_standin(env, tmp_path_factory.mktemp("standin") / "standin.log")
    yield endpoint
    stop(proc)


@pytest.fixture(scope="module")
def stack(aws, env, tmp_path_factory):
    """Buckets, the MediaConvert role, the clip uploaded, the event rule -> SQS."""
    s3, iam, events, sqs = aws("s3"), aws("iam"), aws("events"), aws("sqs")
    for bucket in (SOURCE, DEST):
        s3.create_bucket(Bucket=bucket)
    role = iam.create_role(RoleName="MediaConvert_Default_Role",
                           AssumeRolePolicyDocument=json.dumps(ROLE_TRUST))["Role"]["Arn"]
    clip = make_clip(tmp_path_factory.mktemp("clip"))
    s3.upload_file(str(clip), SOURCE, KEY)
    queue = sqs.create_queue(QueueName="mediaconvert-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="mediaconvert-jobs", EventPattern=json.dumps(
        {"source": ["aws.mediaconvert"], "detail-type": ["MediaConvert Job State Change"]}))
    events.put_targets(Rule="mediaconvert-jobs", Targets=[{"Id": "q", "Arn": queue_arn}])
    return {"role": role, "queue": queue, "clip": clip}


@pytest.fixture(scope="module")
def mc(standin):
    return mediaconvert(standin)


def submit(mc, stack, profile, key=KEY, source=SOURCE, destination=DEST, tweak=None, role=None):
    """A job as the converter function submits it: the profile as the job template, its
    settings with the upload's input and destination filled in."""
    doc = json.loads(PROFILES[profile].read_text())
    for entry in doc["Settings"]["Inputs"]:  # what `cattube up` does (stages/src/resources/job_template.rs)
        entry.pop("FileInput", None)
    name = f"{profile}-{int(time.time() * 1000)}"
    mc.create_job_template(Name=name, Settings=doc["Settings"],
                           StatusUpdateInterval=doc["StatusUpdateInterval"])
    template = mc.get_job_template(Name=name)["JobTemplate"]
    settings = handler.build_settings(template["Settings"], f"s3://{source}/{key}",
                                      handler.output_destination(destination, key))
    if tweak:
        tweak(settings)
    return mc.create_job(JobTemplate=name, Role=role or stack["role"], Settings=settings,
                         UserMetadata=handler.user_metadata("cattube", key))["Job"]


PERCENTS = {}  # job id -> JobPercentComplete values GetJob showed while PROGRESSING


def wait_job(mc, job_id, timeout=240):
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = mc.get_job(Id=job_id)["Job"]
        if not seen or seen[-1] != job["Status"]:
            seen.append(job["Status"])
        if job["Status"] == "PROGRESSING":
            PERCENTS.setdefault(job_id, []).append(job["JobPercentComplete"])
        if job["Status"] in ("COMPLETE", "ERROR", "CANCELED"):
            return job, seen
        time.sleep(0.1)
    pytest.fail(f"job {job_id} still {seen[-1]} after {timeout} s")


def job_events(aws, stack, job_id, until, timeout=30):
    """The events of one job that reached the rule's queue, in publication order, once
    the one with status ``until`` is there."""
    sqs, found = aws("sqs"), []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for m in sqs.receive_message(QueueUrl=stack["queue"], MaxNumberOfMessages=10,
                                     WaitTimeSeconds=1).get("Messages", []):
            sqs.delete_message(QueueUrl=stack["queue"], ReceiptHandle=m["ReceiptHandle"])
            found.append(json.loads(m["Body"]))
        mine = [e for e in found if e["detail"]["jobId"] == job_id]
        if any(e["detail"]["status"] == until for e in mine):
            return sorted(mine, key=lambda e: e["detail"]["timestamp"])
    pytest.fail(f"no {until} event for {job_id}: {[e['detail']['status'] for e in found]}")


def fetch(aws, tmp_path, key):
    path = tmp_path / key.replace("/", "_")
    aws("s3").download_file(DEST, key, str(path))
    return path


def level_idc(level):
    """LEVEL_4 -> 40, LEVEL_3_1 -> 31 (H.264's level_idc)."""
    major, _, minor = level[len("LEVEL_"):].partition("_")
    return int(major) * 10 + int(minor or 0)


def streams(info, kind):
    return [s for s in info["streams"] if s["codec_type"] == kind]


def check_audio(info, settings):
    audio = streams(info, "audio")
    assert len(audio) == 1
    aac = settings["AudioDescriptions"][0]["CodecSettings"]["AacSettings"]
    assert audio[0]["codec_name"] == "aac"
    assert audio[0]["channels"] == {"CODING_MODE_2_0": 2, "CODING_MODE_1_0": 1}[aac["CodingMode"]]
    assert int(audio[0]["sample_rate"]) == aac["SampleRate"]


def check_complete(job, seen, events, keys):
    """Status progression and the documented event shapes, for a COMPLETE job."""
    assert seen[-1] == "COMPLETE" and set(seen) <= {"SUBMITTED", "PROGRESSING", "COMPLETE"}
    shown = PERCENTS.get(job["Id"], [])
    assert shown and shown == sorted(shown) and min(shown) >= 0 and max(shown) < 100, shown
    assert "JobPercentComplete" not in job  # shown only while PROGRESSING
    statuses = [e["detail"]["status"] for e in events]
    assert statuses[0] == "PROGRESSING" and statuses[-1] == "COMPLETE", statuses
    assert set(statuses[1:-1]) <= {"STATUS_UPDATE"}, statuses
    for e in events:
        assert e["source"] == "aws.mediaconvert"
        assert e["detail-type"] == "MediaConvert Job State Change"
        assert e["resources"] == [job["Arn"]]
        d = e["detail"]
        assert d["jobId"] == job["Id"] and d["queue"] == job["Queue"]
        assert d["accountId"] == job["Arn"].split(":")[4]
        assert d["userMetadata"] == job["UserMetadata"]
        assert isinstance(d["timestamp"], int)
    updates = [e["detail"] for e in events if e["detail"]["status"] == "STATUS_UPDATE"]
    assert updates, "no STATUS_UPDATE event at a 0.3 s interval"
    for u in updates:
        progress = u["jobProgress"]
        assert 0 <= progress["jobPercentComplete"] <= 100 and progress["currentPhase"] == "TRANSCODING"
        assert set(progress["phaseProgress"]) == {"PROBING", "TRANSCODING", "UPLOADING"}
    percents = [u["jobProgress"]["jobPercentComplete"] for u in updates]
    assert percents == sorted(percents)
    # Transcoding is 0..90 of it, following ffmpeg's progress: some value in between shows.
    assert any(0 < p < 90 for p in percents + shown), (percents, shown)
    complete = events[-1]["detail"]
    paths = [p for g in complete["outputGroupDetails"] for o in g["outputDetails"] for p in o["outputFilePaths"]]
    assert paths == [f"s3://{DEST}/{k}" for k in keys]
    # GetJob reports the same durations and sizes (its model has no paths).
    assert job["OutputGroupDetails"] == [{"OutputDetails": [
        {"DurationInMs": o["durationInMs"], "VideoDetails": {
            "WidthInPx": o["videoDetails"]["widthInPx"], "HeightInPx": o["videoDetails"]["heightInPx"]}}
        for o in g["outputDetails"]]} for g in complete["outputGroupDetails"]]
    return complete


def test_tutorial_profile_writes_hevc_hvc1_and_av1_mp4s(mc, aws, stack, tmp_path):
    job = submit(mc, stack, "tutorial")
    job, seen = wait_job(mc, job["Id"])
    assert job["Status"] == "COMPLETE", (job.get("ErrorCode"), job.get("ErrorMessage"))
    listed = next(j for j in mc.list_jobs()["Jobs"] if j["Id"] == job["Id"])
    assert listed["Status"] == "COMPLETE" and listed["OutputGroupDetails"] == job["OutputGroupDetails"]
    keys = ["cats/tabby cat (1)-hd.mp4", "cats/tabby cat (1)-sd.mp4"]
    complete = check_complete(job, seen, job_events(aws, stack, job["Id"], "COMPLETE"), keys)
    outputs = job["Settings"]["OutputGroups"][0]["Outputs"]
    details = complete["outputGroupDetails"][0]["outputDetails"]
    assert complete["outputGroupDetails"][0]["type"] == "FILE_GROUP"

    hd = ffprobe(fetch(aws, tmp_path, keys[0]))
    video = streams(hd, "video")[0]
    assert video["codec_name"] == "hevc" and video["codec_tag_string"] == "hvc1"
    # No Width/Height in the -hd output: the source's.
    assert (video["width"], video["height"]) == (CLIP["width"], CLIP["height"])
    check_audio(hd, outputs[0])
    assert hd["format"]["format_name"].startswith("mov,mp4")

    sd = ffprobe(fetch(aws, tmp_path, keys[1]))
    video = streams(sd, "video")[0]
    assert video["codec_name"] == "av1"
    sd_video = outputs[1]["VideoDescription"]
    assert (video["width"], video["height"]) == (sd_video["Width"], sd_video["Height"])
    check_audio(sd, outputs[1])

    for detail, info in zip(details, (hd, sd)):
        v = streams(info, "video")[0]
        assert detail["videoDetails"]["widthInPx"] == v["width"]
        assert detail["videoDetails"]["heightInPx"] == v["height"]
        assert detail["durationInMs"] == round(float(info["format"]["duration"]) * 1000)
        assert detail["videoDetails"]["averageBitrate"] == int(v["bit_rate"])
        assert abs(detail["durationInMs"] - CLIP["seconds"] * 1000) < 200


def test_web_profile_writes_h264_ladder_with_profile_level_and_bitrate_cap(mc, aws, stack, tmp_path):
    def low_cap(settings):
        outputs = settings["OutputGroups"][0]["Outputs"]
        outputs[1]["VideoDescription"]["CodecSettings"]["H264Settings"]["MaxBitrate"] = 150000
        outputs[2]["VideoDescription"]["CodecSettings"]["Av1Settings"]["MaxBitrate"] = 40000
    job = submit(mc, stack, "web", tweak=low_cap)
    job, seen = wait_job(mc, job["Id"])
    assert job["Status"] == "COMPLETE", (job.get("ErrorCode"), job.get("ErrorMessage"))
    keys = [f"cats/tabby cat (1)-{h}.mp4" for h in ("1080p", "720p", "144p")]
    check_complete(job, seen, job_events(aws, stack, job["Id"], "COMPLETE"), keys)
    outputs = job["Settings"]["OutputGroups"][0]["Outputs"]
    for key, output in zip(keys, outputs):
        info = ffprobe(fetch(aws, tmp_path, key))
        video, want = streams(info, "video")[0], output["VideoDescription"]
        assert (video["width"], video["height"]) == (want["Width"], want["Height"])
        codec = want["CodecSettings"]["Codec"]
        assert video["codec_name"] == {"H_264": "h264", "AV1": "av1"}[codec]
        s = want["CodecSettings"]["H264Settings" if codec == "H_264" else "Av1Settings"]
        if codec == "H_264":
            assert video["profile"] == s["CodecProfile"].capitalize()
            assert video["level"] == level_idc(s["CodecLevel"])
        # QVBR's MaxBitrate is a cap (H.264's 720p here and AV1's 144p would be about 1.2 Mb/s
        # and 170 kb/s without it): the stream stays under it, give or take what the buffer
        # (HrdBufferSize, by default twice the cap) lets through over the clip.
        seconds = float(video["duration"])
        assert int(video["bit_rate"]) <= s["MaxBitrate"] + 2 * s["MaxBitrate"] / seconds
        check_audio(info, output)


def test_hls_profile_writes_variants_and_master_playlist(mc, aws, stack, tmp_path):
    def one_second_segments(settings):  # two segments from the 2 s clip: a peak and an average
        settings["OutputGroups"][0]["OutputGroupSettings"]["HlsGroupSettings"]["SegmentLength"] = 1
    job = submit(mc, stack, "hls", tweak=one_second_segments)
    job, seen = wait_job(mc, job["Id"])
    assert job["Status"] == "COMPLETE", (job.get("ErrorCode"), job.get("ErrorMessage"))
    outputs = job["Settings"]["OutputGroups"][0]["Outputs"]
    keys = [f"cats/tabby cat (1){o['NameModifier']}.m3u8" for o in outputs]
    complete = check_complete(job, seen, job_events(aws, stack, job["Id"], "COMPLETE"), keys)
    group = complete["outputGroupDetails"][0]
    assert group["type"] == "HLS_GROUP"
    assert group["playlistFilePaths"] == [f"s3://{DEST}/cats/tabby cat (1).m3u8"]

    master = fetch(aws, tmp_path, "cats/tabby cat (1).m3u8").read_text().splitlines()
    assert master[0] == "#EXTM3U"
    entries = [(master[i], master[i + 1]) for i, line in enumerate(master) if line.startswith("#EXT-X-STREAM-INF:")]
    assert [uri for _, uri in entries] == [k.rsplit("/", 1)[1] for k in keys]
    for (inf, uri), output, key in zip(entries, outputs, keys):
        attrs = dict(re.findall(r'([A-Z-]+)=("[^"]*"|[^,]*)', inf.split(":", 1)[1]))
        want = output["VideoDescription"]
        assert attrs["RESOLUTION"] == f"{want['Width']}x{want['Height']}"
        s = want["CodecSettings"]["H264Settings"]
        profile = {"HIGH": "64", "MAIN": "4D"}[s["CodecProfile"]]
        level = "%02X" % level_idc(s["CodecLevel"])
        assert attrs["CODECS"] == f'"avc1.{profile}00{level},mp4a.40.2"'
        variant = fetch(aws, tmp_path, key).read_text().splitlines()
        durations = [float(l[len("#EXTINF:"):].split(",")[0]) for l in variant if l.startswith("#EXTINF:")]
        segments = [l for l in variant if l and not l.startswith("#")]
        assert segments == [f"tabby cat (1){output['NameModifier']}_{n:05d}.ts" for n in range(1, len(segments) + 1)]
        assert len(segments) == 2
        # ManifestDurationFormat INTEGER
        assert all(re.fullmatch(r"#EXTINF:\d+,", l) for l in variant if l.startswith("#EXTINF:"))
        sizes = []
        for name in segments:
            path = fetch(aws, tmp_path, f"cats/{name}")
            info = ffprobe(path)
            v = streams(info, "video")[0]
            assert v["codec_name"] == "h264" and (v["width"], v["height"]) == (want["Width"], want["Height"])
            check_audio(info, output)
            sizes.append(path.stat().st_size)
        # BANDWIDTH is the peak segment bit rate, AVERAGE-BANDWIDTH the whole stream's, both
        # from the segments as written and the durations the variant playlist gives them.
        assert int(attrs["BANDWIDTH"]) == int(max(size * 8 / d for size, d in zip(sizes, durations)))
        assert int(attrs["AVERAGE-BANDWIDTH"]) == int(sum(sizes) * 8 / sum(durations))
        assert int(attrs["BANDWIDTH"]) > int(attrs["AVERAGE-BANDWIDTH"]) > 0


def test_missing_source_errors_with_1010(mc, aws, stack):
    job = submit(mc, stack, "tutorial", key="cats/never uploaded.mp4")
    job, seen = wait_job(mc, job["Id"])
    assert job["Status"] == "ERROR" and job["ErrorCode"] == 1010
    assert job["ErrorMessage"].startswith(f"Unable to open input file [s3://{SOURCE}/cats/never uploaded.mp4]")
    events = job_events(aws, stack, job["Id"], "ERROR")
    assert [e["detail"]["status"] for e in events] == ["PROGRESSING", "ERROR"]
    assert events[-1]["detail"]["errorCode"] == 1010
    assert events[-1]["detail"]["errorMessage"] == job["ErrorMessage"]
    assert "outputGroupDetails" not in events[-1]["detail"]


def test_non_video_input_errors_with_1010(mc, aws, stack):
    # Text, not random bytes: now and then ffprobe finds a "video" stream in 30 kB of noise,
    # and the job then fails later (1999) instead of at the probe.
    notes = b"Notes from the vet, not a video.\n" * 1000
    aws("s3").put_object(Bucket=SOURCE, Key="cats/notes.mp4", Body=notes)
    job = submit(mc, stack, "tutorial", key="cats/notes.mp4")
    job, _ = wait_job(mc, job["Id"])
    assert job["Status"] == "ERROR" and job["ErrorCode"] == 1010
    assert "No parser found for container" in job["ErrorMessage"]


def test_unwritable_destination_errors_with_3450(mc, aws, stack):
    job = submit(mc, stack, "tutorial", destination="no-such-bucket")
    job, _ = wait_job(mc, job["Id"])
    assert job["Status"] == "ERROR" and job["ErrorCode"] == 3450, job.get("ErrorMessage")
    assert job["ErrorMessage"].startswith("Unable to write to output file [s3://no-such-bucket/cats/tabby cat (1)")


def test_convert_needs_an_endpoint():
    env = {k: v for k, v in os.environ.items() if k != "AWS_ENDPOINT_URL"}
    out = subprocess.run([sys.executable, str(SERVER), "--convert"], env=env, capture_output=True, text=True)
    assert out.returncode == 2 and "--convert needs AWS_ENDPOINT_URL" in out.stderr


@pytest.mark.parametrize("destination, url, want", [
    ("s3://b/out/", "s3://src/cats/tabby cat.mov", "s3://b/out/tabby cat"),
    ("s3://b/cats/tabby cat", "s3://src/in/x.mp4", "s3://b/cats/tabby cat"),
    ("s3://b/", "s3://src/.mp4", "s3://b/.mp4"),
])
def test_output_names(destination, url, want):
    assert convert.destination_prefix(destination, url) == want


def test_only_one_dimension_keeps_the_source_aspect():
    source = {"width": 1920, "height": 1080}
    assert convert.output_size({"Width": 640}, source) == (640, 360)
    assert convert.output_size({"Height": 720}, source) == (1280, 720)
    assert convert.output_size({}, source) == (1920, 1080)
    assert convert.output_size({}, {"width": 853, "height": 481}) == (852, 480)  # 4:2:0 needs even


def test_one_job_at_a_time_and_cancel_stops_the_running_one(mc, aws, stack):
    aws("s3").copy_object(Bucket=SOURCE, Key="cats/cancel me.mp4", CopySource={"Bucket": SOURCE, "Key": KEY})
    first = submit(mc, stack, "web", key="cats/cancel me.mp4")
    second = submit(mc, stack, "tutorial", key="cats/cancel me.mp4", destination="cattube-second")
    aws("s3").create_bucket(Bucket="cattube-second")
    deadline = time.monotonic() + 60
    while mc.get_job(Id=first["Id"])["Job"]["Status"] != "PROGRESSING":
        assert time.monotonic() < deadline, "the first job never started"
        time.sleep(0.05)
    assert mc.get_job(Id=second["Id"])["Job"]["Status"] == "SUBMITTED"  # queued behind it
    mc.cancel_job(Id=first["Id"])
    events = job_events(aws, stack, first["Id"], "CANCELED")
    assert events[0]["detail"]["status"] == "PROGRESSING" and events[-1]["detail"]["status"] == "CANCELED"
    job, _ = wait_job(mc, second["Id"])  # the queue goes on
    assert job["Status"] == "COMPLETE", job.get("ErrorMessage")
    assert mc.get_job(Id=first["Id"])["Job"]["Status"] == "CANCELED"
    written = aws("s3").list_objects_v2(Bucket=DEST, Prefix="cats/cancel me").get("KeyCount")
    assert written == 0, "a canceled job wrote outputs"
