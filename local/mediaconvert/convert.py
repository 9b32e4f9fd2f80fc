"""Runs MediaConvert jobs for real, with ffmpeg (server.py --convert).

For each job, in one worker thread, one job at a time (a 2-core laptop gains nothing from
two ffmpeg processes fighting for it):

1. SUBMITTED -> PROGRESSING (phase PROBING): STS AssumeRole on the job's Role against
   AWS_ENDPOINT_URL, then GetObject of the input with those temporary credentials, and
   ffprobe of what came back.
2. TRANSCODING: one ffmpeg process decodes the input once and writes every output of every
   output group (FILE_GROUP: one file per output; HLS_GROUP: a variant playlist and its
   segments per output). JobPercentComplete follows ffmpeg's -progress.
3. UPLOADING: every file is PutObject-ed as the role; HLS groups get their master
   (multivariant) playlist, written here from the measured variants.
4. COMPLETE with OutputGroupDetails measured with ffprobe, or ERROR with MediaConvert's
   error code and message.

Which job settings are honoured, and the nearest thing done for those ffmpeg cannot honour,
is the table in docs/local-cloud-mediaconvert.md: keep the two in step.
"""
import json
import os
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from datetime import datetime, timezone

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

# MediaConvert's job error codes (https://docs.aws.amazon.com/mediaconvert/latest/ug/mediaconvert_error_codes.html):
# 1010 "MediaConvert can't open one or more of your input files" (missing object, a role that
# may not read it, not a media file); 3450 an output that cannot be written; 1999 unknown.
INPUT_ERROR, OUTPUT_ERROR, UNKNOWN_ERROR = 1010, 3450, 1999

EXTENSIONS = {"MP4": "mp4", "MOV": "mov", "WEBM": "webm", "M3U8": "m3u8"}
CONTENT_TYPES = {".mp4": "video/mp4", ".mov": "video/quicktime", ".webm": "video/webm",
                 ".m3u8": "application/vnd.apple.mpegurl", ".ts": "video/MP2T"}
STATUS_UPDATE_SECONDS = {"SECONDS_10": 10, "SECONDS_12": 12, "SECONDS_15": 15, "SECONDS_20": 20,
                         "SECONDS_30": 30, "SECONDS_60": 60}
# Encoder speed: this is a preview on a laptop, not a mastering tool.
THREADS = "2"


class JobFailed(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code, self.message = code, message


class Canceled(Exception):
    """CancelJob arrived while the job ran."""


def status_update_seconds(interval):
    """StatusUpdateInterval (SECONDS_10 ... MINUTES_10) in seconds."""
    if interval in STATUS_UPDATE_SECONDS:
        return STATUS_UPDATE_SECONDS[interval]
    m = re.fullmatch(r"MINUTES_(\d+)", interval or "")
    return int(m.group(1)) * 60 if m else 60


# --------------------------------------------------------------------------
# Settings -> what to write and how (pure functions, unit-tested without ffmpeg)
# --------------------------------------------------------------------------

def split_s3_url(url):
    m = re.fullmatch(r"s3://([^/]+)/(.*)", url or "")
    if not m:
        raise JobFailed(INPUT_ERROR, f"Unable to open input file [{url}]: [Failed probe/open: "
                                     "[only s3:// inputs are read by the local MediaConvert]]")
    return m.group(1), m.group(2)


def base_name(url):
    """The input's file name without its extension: s3://b/cats/tabby cat.mp4 -> tabby cat."""
    name = url.rstrip("/").rsplit("/", 1)[-1]
    stem, dot, _ = name.rpartition(".")
    return stem if dot and stem else name


def destination_prefix(destination, input_url):
    """MediaConvert's output naming: a Destination ending in "/" is a folder and the input's
    base name is appended; otherwise its last segment is the base name itself."""
    if not destination or not destination.startswith("s3://"):
        raise JobFailed(OUTPUT_ERROR, f"Unable to write to output file [{destination}]: "
                                      "[the local MediaConvert writes only to s3:// destinations]")
    return destination + base_name(input_url) if destination.endswith("/") else destination


def group_kind(group):
    kind = (group.get("OutputGroupSettings") or {}).get("Type")
    if kind == "FILE_GROUP_SETTINGS":
        return "FILE_GROUP", (group["OutputGroupSettings"].get("FileGroupSettings") or {})
    if kind == "HLS_GROUP_SETTINGS":
        return "HLS_GROUP", (group["OutputGroupSettings"].get("HlsGroupSettings") or {})
    raise JobFailed(UNKNOWN_ERROR, f"output group type {kind} is not converted by the local "
                                   "MediaConvert (it converts FILE_GROUP_SETTINGS and HLS_GROUP_SETTINGS)")


def plan_outputs(settings):
    """Each output group and output with the S3 URL(s) MediaConvert would write."""
    inputs = settings.get("Inputs") or []
    if not inputs or not inputs[0].get("FileInput"):
        raise JobFailed(INPUT_ERROR, "Unable to open input file []: [the job has no FileInput]")
    input_url = inputs[0]["FileInput"]
    groups = []
    for group in settings.get("OutputGroups") or []:
        kind, group_settings = group_kind(group)
        prefix = destination_prefix(group_settings.get("Destination"), input_url)
        outputs = []
        for output in group.get("Outputs") or []:
            container = (output.get("ContainerSettings") or {}).get("Container") or (
                "M3U8" if kind == "HLS_GROUP" else "MP4")
            if kind == "HLS_GROUP" and container != "M3U8" or container not in EXTENSIONS:
                raise JobFailed(UNKNOWN_ERROR, f"container {container} in a {kind} is not converted "
                                               "by the local MediaConvert")
            ext = output.get("Extension") or EXTENSIONS[container]
            outputs.append({"output": output, "container": container,
                            "url": f"{prefix}{output.get('NameModifier', '')}.{ext}"})
        groups.append({"kind": kind, "settings": group_settings, "prefix": prefix, "outputs": outputs,
                       "master": f"{prefix}.m3u8" if kind == "HLS_GROUP" else None})
    if not groups:
        raise JobFailed(UNKNOWN_ERROR, "the job has no output groups")
    return input_url, groups


def even(n):
    return max(2, int(round(n / 2.0)) * 2)


def output_size(video, source):
    """Width/height: the output's, the source's when absent, the other one kept in the
    source's aspect ratio when only one is given (derived sizes even, as 4:2:0 needs)."""
    sw, sh = source["width"], source["height"]
    w, h = video.get("Width"), video.get("Height")
    if w and h:
        return w, h
    if w:
        return w, even(w * sh / sw)
    if h:
        return even(h * sw / sh), h
    return even(sw), even(sh)


def scale_filter(video, source):
    w, h = output_size(video, source)
    behavior = video.get("ScalingBehavior", "DEFAULT")
    if behavior in ("STRETCH_TO_OUTPUT", "FILL"):
        # FILL (crop to fill) is done as a stretch: the nearest ffmpeg one-liner.
        return f"scale={w}:{h},setsar=1", (w, h)
    # DEFAULT/FIT: fit inside the frame keeping the aspect ratio, black bars for the rest.
    return (f"scale={w}:{h}:force_original_aspect_ratio=decrease,"
            f"pad={w}:{h}:(ow-iw)/2:(oh-ih)/2,setsar=1"), (w, h)


def level_arg(level):
    """LEVEL_4_1 -> 4.1; AUTO/absent -> None (the encoder picks)."""
    m = re.fullmatch(r"LEVEL_(\d+)(?:_(\d+))?", level or "")
    return f"{m.group(1)}.{m.group(2) or 0}" if m else None


def quality(codec_settings, codec):
    """QVBR quality level 1..10 (default 7) as the encoder's constant-quality value."""
    level = (codec_settings.get("QvbrSettings") or {}).get("QvbrQualityLevel") or 7
    return {"libx264": 51 - 4 * level, "libx265": 56 - 4 * level,
            "libsvtav1": 70 - 5 * level, "libvpx-vp9": 66 - 5 * level}[codec]


def rate_args(s, encoder):
    mode = s.get("RateControlMode") or ("QVBR" if encoder == "libsvtav1" else "VBR")
    bitrate, max_bitrate = s.get("Bitrate"), s.get("MaxBitrate")
    buffer = s.get("HrdBufferSize") or 2 * (max_bitrate or bitrate or 0) or None
    args = []
    if mode == "CBR" and bitrate:
        args += ["-b:v", str(bitrate), "-minrate", str(bitrate), "-maxrate", str(bitrate)]
    elif mode == "VBR" and bitrate:
        args += ["-b:v", str(bitrate), "-maxrate", str(max_bitrate or bitrate)]
    else:  # QVBR, or a VBR/CBR without a bitrate: constant quality capped at MaxBitrate
        args += ["-crf", str(quality(s, encoder))]
        if encoder == "libvpx-vp9":
            args += ["-b:v", "0"]
        if max_bitrate:
            args += ["-maxrate", str(max_bitrate)]
    if buffer and "-maxrate" in args:
        args += ["-bufsize", str(buffer)]
    return args


def video_args(video):
    """Encoder arguments for one output's VideoDescription."""
    cs = video.get("CodecSettings") or {}
    codec = cs.get("Codec")
    if codec == "H_264":
        s = cs.get("H264Settings") or {}
        profile = {"BASELINE": "baseline", "MAIN": "main", "HIGH": "high", "HIGH_10BIT": "high10",
                   "HIGH_422": "high422", "HIGH_422_10BIT": "high422"}.get(s.get("CodecProfile") or "MAIN")
        args = ["-c:v", "libx264", "-preset", "veryfast", "-threads", THREADS, "-profile:v", profile,
                "-pix_fmt", "yuv420p10le" if "10BIT" in (s.get("CodecProfile") or "") else "yuv420p"]
        if level_arg(s.get("CodecLevel")):
            args += ["-level:v", level_arg(s.get("CodecLevel"))]
        return args + rate_args(s, "libx264"), s
    if codec == "H_265":
        s = cs.get("H265Settings") or {}
        ten_bit = (s.get("CodecProfile") or "MAIN_MAIN").startswith("MAIN10")
        params = f"log-level=error:pools={THREADS}:frame-threads=1"
        if level_arg(s.get("CodecLevel")):
            params += f":level-idc={level_arg(s.get('CodecLevel'))}"
        args = ["-c:v", "libx265", "-preset", "ultrafast", "-x265-params", params,
                "-profile:v", "main10" if ten_bit else "main",
                "-pix_fmt", "yuv420p10le" if ten_bit else "yuv420p",
                # The sample entry MediaConvert writes: hvc1 (parameter sets in the sample
                # entry, what Apple players need) unless HEV1 is asked for.
                "-tag:v", "hev1" if s.get("WriteMp4PackagingType") == "HEV1" else "hvc1"]
        return args + rate_args(s, "libx265"), s
    if codec == "AV1":
        s = cs.get("Av1Settings") or {}
        args = ["-c:v", "libsvtav1", "-preset", "12", "-svtav1-params", f"lp={THREADS}",
                "-pix_fmt", "yuv420p10le" if s.get("BitDepth") == "BIT_10" else "yuv420p"]
        return args + rate_args(s, "libsvtav1"), s
    if codec == "VP9":
        s = cs.get("Vp9Settings") or {}
        args = ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-row-mt", "1",
                "-threads", THREADS, "-pix_fmt", "yuv420p"]
        return args + rate_args(s, "libvpx-vp9"), s
    raise JobFailed(UNKNOWN_ERROR, f"video codec {codec} is not converted by the local MediaConvert "
                                   "(it converts H_264, H_265, AV1 and VP9)")


def gop_args(s, fps, segment_seconds):
    args = []
    size, units = s.get("GopSize"), s.get("GopSizeUnits") or "FRAMES"
    if size:
        frames = size * fps if units == "SECONDS" else size
        args += ["-g", str(max(1, int(round(frames))))]
    if segment_seconds:
        # HLS segments must start on a key frame: one at every segment boundary.
        args += ["-force_key_frames", f"expr:gte(t,n_forced*{segment_seconds})"]
    return args


def frame_rate_of(s, source):
    if s.get("FramerateControl") == "SPECIFIED" and s.get("FramerateNumerator") and s.get("FramerateDenominator"):
        return s["FramerateNumerator"] / s["FramerateDenominator"], f"{s['FramerateNumerator']}/{s['FramerateDenominator']}"
    return source["fps"], None


AUDIO_ENCODERS = {"AAC": "aac", "MP3": "libmp3lame", "OPUS": "libopus", "AC3": "ac3", "EAC3": "eac3",
                  "VORBIS": "libvorbis", "FLAC": "flac"}
CHANNELS = {"CODING_MODE_1_0": 1, "CODING_MODE_1_1": 2, "CODING_MODE_2_0": 2, "CODING_MODE_5_1": 6,
            "AD_RECEIVER_MIX": 2}


def audio_args(output):
    """The first AudioDescription (AAC: bitrate, coding mode -> channels, sample rate)."""
    descriptions = output.get("AudioDescriptions") or []
    if not descriptions:
        return None
    cs = descriptions[0].get("CodecSettings") or {}
    codec = cs.get("Codec", "AAC")
    if codec not in AUDIO_ENCODERS:
        raise JobFailed(UNKNOWN_ERROR, f"audio codec {codec} is not converted by the local MediaConvert")
    s = next((v for k, v in cs.items() if k.endswith("Settings") and isinstance(v, dict)), {})
    args = ["-c:a", AUDIO_ENCODERS[codec]]
    if s.get("Bitrate"):
        args += ["-b:a", str(s["Bitrate"])]
    channels = CHANNELS.get(s.get("CodingMode")) or s.get("Channels")
    if channels:
        args += ["-ac", str(channels)]
    args += ["-ar", str(s.get("SampleRate") or 48000)]
    return args


# --------------------------------------------------------------------------
# Media inspection
# --------------------------------------------------------------------------

def ffprobe(path):
    out = subprocess.run(["ffprobe", "-v", "error", "-print_format", "json", "-show_format",
                          "-show_streams", path], capture_output=True, text=True)
    if out.returncode != 0:
        return None
    return json.loads(out.stdout)


def describe_source(path):
    info = ffprobe(path)
    video = next((s for s in (info or {}).get("streams", []) if s.get("codec_type") == "video"
                  and not (s.get("disposition") or {}).get("attached_pic")), None)
    if video is None:
        return None
    num, _, den = (video.get("avg_frame_rate") or "0/0").partition("/")
    fps = float(num) / float(den) if den and float(den) else 30.0
    duration = float(info["format"].get("duration") or video.get("duration") or 0)
    has_audio = any(s.get("codec_type") == "audio" for s in info["streams"])
    return {"width": video["width"], "height": video["height"], "fps": fps or 30.0,
            "duration": duration, "frames": int(video.get("nb_frames") or round(duration * fps)),
            "audio": has_audio}


def h264_codecs(data):
    """avc1.PPCCLL from the SPS: the avcC box of an MP4, else the first Annex B SPS (TS)."""
    i = data.find(b"avcC")
    if i >= 0 and len(data) > i + 8:
        return "avc1.%02X%02X%02X" % (data[i + 5], data[i + 6], data[i + 7])
    m = re.search(rb"\x00\x00\x01[\x27\x47\x67](...)", data, re.S)
    return "avc1.%02X%02X%02X" % tuple(m.group(1)) if m else None


def rfc6381(path, info):
    """The CODECS string of a media file (RFC 6381), as the master playlist declares it."""
    codecs = []
    for s in info["streams"]:
        name, profile = s.get("codec_name"), s.get("profile") or ""
        if name == "h264":
            with open(path, "rb") as f:
                codecs.append(h264_codecs(f.read(1 << 20)))
        elif name == "hevc":
            ten = "10" in profile
            tag = s.get("codec_tag_string") if s.get("codec_tag_string") in ("hvc1", "hev1") else "hvc1"
            codecs.append(f"{tag}.{2 if ten else 1}.{4 if ten else 6}.L{s.get('level', 93)}.B0")
        elif name == "av1":
            depth = 10 if "10" in (s.get("pix_fmt") or "") else 8
            codecs.append(f"av01.0.{max(0, s.get('level', 8)):02d}M.{depth:02d}")
        elif name == "vp9":
            codecs.append("vp09.00.10.08")
        elif name == "aac":
            codecs.append({"HE-AAC": "mp4a.40.5", "HE-AACv2": "mp4a.40.29"}.get(profile, "mp4a.40.2"))
        elif name in ("mp3", "opus", "ac3", "eac3", "flac", "vorbis"):
            codecs.append({"mp3": "mp4a.40.34", "ac3": "ac-3", "eac3": "ec-3"}.get(name, name))
    return ",".join(c for c in codecs if c)


def read_playlist(path):
    """(segment file, duration, bytes) of each segment of a variant playlist."""
    segments, duration, byterange = [], None, None
    folder = os.path.dirname(path)
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("#EXTINF:"):
                duration = float(line[len("#EXTINF:"):].split(",")[0])
            elif line.startswith("#EXT-X-BYTERANGE:"):
                byterange = int(line[len("#EXT-X-BYTERANGE:"):].split("@")[0])
            elif line and not line.startswith("#") and duration is not None:
                file = os.path.join(folder, line)
                size = byterange if byterange is not None else os.path.getsize(file)
                segments.append((file, duration, size))
                duration = byterange = None
    return segments


def master_playlist(variants):
    """The multivariant playlist: one EXT-X-STREAM-INF per output with the measured peak
    (BANDWIDTH) and average (AVERAGE-BANDWIDTH) segment bit rates, CODECS, RESOLUTION and
    FRAME-RATE, the variant playlists named relative to it."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for v in variants:
        attrs = [f"BANDWIDTH={v['peak']}", f"AVERAGE-BANDWIDTH={v['average']}",
                 f'CODECS="{v["codecs"]}"', f"RESOLUTION={v['width']}x{v['height']}",
                 f"FRAME-RATE={v['fps']:.3f}"]
        lines += ["#EXT-X-STREAM-INF:" + ",".join(attrs), v["uri"]]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------
# The worker
# --------------------------------------------------------------------------

class Converter:
    """Runs submitted jobs one at a time. ``server`` gives the lock that guards job state
    and ``set_job_status(job, body, details=None)``."""

    def __init__(self, endpoint, server, status_update_override=None, log=sys.stderr):
        self.endpoint, self.server, self.log = endpoint, server, log
        self.status_update_override = status_update_override
        self.jobs = queue.Queue()
        self.events = queue.Queue()
        threading.Thread(target=self._work, daemon=True, name="convert").start()
        threading.Thread(target=self._publish, daemon=True, name="events").start()

    def say(self, message):
        print(f"mediaconvert: {message}", file=self.log, flush=True)

    def client(self, service, region, credentials=None):
        extra = {}
        if credentials:
            extra = {"aws_access_key_id": credentials["AccessKeyId"],
                     "aws_secret_access_key": credentials["SecretAccessKey"],
                     "aws_session_token": credentials["SessionToken"]}
        return boto3.client(service, endpoint_url=self.endpoint, region_name=region,
                            config=Config(retries={"max_attempts": 2, "mode": "standard"}), **extra)

    def submit(self, job, region):
        self.jobs.put((job, region))

    # ---- events ----------------------------------------------------------

    def job_changed(self, job, details=None, progress=None):
        """Called (under the server's lock) on each state change: queue the event that
        MediaConvert publishes to EventBridge, a "MediaConvert Job State Change" whose
        detail has the documented shape:
        https://docs.aws.amazon.com/mediaconvert/latest/ug/mediaconvert_event_list.html
        (and the pages it links: ev_status_progressing, ev_status_status_update,
        ev_status_complete / file-group / apple-hls-group, ev_status_error)."""
        status = "STATUS_UPDATE" if progress is not None else job["Status"]
        if status == "SUBMITTED":
            return  # MediaConvert emits no SUBMITTED event (the event list's note)
        account = job["Arn"].split(":")[4]
        detail = {"timestamp": int(time.time() * 1000), "accountId": account, "queue": job["Queue"],
                  "jobId": job["Id"], "status": status, "userMetadata": dict(job.get("UserMetadata") or {})}
        if progress is not None:
            detail.update(progress)
        if status == "COMPLETE":
            detail["outputGroupDetails"] = details if details is not None else [
                {"outputDetails": [{"durationInMs": d["DurationInMs"],
                                    **({"videoDetails": {"widthInPx": d["VideoDetails"]["WidthInPx"],
                                                         "heightInPx": d["VideoDetails"]["HeightInPx"]}}
                                       if "VideoDetails" in d else {})}
                                   for d in g.get("OutputDetails", [])]}
                for g in job.get("OutputGroupDetails", [])]
            detail["warnings"] = []
        if status == "ERROR":
            detail.update(errorCode=job["ErrorCode"], errorMessage=job["ErrorMessage"])
        self.events.put({"Source": "aws.mediaconvert", "DetailType": "MediaConvert Job State Change",
                         "Resources": [job["Arn"]], "Detail": json.dumps(detail),
                         "Time": datetime.now(timezone.utc), "_region": job["Arn"].split(":")[3]})

    def _publish(self):
        while True:
            entry = self.events.get()
            region = entry.pop("_region")
            try:
                out = self.client("events", region).put_events(Entries=[entry])
                if out.get("FailedEntryCount"):
                    self.say(f"PutEvents refused the event: {out['Entries']}")
            except (ClientError, BotoCoreError) as e:
                self.say(f"PutEvents failed: {e}")

    # ---- jobs ------------------------------------------------------------

    def _work(self):
        while True:
            job, region = self.jobs.get()
            try:
                self.run(job, region)
            except Exception:  # a converter bug must not stop the queue: the job errors
                traceback.print_exc()
                self.finish(job, {"status": "ERROR", "errorCode": UNKNOWN_ERROR,
                                  "errorMessage": "local MediaConvert bug; see its log"})

    def canceled(self, job):
        return job["Status"] == "CANCELED" or "_cancel_at" in job

    def update(self, job, **fields):
        with self.server.LOCK:
            if self.canceled(job):
                raise Canceled()
            job.update(fields)

    def finish(self, job, body, details=None):
        with self.server.LOCK:
            if not self.canceled(job) and job["Status"] in ("SUBMITTED", "PROGRESSING"):
                self.server.set_job_status(job, body, details)

    def run(self, job, region):
        with self.server.LOCK:
            if job["Status"] != "SUBMITTED":
                return  # canceled while queued
            self.server.set_job_status(job, {"status": "PROGRESSING", "percent": 0, "phase": "PROBING"})
        work = tempfile.mkdtemp(prefix=f"mediaconvert-{job['Id']}-")
        try:
            details, outputs = self.convert(job, region, work)
            self.finish(job, {"status": "COMPLETE"}, details)
            self.say(f"job {job['Id']} COMPLETE: {', '.join(outputs)}")
        except JobFailed as e:
            self.say(f"job {job['Id']} ERROR {e.code}: {e.message}")
            self.finish(job, {"status": "ERROR", "errorCode": e.code, "errorMessage": e.message})
        except Canceled:
            self.say(f"job {job['Id']} canceled")
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def assume_role(self, job, region):
        try:
            return self.client("sts", region).assume_role(
                RoleArn=job["Role"], RoleSessionName=f"EmeSession_{job['Id']}"[:64])["Credentials"]
        except (ClientError, BotoCoreError) as e:
            raise JobFailed(INPUT_ERROR, f"Unable to open input file [{job['Settings']['Inputs'][0].get('FileInput')}]: "
                                         f"[Failed probe/open: [cannot assume the job's role {job['Role']}: {e}]]")

    def convert(self, job, region, work):
        settings = job["Settings"]
        input_url, groups = plan_outputs(settings)
        credentials = self.assume_role(job, region)
        s3 = self.client("s3", region, credentials)
        bucket, key = split_s3_url(input_url)
        source_path = os.path.join(work, "input")
        try:
            s3.download_file(bucket, key, source_path)
        except ClientError as e:
            message = e.response.get("Error", {}).get("Message") or e.response.get("Error", {}).get("Code")
            if e.response.get("Error", {}).get("Code") in ("404", "403"):
                message = {"404": "Not Found", "403": "Access Denied"}[e.response["Error"]["Code"]]
            raise JobFailed(INPUT_ERROR, f"Unable to open input file [{input_url}]: "
                                         f"[Failed probe/open: [Failed to read data: {message}]]")
        source = describe_source(source_path)
        if source is None:
            raise JobFailed(INPUT_ERROR, f"Unable to open input file [{input_url}]: "
                                         "[Failed probe/open: [No parser found for container]]")
        self.update(job, JobPercentComplete=0, CurrentPhase="TRANSCODING")
        files = self.transcode(job, source_path, source, groups, work)
        self.update(job, JobPercentComplete=90, CurrentPhase="UPLOADING")
        details = self.measure(groups, files, work)
        self.upload(s3, files)
        return details, [u for _, u in files]

    def transcode(self, job, source_path, source, groups, work):
        """One ffmpeg run: decode once, every output written under ``work``. Returns
        [(local path, s3 url)] of every file to upload, in output order."""
        outputs = [(g, o) for g in groups for o in g["outputs"]]
        silence = any(audio_args(o["output"]) for _, o in outputs) and not source["audio"]
        cmd = ["ffmpeg", "-hide_banner", "-nostdin", "-y", "-loglevel", "error", "-nostats",
               "-progress", "pipe:1", "-i", source_path]
        if silence:  # an input without sound gets a silent track, as MediaConvert inserts one
            cmd += ["-f", "lavfi", "-t", str(source["duration"] or 1), "-i", "anullsrc=r=48000:cl=stereo"]
        filters = [f"[0:v]split={len(outputs)}" + "".join(f"[s{i}]" for i in range(len(outputs)))] \
            if len(outputs) > 1 else []
        per_output, files = [], []
        for i, (group, o) in enumerate(outputs):
            video = o["output"].get("VideoDescription") or {}
            scale, (w, h) = scale_filter(video, source)
            codec_args, codec_settings = video_args(video)
            fps, rate = frame_rate_of(codec_settings, source)
            filters.append(f"[{'s%d' % i if len(outputs) > 1 else '0:v'}]{scale}[v{i}]")
            args = ["-map", f"[v{i}]"] + codec_args
            if rate:
                args += ["-r", rate]
            segment = (group["settings"].get("SegmentLength") or 10) if group["kind"] == "HLS_GROUP" else None
            args += gop_args(codec_settings, fps, segment)
            audio = audio_args(o["output"])
            if audio:
                args += ["-map", "1:a:0" if silence else "0:a:0"] + audio + ["-shortest"] * silence
            else:
                args += ["-an"]
            local = os.path.join(work, "out", f"{i}")
            os.makedirs(local, exist_ok=True)
            name = o["url"].rsplit("/", 1)[-1]
            path = os.path.join(local, name)
            o["local"], o["size"] = path, (w, h)
            if group["kind"] == "HLS_GROUP":
                gs = group["settings"]
                stem = name[: -len(".m3u8")] if name.endswith(".m3u8") else name
                flags = []
                if gs.get("ManifestDurationFormat") == "INTEGER":
                    flags.append("round_durations")
                single = gs.get("SegmentControl") == "SINGLE_FILE"
                if single:
                    flags.append("single_file")
                args += ["-f", "hls", "-hls_time", str(segment), "-hls_playlist_type", "vod",
                         "-hls_list_size", "0", "-start_number", "1",
                         "-hls_segment_filename", os.path.join(local, f"{stem}.ts" if single else f"{stem}_%05d.ts")]
                if flags:
                    args += ["-hls_flags", "+".join(flags)]
            elif o["container"] in ("MP4", "MOV"):
                args += ["-movflags", "+faststart", "-f", o["container"].lower()]
            else:
                args += ["-f", "webm"]
            per_output.append(args + [path])
        cmd += ["-filter_complex", ";".join(filters)]
        for args in per_output:
            cmd += args
        self.run_ffmpeg(job, cmd, source)
        for group, o in outputs:
            folder = os.path.dirname(o["local"])
            base_url = o["url"].rsplit("/", 1)[0]
            for name in sorted(os.listdir(folder), key=lambda n: (n.endswith(".m3u8"), n)):
                files.append((os.path.join(folder, name), f"{base_url}/{name}"))
        return files

    def run_ffmpeg(self, job, cmd, source):
        interval = self.status_update_override or status_update_seconds(job.get("StatusUpdateInterval"))
        last_update = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        errors = []
        threading.Thread(target=lambda: errors.extend(proc.stderr), daemon=True).start()
        frames, percent = 0, 0
        try:
            for line in proc.stdout:
                key, _, value = line.strip().partition("=")
                if key == "out_time_us" and value.isdigit() and source["duration"]:
                    fraction = min(1.0, int(value) / 1e6 / source["duration"])
                    percent = int(fraction * 90)  # 90..99 is the upload
                elif key == "frame" and value.isdigit():
                    frames = int(value)
                elif key == "progress":
                    self.update(job, JobPercentComplete=percent)
                    now = time.monotonic()
                    if now - last_update >= interval:
                        last_update = now
                        self.status_update(job, frames, percent)
            proc.wait()
        except Canceled:
            proc.kill()
            proc.wait()
            raise
        finally:
            if proc.poll() is None:
                proc.kill()
        if proc.returncode != 0:
            message = " ".join(l.strip() for l in errors[-3:]) or f"ffmpeg exited {proc.returncode}"
            raise JobFailed(UNKNOWN_ERROR, f"transcoding failed: {message}")

    def status_update(self, job, frames, percent):
        """A STATUS_UPDATE event (each StatusUpdateInterval while transcoding)."""
        with self.server.LOCK:
            phases = {"PROBING": {"status": "COMPLETE", "percentComplete": 100},
                      "TRANSCODING": {"status": "PROGRESSING", "percentComplete": min(100, int(percent * 100 / 90))},
                      "UPLOADING": {"status": "PENDING", "percentComplete": 0}}
            self.job_changed(job, progress={
                "framesDecoded": frames,
                "jobProgress": {"phaseProgress": phases, "jobPercentComplete": percent,
                                "currentTime": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                                "retryCount": job.get("RetryCount", 0), "currentPhase": "TRANSCODING"}})

    def measure(self, groups, files, work):
        """outputGroupDetails as the COMPLETE event reports them (ffprobe of what was
        written); HLS groups also get their master playlist written here."""
        details = []
        for group in groups:
            outputs, variants = [], []
            for o in group["outputs"]:
                path = o["local"]
                if group["kind"] == "HLS_GROUP":
                    segments = read_playlist(path)
                    if not segments:
                        raise JobFailed(UNKNOWN_ERROR, f"ffmpeg wrote no segment for {o['url']}")
                    info = ffprobe(segments[0][0])
                    duration = sum(d for _, d, _ in segments)
                    total = sum(size for _, _, size in segments)
                    peak = max(size * 8 / d for _, d, size in segments if d > 0)
                else:
                    info = ffprobe(path)
                    duration = float(info["format"]["duration"])
                video = next(s for s in info["streams"] if s.get("codec_type") == "video")
                detail = {"outputFilePaths": [o["url"]], "durationInMs": int(round(duration * 1000)),
                          "videoDetails": {"widthInPx": video["width"], "heightInPx": video["height"]}}
                if group["kind"] == "FILE_GROUP":  # the video stream's, as the event reports it
                    detail["videoDetails"]["averageBitrate"] = int(video.get("bit_rate") or 0) or int(
                        int(info["format"]["size"]) * 8 / duration)
                else:
                    num, _, den = video.get("avg_frame_rate", "0/1").partition("/")
                    variants.append({"uri": o["url"].rsplit("/", 1)[-1], "peak": int(peak),
                                     "average": int(total * 8 / duration), "codecs": rfc6381(segments[0][0], info),
                                     "width": video["width"], "height": video["height"],
                                     "fps": float(num) / float(den) if float(den or 0) else 0.0})
                outputs.append(detail)
            entry = {"outputDetails": outputs, "type": group["kind"]}
            if group["kind"] == "HLS_GROUP":
                master = os.path.join(work, "out", f"master-{len(details)}.m3u8")
                with open(master, "w") as f:
                    f.write(master_playlist(variants))
                files.append((master, group["master"]))
                entry["playlistFilePaths"] = [group["master"]]
            details.append(entry)
        return details

    def upload(self, s3, files):
        for path, url in files:
            bucket, key = re.fullmatch(r"s3://([^/]+)/(.*)", url).groups()
            ext = os.path.splitext(key)[1].lower()
            try:
                with open(path, "rb") as body:
                    s3.put_object(Bucket=bucket, Key=key, Body=body,
                                  ContentType=CONTENT_TYPES.get(ext, "application/octet-stream"))
            except ClientError as e:
                error = e.response.get("Error", {})
                raise JobFailed(OUTPUT_ERROR, f"Unable to write to output file [{url}]: "
                                              f"[Failed to write data: {error.get('Message') or error.get('Code')}]")
