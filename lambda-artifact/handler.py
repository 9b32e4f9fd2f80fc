"""cattube's converter function.

An S3 "ObjectCreated" notification from the source bucket invokes
``lambda_handler``; for every uploaded video it submits one AWS Elemental
MediaConvert job built from the stack's job template, writing the outputs to the
destination bucket under the source key's folder::

    s3://<source>/cats/tabby cat.mp4  ->  s3://<destination>/cats/tabby cat-hd.mp4
                                          s3://<destination>/cats/tabby cat-sd.mp4

Configured only by environment variables (set by ``cattube up``):

    DESTINATION_BUCKET      bucket the outputs are written to
    JOB_TEMPLATE            name of the MediaConvert job template made from job.json
    QUEUE_ARN               MediaConvert queue the jobs are submitted to
    MEDIACONVERT_ROLE_ARN   IAM role MediaConvert assumes to read and write S3
    STACK                   cattube stack name (recorded in each job's UserMetadata)
    MAX_UPLOAD_MB           optional ([job] max-upload-mb): uploads larger than this many
                            MiB are rejected, so no job bills their minutes
    MAX_DURATION_MIN        optional ([job] max-duration-min): uploads longer than this
                            many minutes are rejected
    MAX_OUTPUT_MINUTES_PER_DAY  optional ([job] max-output-minutes-per-day): the output
                            minutes all the stack's jobs may bill per UTC day; an upload that
                            would exceed them is rejected (see "Limits that bound the bill")
    TOPIC_ARN               optional ([notify] email): the SNS topic told of each finished job
    PLAYBACK_DOMAIN         optional: the CloudFront domain the notifications' URLs use
                            (without it they name the outputs' S3 locations)

It is invoked two ways: by the source bucket's S3 notification (an upload: submit
a job, add it to catalog.json) and by the stack's EventBridge rule (a "MediaConvert
Job State Change" of the stack's queue: update the job's entry in catalog.json).

Each upload gets exactly one job, whatever S3 and Lambda redeliver: a claim
object per upload in the destination bucket (see "Exactly one job per
upload" below).

Needs only the standard library and boto3 (both in the Lambda Python runtime).
Every log line is one JSON object on stdout. Any MediaConvert error is logged
and re-raised so that Lambda retries the event.
"""

from __future__ import annotations

import copy
import datetime
import hashlib
import json
import math
import os
import posixpath
import random
import struct
import time
import unicodedata
import urllib.parse
from typing import Any

import boto3
from botocore.config import Config

ENV_VARS = (
    "DESTINATION_BUCKET",
    "JOB_TEMPLATE",
    "QUEUE_ARN",
    "MEDIACONVERT_ROLE_ARN",
    "STACK",
)

# Input settings used when the job template has no input of its own (the
# default job.json always has one; a user's own job.json might not).
DEFAULT_INPUT: dict[str, Any] = {
    "AudioSelectors": {"Audio Selector 1": {"DefaultSelection": "DEFAULT"}},
    "VideoSelector": {},
    "TimecodeSource": "ZEROBASED",
}

# OutputGroupSettings.Type -> the member holding that group's Destination.
GROUP_SETTINGS = {
    "FILE_GROUP_SETTINGS": "FileGroupSettings",
    "HLS_GROUP_SETTINGS": "HlsGroupSettings",
    "DASH_ISO_GROUP_SETTINGS": "DashIsoGroupSettings",
    "CMAF_GROUP_SETTINGS": "CmafGroupSettings",
    "MS_SMOOTH_GROUP_SETTINGS": "MsSmoothGroupSettings",
}

# The CreateJob members the function sets itself; every other member a job
# template carries is copied to the job only if CreateJob accepts it (see
# template_job_fields).
OWN_JOB_FIELDS = frozenset(
    ("JobTemplate", "Queue", "Role", "Settings", "UserMetadata", "ClientRequestToken")
)

# MediaConvert job UserMetadata restrictions ("AWS Elemental MediaConvert job
# tag restrictions", MediaConvert User Guide): at most 10 pairs; keys up to 128
# and values up to 256 Unicode characters; only Unicode letters and numbers,
# space and _ . : / = + - @. An S3 key may hold any character and 1,024 bytes,
# so the source key is stored escaped (see encode_metadata_key): readable,
# exact, and decoded the same way by the `jobs` command (stages/src/videos.rs).
# An escaped key longer than a value may be is cut, and its SHA-256 recorded
# beside it, so the key is still matched exactly.
METADATA_VALUE_MAX = 256
METADATA_KEY = "cattube:source-key"
METADATA_KEY_SHA256 = "cattube:source-key-sha256"
# The claim token of the invocation that submitted the job: a retry that takes
# the claim over finds the job an earlier attempt made by it.
METADATA_CLAIM = "cattube:claim"
# Stored as themselves; every other character is escaped as =XX per UTF-8 byte
# (ASCII only, so no Unicode normalisation can change a stored key).
METADATA_UNESCAPED = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 _.:/+-@")

# One MediaConvert client per container (cold start), reused by later
# invocations. Tests replace it with a stubbed client.
_CLIENT = None


def _client():
    """The MediaConvert client, created once per container.

    MediaConvert is reached at its regional endpoint
    (https://mediaconvert.<region>.amazonaws.com), which botocore resolves by
    itself; DescribeEndpoints and account-specific endpoints are deprecated.
    AWS_ENDPOINT_URL(_MEDIACONVERT) is honoured by boto3 for emulators.
    """
    global _CLIENT
    if _CLIENT is None:
        _CLIENT = boto3.client(
            "mediaconvert",
            config=Config(
                retries={"mode": "standard"},
                user_agent_extra="cattube-converter",
            ),
        )
    return _CLIENT


def log(level: str, message: str, **fields: Any) -> None:
    """Write one JSON log line to stdout (CloudWatch Logs keeps one event per line)."""
    print(json.dumps({"level": level, "message": message, **fields}, default=str), flush=True)


def _error_fields(err: BaseException) -> dict[str, Any]:
    fields: dict[str, Any] = {"error_type": type(err).__name__, "error": str(err)}
    response = getattr(err, "response", None)  # botocore ClientError and subclasses
    if isinstance(response, dict):
        fields["error_code"] = (response.get("Error") or {}).get("Code")
        fields["request_id"] = (response.get("ResponseMetadata") or {}).get("RequestId")
    return fields


def _config() -> dict[str, str]:
    missing = [name for name in ENV_VARS if not os.environ.get(name)]
    if missing:
        log("ERROR", "missing configuration", missing_environment_variables=missing)
        raise RuntimeError("missing environment variable(s): " + ", ".join(missing))
    return {name: os.environ[name] for name in ENV_VARS}


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    config = _config()
    if event.get("source") == "aws.mediaconvert" and event.get("detail-type") == JOB_EVENT:
        return handle_job_event(config, event)
    template = None  # read once per invocation, only if a job is to be submitted

    def load_template() -> dict[str, Any]:
        nonlocal template
        if template is None:
            template = get_job_template(config)
        return template

    jobs: list[dict[str, str]] = []
    skipped: list[dict[str, str]] = []

    for index, record in enumerate(event.get("Records") or []):
        upload = parse_record(record)
        if upload is None:
            log(
                "INFO",
                "record ignored: not an S3 ObjectCreated event",
                stack=config["STACK"],
                record_index=index,
                event_source=record.get("eventSource"),
                event_name=record.get("eventName"),
            )
            continue

        reason = skip_reason(upload)
        if reason is not None:
            log(
                "INFO",
                "upload skipped: " + reason,
                stack=config["STACK"],
                source_bucket=upload["bucket"],
                source_key=upload["key"],
                size=upload["size"],
                reason=reason,
            )
            skipped.append({"key": upload["key"], "reason": reason})
            continue

        destination = output_destination(config["DESTINATION_BUCKET"], upload["key"])
        token = client_request_token(upload)
        try:
            claim = claim_upload(config, upload, token, context)
        except Exception as err:
            log(
                "ERROR",
                "claiming the upload failed",
                stack=config["STACK"],
                source_bucket=upload["bucket"],
                source_key=upload["key"],
                claim=claim_key(token),
                client_request_token=token,
                **_error_fields(err),
            )
            raise
        if claim.get("state") == REJECTED:
            log("INFO", "upload skipped: already rejected", stack=config["STACK"],
                source_bucket=upload["bucket"], source_key=upload["key"], limit=claim.get("limit"),
                client_request_token=token, reason="already rejected")
            skipped.append({"key": upload["key"], "reason": "already rejected", "limit": claim.get("limit")})
            continue
        if claim.get("state") == SUBMITTED:
            log(
                "INFO",
                "upload skipped: already submitted",
                stack=config["STACK"],
                source_bucket=upload["bucket"],
                source_key=upload["key"],
                job_id=claim.get("job_id"),
                client_request_token=token,
                reason="already submitted",
            )
            skipped.append({"key": upload["key"], "reason": "already submitted", "job_id": claim.get("job_id")})
            continue
        earlier = claim.get("taken_over")
        try:
            adopted = find_earlier_job(config, token, earlier) if earlier is not None else None
        except Exception as err:
            release_claim(config, upload, token)
            log("ERROR", "looking for an earlier attempt's job failed", stack=config["STACK"],
                source_key=upload["key"], queue=config["QUEUE_ARN"], client_request_token=token,
                **_error_fields(err))
            raise
        if adopted is not None:
            log("INFO", "job adopted: an earlier attempt submitted it", stack=config["STACK"],
                source_bucket=upload["bucket"], source_key=upload["key"], job_id=adopted,
                client_request_token=token)
            record_submitted(config, upload, token, adopted)
            catalog_submitted(config, upload["key"], adopted)
            jobs.append({"job_id": adopted, "key": upload["key"], "destination": destination})
            continue
        try:
            rejection = check_limits(config, upload, token, load_template)
            if rejection is not None:
                reject(config, upload, token, rejection)
            else:
                template = load_template()
        except Exception:
            release_claim(config, upload, token)
            raise
        if rejection is not None:
            skipped.append({"key": upload["key"], "reason": rejection["reason"], "limit": rejection["limit"]})
            continue
        try:
            request = build_create_job_request(config, template, upload)
            response = _client().create_job(**request)
        except Exception as err:
            release_claim(config, upload, token)
            log(
                "ERROR",
                "job submission failed",
                stack=config["STACK"],
                source_bucket=upload["bucket"],
                source_key=upload["key"],
                queue=config["QUEUE_ARN"],
                job_template=config["JOB_TEMPLATE"],
                destination=destination,
                client_request_token=token,
                **_error_fields(err),
            )
            raise

        job_id = response["Job"].get("Id")
        log(
            "INFO",
            "job submitted",
            stack=config["STACK"],
            source_bucket=upload["bucket"],
            source_key=upload["key"],
            job_id=job_id,
            queue=config["QUEUE_ARN"],
            job_template=config["JOB_TEMPLATE"],
            destination=destination,
            client_request_token=token,
        )
        record_submitted(config, upload, token, job_id)
        catalog_submitted(config, upload["key"], job_id)
        jobs.append({"job_id": job_id, "key": upload["key"], "destination": destination})

    return {"jobs": jobs, "skipped": skipped}


def parse_record(record: dict[str, Any]) -> dict[str, Any] | None:
    """The upload described by an S3 ObjectCreated record, or None for any other record.

    S3 event notifications URL-encode object keys the way HTML forms do
    (space as "+", everything else non-safe as %XX of its UTF-8 bytes), so the
    key is decoded with unquote_plus: "cats/tabby+cat.mp4" -> "cats/tabby cat.mp4",
    "k%C3%A4tzchen%2B1.mp4" -> "kätzchen+1.mp4".
    """
    if record.get("eventSource") != "aws:s3":
        return None
    if not str(record.get("eventName", "")).startswith("ObjectCreated:"):
        return None
    s3 = record.get("s3") or {}
    obj = s3.get("object") or {}
    bucket = (s3.get("bucket") or {}).get("name")
    raw_key = obj.get("key")
    if not bucket or raw_key is None:
        return None
    return {
        "bucket": bucket,
        "key": urllib.parse.unquote_plus(raw_key),
        "size": obj.get("size"),
        "version_id": obj.get("versionId") or "",
        "etag": obj.get("eTag") or "",
        "sequencer": obj.get("sequencer") or "",
    }


def skip_reason(upload: dict[str, Any]) -> str | None:
    """Why an object is no upload at all (None: it is one; the limits come later)."""
    if upload["key"].endswith("/"):
        return "folder marker"
    if upload["size"] == 0:
        return "empty object"
    return None


def positive_setting(name: str, unit: str) -> int | None:
    """A limit from the environment, or None. A value that is not a positive whole number
    is a configuration error (cattube never sets one): raise, rather than convert everything."""
    raw = os.environ.get(name, "")
    if raw == "":
        return None
    if not raw.isdigit() or int(raw) < 1:
        log("ERROR", "bad configuration", **{name: raw})
        raise RuntimeError(f"{name} must be a positive whole number of {unit}, not {raw!r}")
    return int(raw)


def max_upload_mb() -> int | None:
    return positive_setting("MAX_UPLOAD_MB", "MiB")


# --------------------------------------------------------------------------
# Limits that bound the bill ([job] max-upload-mb, max-duration-min,
# max-output-minutes-per-day), checked after the upload is claimed and before
# CreateJob. A rejected upload gets no job: the object is tagged
# cattube:rejected=<limit> (kept, never deleted here), the catalog shows it as
# REJECTED with the reason, and its claim is marked REJECTED so that no
# redelivery, Lambda retry or `jobs --retry-failed` submits it later.
#
# The input's duration comes from MediaConvert's Probe where the function's botocore
# has it and the region answers it, else from the file's own MP4/QuickTime header
# (mvhd), read with at most MP4_MAX_READS ranged GetObjects. A file neither can time
# is rejected when a duration limit is set (fail closed: its minutes cannot be bounded).
#
# The day's output minutes are a counter object per UTC day in the destination
# bucket, _cattube/usage/<YYYY-MM-DD>.json, updated like the catalog (PutObject
# If-Match on the ETag read, If-None-Match: * for the day's first), so concurrent
# invocations cannot together pass the cap. Each job's minutes are recorded under
# its claim token: a retry of the same upload is not counted twice. A reservation
# is kept even if CreateJob then fails for good (the cap errs on the safe side).
# --------------------------------------------------------------------------

REJECTED = "REJECTED"
# The source object's tag: its value names the limit ([job] key) that rejected it.
REJECTED_TAG = "cattube:rejected"
# Kept equal to stages/src/converter_role.rs's USAGE_PREFIX (checked by a test there).
USAGE_PREFIX = "_cattube/usage/"
# MediaConvert bills each output for its duration in whole seconds, at least 10 s.
BILLED_MINIMUM_S = 10
# The MP4 header reader: each ranged GetObject reads this many bytes, at most this often.
MP4_READ_BYTES = 64 * 1024
MP4_MAX_READS = 6
# Top-level ISO BMFF / QuickTime boxes a file may start with.
MP4_FIRST_BOXES = frozenset((b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot", b"uuid"))


def check_limits(config: dict[str, str], upload: dict[str, Any], token: str,
                 load_template) -> dict[str, Any] | None:
    """The limit an upload is over ({"limit", "reason", "duration_s"}), or None. With a
    daily cap, an upload within it has its output minutes counted before it is submitted."""
    size_mb = max_upload_mb()
    if size_mb is not None and (upload["size"] or 0) > size_mb * 1024 * 1024:
        return {"limit": "max-upload-mb", "reason": f"larger than {size_mb} MB", "duration_s": None}
    max_minutes = positive_setting("MAX_DURATION_MIN", "minutes")
    per_day = positive_setting("MAX_OUTPUT_MINUTES_PER_DAY", "output minutes")
    if max_minutes is None and per_day is None:
        return None
    seconds, source = input_duration(upload)
    if seconds is None:
        limit = "max-duration-min" if max_minutes is not None else "max-output-minutes-per-day"
        return {"limit": limit, "duration_s": None,
                "reason": f"duration unknown ({source}); the limits need it, so no job"}
    if max_minutes is not None and seconds > max_minutes * 60:
        return {"limit": "max-duration-min", "duration_s": seconds,
                "reason": f"longer than {max_minutes} min ({seconds / 60:.1f} min)"}
    if per_day is not None:
        minutes = billed_output_minutes(load_template(), seconds)
        used = reserve_output_minutes(config, token, minutes, per_day)
        if used is not None:
            return {"limit": "max-output-minutes-per-day", "duration_s": seconds,
                    "reason": f"over today's {per_day} output minutes ({used:g} used, this video "
                              f"needs {minutes:g})"}
    return None


def billed_output_minutes(template: dict[str, Any], seconds: float) -> float:
    """What one job of the template bills for an input of `seconds`: each output its
    duration in whole seconds, at least 10 s (MediaConvert's pricing)."""
    outputs = sum(len(group.get("Outputs") or []) for group in (template.get("Settings") or {}).get("OutputGroups") or [])
    return outputs * max(BILLED_MINIMUM_S, math.ceil(seconds)) / 60


def input_duration(upload: dict[str, Any]) -> tuple[float | None, str]:
    """(the input's duration in seconds or None, where it came from or why not)."""
    url = f"s3://{upload['bucket']}/{upload['key']}"
    client = _client()
    if "Probe" in client.meta.service_model.operation_names:
        try:
            results = client.probe(InputFiles=[{"FileUrl": url}]).get("ProbeResults") or []
            duration = ((results[0] if results else {}).get("Container") or {}).get("Duration")
            if duration:
                return float(duration), "MediaConvert Probe"
            log("WARNING", "MediaConvert Probe gave no duration; reading the file's header",
                source_key=upload["key"])
        except Exception as err:
            # A region without Probe, or a file it cannot open: the header reader decides.
            log("WARNING", "MediaConvert Probe failed; reading the file's header",
                source_key=upload["key"], **_error_fields(err))

    def read(start: int, length: int) -> bytes:
        end = min(start + length, upload["size"]) - 1
        found = _s3().get_object(Bucket=upload["bucket"], Key=upload["key"], Range=f"bytes={start}-{end}")
        return found["Body"].read()

    try:
        seconds = mp4_duration(read, upload["size"] or 0)
    except Exception as err:
        log("ERROR", "reading the file's header failed", source_key=upload["key"], **_error_fields(err))
        return None, f"reading its header failed: {_error_code(err) or type(err).__name__}"
    if seconds is None:
        return None, "not an MP4 or QuickTime file with a duration in its header"
    return seconds, "MP4 header"


def mp4_duration(read, size: int) -> float | None:
    """The duration in an ISO BMFF (MP4, QuickTime MOV, 3GP) file's movie header
    (moov/mvhd), or None when the file is no such file or states none (0, or all ones).

    `read(start, length)` returns bytes of the file; it is called at most MP4_MAX_READS
    times for MP4_READ_BYTES each: the top-level boxes are walked by their headers alone,
    so moov at the start takes one read and moov after the media data a second."""
    cache = {"start": 0, "data": b"", "reads": 0}

    def get(at: int, length: int) -> bytes:
        start, data = cache["start"], cache["data"]
        if start <= at and at + length <= start + len(data):
            return data[at - start:at - start + length]
        if cache["reads"] >= MP4_MAX_READS:
            raise ValueError(f"no movie header within {MP4_MAX_READS} reads")
        cache["reads"] += 1
        cache["start"], cache["data"] = at, read(at, max(length, MP4_READ_BYTES))
        return cache["data"][:length]

    def boxes(start: int, end: int):
        offset = start
        while offset + 8 <= end:
            header = get(offset, min(16, end - offset))
            box_size, kind = struct.unpack(">I4s", header[:8])
            header_size = 8
            if box_size == 1 and len(header) >= 16:
                box_size, header_size = struct.unpack(">Q", header[8:16])[0], 16
            elif box_size == 0:  # to the end of the file
                box_size = end - offset
            if box_size < header_size:
                return
            yield kind, offset + header_size, offset + box_size
            offset += box_size

    for index, (kind, body, end) in enumerate(boxes(0, size)):
        if index == 0 and kind not in MP4_FIRST_BOXES:
            return None
        if kind != b"moov":
            continue
        for child, child_body, _ in boxes(body, min(end, size)):
            if child != b"mvhd":
                continue
            version = get(child_body, 1)[0]
            if version == 1:  # 64-bit times and duration
                timescale, duration = struct.unpack(">IQ", get(child_body + 20, 12))
                unknown = 0xFFFFFFFFFFFFFFFF
            else:
                timescale, duration = struct.unpack(">II", get(child_body + 12, 8))
                unknown = 0xFFFFFFFF
            if timescale == 0 or duration in (0, unknown):
                return None
            return duration / timescale
        return None
    return None


def day_usage_key(now: float | None = None) -> str:
    day = datetime.datetime.fromtimestamp(time.time() if now is None else now, datetime.timezone.utc)
    return f"{USAGE_PREFIX}{day.strftime('%Y-%m-%d')}.json"


def reserve_output_minutes(config: dict[str, str], token: str, minutes: float, cap: int) -> float | None:
    """Counts `minutes` against today's cap for the upload `token`: None when they fit
    (or were counted before for the same upload), else the minutes already used."""
    key = day_usage_key()

    def change(usage):
        if token in usage["jobs"]:
            return {"used": None, "write": False}  # a retry of an upload already counted
        used = round(sum(usage["jobs"].values()), 6)
        if used + minutes > cap:
            return {"used": used, "write": False}
        usage["jobs"][token] = minutes
        usage["output_minutes"] = round(used + minutes, 6)
        return {"used": None, "write": True}

    result = update_document(config["DESTINATION_BUCKET"], key,
                             lambda: {"day": key[len(USAGE_PREFIX):-len(".json")], "output_minutes": 0, "jobs": {}},
                             _check_usage, change)
    return None if result is None else result["used"]


def _check_usage(doc: Any) -> None:
    if not isinstance(doc, dict) or not isinstance(doc.get("jobs"), dict):
        raise ValueError("not a usage counter")


def reject(config: dict[str, str], upload: dict[str, Any], token: str, rejection: dict[str, Any]) -> None:
    """Tags the source object, shows the rejection in the catalog and marks the claim, in
    that order: a failure raises (the caller releases the claim) and a retry redoes all three."""
    tag_rejected(upload, rejection["limit"])
    catalog_rejected(config, upload["key"], rejection)
    _s3().put_object(
        Bucket=config["DESTINATION_BUCKET"], Key=claim_key(token),
        Body=_claim_body(REJECTED, upload, limit=rejection["limit"], reason=rejection["reason"],
                         rejected_at=int(time.time())),
        ContentType="application/json")
    log("INFO", "upload rejected: " + rejection["reason"], stack=config["STACK"],
        source_bucket=upload["bucket"], source_key=upload["key"], size=upload["size"],
        limit=rejection["limit"], duration_s=rejection["duration_s"], client_request_token=token)


def tag_rejected(upload: dict[str, Any], limit: str) -> None:
    """Adds cattube:rejected=<limit> to the object's tags (PutObjectTagging replaces the
    whole set, so the uploader's own tags are read and kept)."""
    tags = _s3().get_object_tagging(Bucket=upload["bucket"], Key=upload["key"]).get("TagSet") or []
    kept = [t for t in tags if t["Key"] != REJECTED_TAG]
    _s3().put_object_tagging(Bucket=upload["bucket"], Key=upload["key"],
                             Tagging={"TagSet": kept + [{"Key": REJECTED_TAG, "Value": limit}]})


def get_job_template(config: dict[str, str]) -> dict[str, Any]:
    """The stack's job template, read at run time so `cattube up` changes take effect."""
    try:
        return _client().get_job_template(Name=config["JOB_TEMPLATE"])["JobTemplate"]
    except Exception as err:
        log(
            "ERROR",
            "reading the job template failed",
            stack=config["STACK"],
            job_template=config["JOB_TEMPLATE"],
            **_error_fields(err),
        )
        raise


def output_destination(bucket: str, key: str) -> str:
    """Destination URL for the outputs of `key`: its folder plus its base name.

    MediaConvert's FileGroupSettings.Destination: a value ending in "/" is a
    folder, and the output base name is then taken from the input file's name;
    a value not ending in "/" ends with the base name itself. Each output is
    written as <base name><NameModifier>.<container extension>. The base name is
    passed explicitly (the key's last segment without its extension) so output
    names never depend on how MediaConvert parses the input URL:

        "cats/tabby cat.mp4" -> "s3://<bucket>/cats/tabby cat"
                             -> cats/tabby cat-hd.mp4, cats/tabby cat-sd.mp4
        "tabbycat.mp4"       -> "s3://<bucket>/tabbycat"

    Known limitation: Destination also expands the format identifiers $dt$,
    $d$ and $t$, for which MediaConvert documents no escape, so a key
    containing one of them gets that part replaced by the job's start time.
    """
    folder, _, name = key.rpartition("/")
    base = posixpath.splitext(name)[0] or name  # ".mp4" keeps its name
    prefix = folder + "/" if "/" in key else ""
    return f"s3://{bucket}/{prefix}{base}"


def client_request_token(upload: dict[str, Any]) -> str:
    """Idempotency token of an upload: 64 hex characters (MediaConvert allows up to 64 ASCII).

    Derived from what identifies one S3 event: bucket, key, version id, ETag
    and the event's sequencer. A retried or duplicated delivery of the same
    event gets the same token; a new upload of the same key gets a new
    sequencer (and usually a new ETag/version), so a new token. MediaConvert
    returns the original job for a token reused within one minute of a
    successful CreateJob; later repeats create a new job.
    """
    identity = json.dumps(
        [upload["bucket"], upload["key"], upload["version_id"], upload["etag"], upload["sequencer"]],
        ensure_ascii=True,
    )
    return hashlib.sha256(identity.encode("ascii")).hexdigest()


# --------------------------------------------------------------------------
# Exactly one job per upload: a claim object per upload in the destination
# bucket, written with S3's conditional writes. ClientRequestToken alone
# dedupes only within one minute of a successful CreateJob, while Lambda
# retries an async invocation 1 and 2 minutes later and S3 may deliver an
# event more than once, at any time.
#
#   _cattube/claims/<token>.json  {"state": "IN_PROGRESS", "expires_at": t}
#                                 {"state": "SUBMITTED", "job_id": ...}
#
# The claim is created with If-None-Match: * (only one invocation can), so a
# duplicate finds it: SUBMITTED means skip; IN_PROGRESS and not expired means
# another invocation is submitting right now, so this one fails and Lambda
# retries it later; IN_PROGRESS and expired means its holder ran out of time,
# and the claim is taken over with If-Match on the ETag read. A failed
# CreateJob marks the claim expired, so Lambda's retry takes it over. Before a
# takeover submits, it looks for a job carrying the claim token in its
# UserMetadata among the queue's jobs since the earlier claim, and adopts it:
# the earlier holder may have made the job and stopped before recording it
# (timeout, crash, or CreateJob succeeding server-side but raising here), and
# ClientRequestToken only dedupes within a minute. The token (and
# so the claim) covers bucket, key, version id, ETag and sequencer: a new
# upload of the same key is a new claim.
#
# The destination bucket sends no notifications (a claim never invokes the
# function) and its policy denies CloudFront this prefix (never served).
# --------------------------------------------------------------------------

# Kept equal to stages/src/converter_role.rs's CLAIM_PREFIX (checked by a test there).
CLAIM_PREFIX = "_cattube/claims/"
IN_PROGRESS, SUBMITTED = "IN_PROGRESS", "SUBMITTED"  # and REJECTED (a limit)
# An in-progress claim outlives its invocation by this much (clock skew).
CLAIM_MARGIN_S = 30
# When there is no Lambda context (a local run): Lambda's longest timeout.
MAX_INVOCATION_S = 900

_S3 = None


def _s3():
    """The S3 client for claims, created once per container."""
    global _S3
    if _S3 is None:
        _S3 = boto3.client(
            "s3", config=Config(retries={"mode": "standard"}, user_agent_extra="cattube-converter")
        )
    return _S3


class ClaimHeld(RuntimeError):
    """Another invocation is submitting the job of this upload right now."""


def claim_key(token: str) -> str:
    return f"{CLAIM_PREFIX}{token}.json"


def _claim_body(state: str, upload: dict[str, Any], **fields: Any) -> bytes:
    doc = {"state": state, "source": f"s3://{upload['bucket']}/{upload['key']}",
           "etag": upload["etag"], "sequencer": upload["sequencer"], **fields}
    return json.dumps(doc, ensure_ascii=False).encode("utf-8")


def _error_code(err: Exception) -> str | None:
    response = getattr(err, "response", None)
    return (response.get("Error") or {}).get("Code") if isinstance(response, dict) else None


def claim_upload(config: dict[str, str], upload: dict[str, Any], token: str, context: Any) -> dict[str, Any]:
    """Claims the upload for this invocation: {} when it now holds the claim,
    the claim's document when a job was already submitted for it. Raises
    ClaimHeld while another invocation holds an unexpired claim."""
    bucket, key = config["DESTINATION_BUCKET"], claim_key(token)
    remaining = context.get_remaining_time_in_millis() / 1000 if context is not None else MAX_INVOCATION_S
    now = time.time()
    body = _claim_body(IN_PROGRESS, upload, claimed_at=int(now), expires_at=int(now + remaining + CLAIM_MARGIN_S))
    try:
        _s3().put_object(Bucket=bucket, Key=key, Body=body, IfNoneMatch="*", ContentType="application/json")
        return {}
    except Exception as err:
        # 412: the claim exists; 409: a concurrent conditional write to it is in flight.
        if _error_code(err) == "ConditionalRequestConflict":
            raise ClaimHeld(f"claim {key} is being written by another invocation") from err
        if _error_code(err) != "PreconditionFailed":
            raise
    found = _s3().get_object(Bucket=bucket, Key=key)
    doc = json.loads(found["Body"].read())
    if doc.get("state") in (SUBMITTED, REJECTED):
        return doc
    if doc.get("expires_at", 0) > time.time():
        raise ClaimHeld(f"claim {key} is held by another invocation until {doc.get('expires_at')}")
    # Its holder ran out of time without submitting: take it over, unless another
    # invocation just did (then If-Match fails and Lambda retries this one).
    try:
        _s3().put_object(Bucket=bucket, Key=key, Body=body, IfMatch=found["ETag"], ContentType="application/json")
    except Exception as err:
        if _error_code(err) in ("PreconditionFailed", "ConditionalRequestConflict"):
            raise ClaimHeld(f"claim {key} was taken over by another invocation") from err
        raise
    # The earlier holder may have made the job before it stopped: the caller looks first.
    return {"taken_over": doc}


# How far back a takeover looks for the job an earlier attempt made: ListJobs pages
# (newest first) until a job older than the earlier claim, at most this many pages.
EARLIER_JOB_PAGES = 10
EARLIER_JOB_PAGE_SIZE = 20
# Clock skew between this function and MediaConvert's CreatedAt.
CLOCK_SKEW_S = 60


def find_earlier_job(config: dict[str, str], token: str, earlier: dict[str, Any]) -> str | None:
    """The id of a job of the queue carrying this claim token in its UserMetadata
    (made by an earlier attempt that timed out, crashed or saw CreateJob fail
    client-side after it succeeded), or None."""
    since = earlier.get("claimed_at") or (earlier.get("expires_at", 0) - MAX_INVOCATION_S - CLAIM_MARGIN_S)
    since -= CLOCK_SKEW_S
    request: dict[str, Any] = {"Queue": config["QUEUE_ARN"], "Order": "DESCENDING",
                               "MaxResults": EARLIER_JOB_PAGE_SIZE}
    for _ in range(EARLIER_JOB_PAGES):
        page = _client().list_jobs(**request)
        for job in page.get("Jobs") or []:
            if (job.get("UserMetadata") or {}).get(METADATA_CLAIM) == token:
                return job.get("Id")
        jobs = page.get("Jobs") or []
        created = [j["CreatedAt"].timestamp() for j in jobs if j.get("CreatedAt")]
        if not page.get("NextToken") or (created and min(created) < since):
            return None
        request["NextToken"] = page["NextToken"]
    log("WARNING", "stopped looking for an earlier attempt's job", pages=EARLIER_JOB_PAGES,
        client_request_token=token)
    return None


def release_claim(config: dict[str, str], upload: dict[str, Any], token: str) -> None:
    """Marks this invocation's claim expired after a failed submission, so a retry
    takes it over at once, and (as CreateJob may have made the job though it
    raised) looks for the job before submitting again. If even that fails, the
    claim expires by itself."""
    try:
        _s3().put_object(Bucket=config["DESTINATION_BUCKET"], Key=claim_key(token),
                         Body=_claim_body(IN_PROGRESS, upload, claimed_at=int(time.time()), expires_at=0,
                                          released=True),
                         ContentType="application/json")
    except Exception as err:
        log("ERROR", "releasing the claim failed", claim=claim_key(token), **_error_fields(err))


def record_submitted(config: dict[str, str], upload: dict[str, Any], token: str, job_id: str | None) -> None:
    """Marks the claim SUBMITTED. The job exists whatever happens here, so a
    failure is logged, not raised (a Lambda retry would only find the claim
    in progress); the claim then expires and only a later duplicate delivery
    could submit again."""
    try:
        _s3().put_object(
            Bucket=config["DESTINATION_BUCKET"],
            Key=claim_key(token),
            Body=_claim_body(SUBMITTED, upload, job_id=job_id, submitted_at=int(time.time())),
            ContentType="application/json",
        )
    except Exception as err:
        log("ERROR", "recording the submitted job failed", claim=claim_key(token), job_id=job_id,
            **_error_fields(err))


# --------------------------------------------------------------------------
# The catalog: catalog.json at the destination bucket's root, the one list the
# player page and `cattube videos` read. One entry per submitted job, added when
# the job is submitted and updated from MediaConvert's job state change events
# (EventBridge invokes this function for the stack's queue only):
#
#   {"version": 1, "videos": [{"key", "status", "percent", "job_id",
#     "submitted", "updated", "duration_ms", "error", "outputs": [...]}]}
#
# Every change is a read-modify-write with S3's conditional writes: PutObject
# with If-Match on the ETag read (If-None-Match: * for the first write), retried
# with full-jitter backoff when another invocation wrote first, so concurrent
# updates never lose an entry. It holds only what the player needs: no source
# bucket, account id or job settings.
# --------------------------------------------------------------------------

# Kept equal to stages/src/converter_role.rs's CATALOG_KEY (checked by a test there).
CATALOG_KEY = "catalog.json"
CATALOG_VERSION = 1
# Bounded retries of a conflicting write: 20 attempts, full jitter from 50 ms up to 2 s.
CATALOG_ATTEMPTS = 20
CATALOG_BACKOFF_S = 0.05
CATALOG_BACKOFF_CAP_S = 2.0
JOB_EVENT = "MediaConvert Job State Change"
FINISHED = ("COMPLETE", "ERROR", "CANCELED")
# How far along each status is: an event delivered late never moves an entry back.
STATUS_RANK = {"SUBMITTED": 0, "PROGRESSING": 1, "COMPLETE": 2, "ERROR": 2, "CANCELED": 2}


class CatalogBusy(RuntimeError):
    """Every attempt to write the catalog lost to another writer."""


def rfc3339(seconds: float | None = None) -> str:
    when = time.time() if seconds is None else seconds
    return datetime.datetime.fromtimestamp(when, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class CatalogUnreadable(RuntimeError):
    """catalog.json exists (a write conditional on its absence failed) but reading it is denied."""


def read_document(bucket: str, key: str, empty, check) -> tuple[Any, str | None]:
    """A JSON document the function keeps and its ETag; ``empty()`` and None when there is
    none yet.

    The converter role may not s3:ListBucket the destination (least privilege), and S3
    answers such a caller's GetObject of a missing key with 403 AccessDenied, not 404: the
    first upload into a fresh stack meets exactly that. So AccessDenied reads as "none yet"
    too. It cannot hide a document that exists: the write that follows an absent read is
    conditional on If-None-Match: *, which fails with 412 if one exists, and update_document
    then raises CatalogUnreadable instead of overwriting it."""
    try:
        found = _s3().get_object(Bucket=bucket, Key=key)
    except Exception as err:
        if _error_code(err) in ("NoSuchKey", "404", "AccessDenied", "403"):
            return empty(), None
        raise
    doc = json.loads(found["Body"].read())
    check(doc)
    return doc, found["ETag"]


def _check_catalog(doc: Any) -> None:
    if not isinstance(doc, dict) or doc.get("version") != CATALOG_VERSION or not isinstance(doc.get("videos"), list):
        raise ValueError(f"{CATALOG_KEY} is not a version {CATALOG_VERSION} catalog")


def _empty_catalog() -> dict[str, Any]:
    return {"version": CATALOG_VERSION, "videos": []}


def read_catalog(bucket: str) -> tuple[dict[str, Any], str | None]:
    """The catalog and its ETag; an empty catalog and None when there is none yet."""
    return read_document(bucket, CATALOG_KEY, _empty_catalog, _check_catalog)


def update_catalog(bucket: str, change) -> Any:
    """Applies ``change(videos)`` to the catalog and writes it back conditionally."""
    return update_document(bucket, CATALOG_KEY, _empty_catalog, _check_catalog,
                           lambda doc: change(doc["videos"]), cache_control="no-cache")


def update_document(bucket: str, key: str, empty, check, change, cache_control: str | None = None) -> Any:
    """Applies ``change(doc)`` to a JSON document and writes it back conditionally.

    ``change`` edits the document in place and returns what the caller wants back, or
    None when there is nothing to write (a dict with "write": False: return it unwritten).
    A write another invocation beat (412 PreconditionFailed, 409
    ConditionalRequestConflict) is retried on a fresh read.
    """
    absent_write_refused = False  # the last write, made after an absent read, met a document
    for attempt in range(CATALOG_ATTEMPTS):
        doc, etag = read_document(bucket, key, empty, check)
        if etag is None and absent_write_refused:
            # A document exists (If-None-Match: * just failed) and still reads as absent:
            # GetObject is denied, not missing. Retrying would never succeed.
            raise CatalogUnreadable(f"s3://{bucket}/{key} exists but GetObject of it is denied")
        result = change(doc)
        if result is None or (isinstance(result, dict) and result.get("write") is False):
            return result
        condition = {"IfMatch": etag} if etag is not None else {"IfNoneMatch": "*"}
        extra = {"CacheControl": cache_control} if cache_control else {}
        try:
            _s3().put_object(
                Bucket=bucket,
                Key=key,
                Body=json.dumps(doc, ensure_ascii=False).encode("utf-8"),
                ContentType="application/json",
                **extra,
                **condition,
            )
            return result
        except Exception as err:
            if _error_code(err) not in ("PreconditionFailed", "ConditionalRequestConflict"):
                raise
            absent_write_refused = etag is None and _error_code(err) == "PreconditionFailed"
        time.sleep(random.uniform(0, min(CATALOG_BACKOFF_CAP_S, CATALOG_BACKOFF_S * 2**attempt)))
    raise CatalogBusy(f"{key}: {CATALOG_ATTEMPTS} conditional writes lost to other writers")


def new_entry(key: str, job_id: str | None, when: str, status: str = "SUBMITTED") -> dict[str, Any]:
    return {"key": key, "status": status, "percent": None, "job_id": job_id, "submitted": when,
            "updated": when, "duration_ms": None, "error": None, "outputs": []}


def catalog_submitted(config: dict[str, str], key: str, job_id: str) -> None:
    """Adds the entry of a job just submitted (unless an event of the job came first).
    The job exists whatever happens here: a failure is logged, not raised, and the
    job's next state change adds the entry."""
    when = rfc3339()

    def change(videos):
        if any(v.get("job_id") == job_id for v in videos):
            return None
        # A new upload of a key that was rejected replaces the rejection.
        videos[:] = [v for v in videos if not (v.get("key") == key and v.get("status") == REJECTED)]
        videos.append(new_entry(key, job_id, when))
        return True

    try:
        update_catalog(config["DESTINATION_BUCKET"], change)
    except Exception as err:
        log("ERROR", "adding the job to the catalog failed", key=key, job_id=job_id, **_error_fields(err))


def catalog_rejected(config: dict[str, str], key: str, rejection: dict[str, Any]) -> None:
    """Shows a rejected upload: status REJECTED, no job, the reason as its error and the
    limit ([job] key) that rejected it. It replaces an earlier rejection of the key."""
    when = rfc3339()
    seconds = rejection.get("duration_s")
    entry = {**new_entry(key, None, when, REJECTED), "error": rejection["reason"], "limit": rejection["limit"],
             "duration_ms": None if seconds is None else int(seconds * 1000)}

    def change(videos):
        videos[:] = [v for v in videos if not (v.get("key") == key and v.get("status") == REJECTED)]
        videos.append(entry)
        return True

    update_catalog(config["DESTINATION_BUCKET"], change)


def handle_job_event(config: dict[str, str], event: dict[str, Any]) -> dict[str, Any]:
    """Updates the job's catalog entry from one "MediaConvert Job State Change" event.
    Returns what it did; publishes one message when this event finished the job."""
    detail = event.get("detail") or {}
    job_id, status = detail.get("jobId"), detail.get("status")
    if detail.get("queue") != config["QUEUE_ARN"]:
        log("INFO", "job event ignored: another queue", job_id=job_id, queue=detail.get("queue"))
        return {"ignored": "another queue"}
    if status == "STATUS_UPDATE":
        status = "PROGRESSING"
    if status not in STATUS_RANK:
        # INPUT_INFORMATION, NEW_WARNING...: nothing the catalog shows.
        return {"ignored": str(status)}
    when = rfc3339(detail["timestamp"] / 1000 if detail.get("timestamp") else None)
    bucket = config["DESTINATION_BUCKET"]
    outputs: list[dict[str, Any]] = []
    duration = None
    key, key_hash = metadata_key(detail.get("userMetadata"))
    job = None
    if status == "COMPLETE" or key_hash is not None:
        job = _client().get_job(Id=job_id)["Job"]
    if key_hash is not None:
        key = exact_source_key(job, key, key_hash)
    if status == "COMPLETE":
        group_details = detail.get("outputGroupDetails") or []
        if not any(d.get("outputFilePaths") or d.get("playlistFilePaths")
                   for g in group_details for d in [g, *(g.get("outputDetails") or [])]):
            # An accelerated job's COMPLETE event can come without output paths: the
            # job's own details (GetJob) and the paths its settings give.
            group_details = job_group_details(job)
        outputs = catalog_outputs(bucket, job["Settings"], group_details)
        durations = [d.get("durationInMs") for g in group_details
                     for d in g.get("outputDetails") or [] if d.get("durationInMs")]
        duration = max(durations) if durations else None
    percent = (detail.get("jobProgress") or {}).get("jobPercentComplete")
    key = key or job_id

    def change(videos):
        entry = next((v for v in videos if v.get("job_id") == job_id), None)
        if entry is None:
            entry = new_entry(key, job_id, when, status)
            videos.append(entry)
        elif STATUS_RANK[entry["status"]] > STATUS_RANK[status] or entry["status"] in FINISHED:
            return None  # late or repeated: the entry already shows more
        finished_now = status in FINISHED
        entry.update(status=status, updated=when)
        if status == "PROGRESSING":
            # Events may arrive out of order: a late STATUS_UPDATE never moves percent back.
            if percent is not None and int(percent) >= (entry.get("percent") or 0):
                entry["percent"] = int(percent)
        elif status == "COMPLETE":
            entry.update(percent=100, outputs=outputs, duration_ms=duration, error=None)
        elif status == "ERROR":
            entry["error"] = detail.get("errorMessage") or f"error code {detail.get('errorCode')}"
        return {"entry": copy.deepcopy(entry), "finished": finished_now}

    result = update_catalog(bucket, change)
    log("INFO", "catalog updated" if result else "job event already in the catalog",
        job_id=job_id, status=status)
    done = {"job_id": job_id, "status": status, "updated": bool(result)}
    if result and result["finished"] and notify(config, result["entry"]) is False:
        done["notification_failed"] = True
    return done


def exact_source_key(job: dict[str, Any], cut: str | None, key_hash: str) -> str | None:
    """The whole source key of a job whose metadata holds it cut: its input's
    s3://bucket/key, checked against the recorded SHA-256."""
    for job_input in (job.get("Settings") or {}).get("Inputs") or []:
        _, _, key = (job_input.get("FileInput") or "").removeprefix("s3://").partition("/")
        if key and key_sha256(key) == key_hash:
            return key
    log("WARNING", "the job's input does not match its source key's hash", job_id=job.get("Id"))
    return cut


def job_group_details(job: dict[str, Any]) -> list[dict[str, Any]]:
    """GetJob's OutputGroupDetails in the event's spelling (no paths: catalog_outputs
    derives them from the settings)."""
    return [{"outputDetails": [
        {"durationInMs": d.get("DurationInMs"),
         "videoDetails": {"widthInPx": (d.get("VideoDetails") or {}).get("WidthInPx"),
                          "heightInPx": (d.get("VideoDetails") or {}).get("HeightInPx")}}
        for d in g.get("OutputDetails") or []]} for g in job.get("OutputGroupDetails") or []]


# --------------------------------------------------------------------------
# Outputs: from the job's own settings (GetJob) and the COMPLETE event's
# outputGroupDetails, in the same order. Codecs strings per RFC 6381.
# --------------------------------------------------------------------------

CODECS = {"H_264": "h264", "H_265": "hevc", "AV1": "av1"}
H264_PROFILES = {"BASELINE": "42", "MAIN": "4D", "HIGH": "64", "HIGH_10BIT": "6E",
                 "HIGH_422": "7A", "HIGH_422_10BIT": "7A"}
AAC_PROFILES = {"LC": "mp4a.40.2", "HEV1": "mp4a.40.5", "HEV2": "mp4a.40.29"}
AUDIO = {"AC3": "ac-3", "EAC3": "ec-3", "OPUS": "opus", "MP3": "mp4a.6B"}


def _level(level: str | None) -> tuple[int, int] | None:
    """MediaConvert's LEVEL_4_1 -> (4, 1); AUTO or absent -> None."""
    if not level or not level.startswith("LEVEL_"):
        return None
    parts = level[len("LEVEL_"):].split("_")
    return int(parts[0]), int(parts[1]) if len(parts) > 1 else 0


def _by_size(pixels: int, table: list[tuple[int, Any]]) -> Any:
    """The lowest level whose maximum picture size holds `pixels` (AUTO levels)."""
    for limit, value in table:
        if pixels <= limit:
            return value
    return table[-1][1]


def video_codecs(codec_settings: dict[str, Any], width: int | None, height: int | None) -> str | None:
    codec = codec_settings.get("Codec")
    pixels = (width or 1920) * (height or 1080)
    if codec == "H_264":
        s = codec_settings.get("H264Settings") or {}
        profile = H264_PROFILES.get(s.get("CodecProfile") or "MAIN", "4D")
        level = _level(s.get("CodecLevel"))
        idc = level[0] * 10 + level[1] if level else _by_size(
            pixels, [(414720, 30), (921600, 31), (2097152, 40), (8912896, 51), (1 << 62, 52)])
        return f"avc1.{profile}00{idc:02X}"
    if codec == "H_265":
        s = codec_settings.get("H265Settings") or {}
        profile, _, tier = (s.get("CodecProfile") or "MAIN_MAIN").rpartition("_")
        general = {"MAIN": "1.6", "MAIN10": "2.4"}.get(profile, "4.10")
        level = _level(s.get("CodecLevel"))
        idc = (level[0] * 30 + level[1] * 3) if level else _by_size(
            pixels, [(552960, 90), (983040, 93), (2228224, 120), (8912896, 150), (1 << 62, 180)])
        tag = "hvc1" if s.get("WriteMp4PackagingType") == "HVC1" else "hev1"
        return f"{tag}.{general}.{'H' if tier == 'HIGH' else 'L'}{idc}.90"
    if codec == "AV1":
        s = codec_settings.get("Av1Settings") or {}
        depth = "10" if s.get("BitDepth") == "BIT_10" else "08"
        level = _by_size(pixels, [(147456, 0), (278784, 1), (665856, 4), (1065024, 5),
                                  (2359296, 8), (8912896, 12), (1 << 62, 16)])
        return f"av01.0.{level:02d}M.{depth}"
    return None


def audio_codecs(output: dict[str, Any]) -> str | None:
    for description in output.get("AudioDescriptions") or []:
        settings = description.get("CodecSettings") or {}
        codec = settings.get("Codec")
        if codec == "AAC":
            return AAC_PROFILES.get((settings.get("AacSettings") or {}).get("CodecProfile") or "LC", "mp4a.40.2")
        if codec in AUDIO:
            return AUDIO[codec]
    return None


def _relative(bucket: str, url: str | None) -> str | None:
    """s3://<bucket>/cats/tabby cat-hd.mp4 -> cats/tabby cat-hd.mp4 (None: elsewhere)."""
    prefix = f"s3://{bucket}/"
    return url[len(prefix):] if url and url.startswith(prefix) else None


def _describe(output: dict[str, Any], details: dict[str, Any]) -> dict[str, Any] | None:
    video = output.get("VideoDescription") or {}
    codec_settings = video.get("CodecSettings") or {}
    found = details.get("videoDetails") or {}
    width = found.get("widthInPx") or video.get("Width")
    height = found.get("heightInPx") or video.get("Height")
    video_codec = video_codecs(codec_settings, width, height)
    if video_codec is None:
        return None
    settings = next(iter(v for k, v in codec_settings.items() if k != "Codec" and isinstance(v, dict)), {})
    bitrate = found.get("averageBitrate") or settings.get("Bitrate") or settings.get("MaxBitrate")
    codecs = ",".join(c for c in (video_codec, audio_codecs(output)) if c)
    return {"codec": CODECS[codec_settings["Codec"]], "width": width, "height": height,
            "bitrate": bitrate, "codecs": codecs}


def catalog_outputs(bucket: str, settings: dict[str, Any], group_details: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The playable outputs of a finished job: each MP4 of a file group, and one
    entry (its master playlist) per HLS group with the ladder's highest codecs."""
    outputs = []
    for index, group in enumerate(settings.get("OutputGroups") or []):
        details = group_details[index] if index < len(group_details) else {}
        each = details.get("outputDetails") or []
        kind = (group.get("OutputGroupSettings") or {}).get("Type")
        described = [_describe(o, each[i] if i < len(each) else {}) for i, o in enumerate(group.get("Outputs") or [])]
        destination = ((group.get("OutputGroupSettings") or {}).get(GROUP_SETTINGS.get(kind, ""), {}) or {}).get("Destination")
        if kind == "HLS_GROUP_SETTINGS":
            ladder = [d for d in described if d]
            # The master playlist: the event's path, else <destination>.m3u8.
            path = _relative(bucket, next(iter(details.get("playlistFilePaths") or []),
                                          f"{destination}.m3u8" if destination else None))
            if not ladder or path is None:
                continue
            top = max(ladder, key=lambda d: ((d["width"] or 0) * (d["height"] or 0), d["bitrate"] or 0))
            outputs.append({"path": path, "container": "hls", "codec": top["codec"], "width": top["width"],
                            "height": top["height"], "bitrate": top["bitrate"],
                            "mime": f'application/vnd.apple.mpegurl; codecs="{top["codecs"]}"'})
        elif kind == "FILE_GROUP_SETTINGS":
            for i, (output, d) in enumerate(zip(group.get("Outputs") or [], described)):
                container = (output.get("ContainerSettings") or {}).get("Container")
                # The event's path, else <destination><name modifier>.<extension>.
                named = (f"{destination}{output.get('NameModifier') or ''}.{output.get('Extension') or 'mp4'}"
                         if destination else None)
                path = _relative(bucket, next(iter((each[i] if i < len(each) else {}).get("outputFilePaths") or []), named))
                if d is None or container != "MP4" or path is None:
                    continue
                outputs.append({"path": path, "container": "mp4", "codec": d["codec"], "width": d["width"],
                                "height": d["height"], "bitrate": d["bitrate"],
                                "mime": f'video/mp4; codecs="{d["codecs"]}"'})
    return outputs


# --------------------------------------------------------------------------
# Notifications ([notify] email): one message per finished job to TOPIC_ARN.
# --------------------------------------------------------------------------

_SNS = None


def _sns():
    global _SNS
    if _SNS is None:
        _SNS = boto3.client("sns", config=Config(retries={"mode": "standard"}, user_agent_extra="cattube-converter"))
    return _SNS


def playback_url(domain: str, path: str) -> str:
    return f"https://{domain}/" + "/".join(urllib.parse.quote(part, safe="") for part in path.split("/"))


# The CloudWatch namespace of the function's own metrics.
METRIC_NAMESPACE = "cattube"


def notify(config: dict[str, str], entry: dict[str, Any]) -> bool | None:
    """Publishes the job's outcome (COMPLETE with playback URLs, ERROR with
    MediaConvert's message); CANCELED is someone's own doing and says nothing.
    True when published, False when publishing failed, None when nothing was due."""
    topic = os.environ.get("TOPIC_ARN")
    if not topic or entry["status"] not in ("COMPLETE", "ERROR"):
        return None
    domain = os.environ.get("PLAYBACK_DOMAIN")
    lines = [f"{entry['key']}: {entry['status']}", f"job {entry['job_id']}"]
    if entry["status"] == "COMPLETE":
        for output in entry["outputs"]:
            where = playback_url(domain, output["path"]) if domain else f"s3://{config['DESTINATION_BUCKET']}/{output['path']}"
            lines.append(f"{output['codec']} {output['width']}x{output['height']}: {where}")
    else:
        lines.append(f"MediaConvert: {entry['error']}")
    # SNS subjects: ASCII, at most 100 characters.
    subject = f"cattube: {entry['status'].lower()} {entry['key']}".encode("ascii", "replace").decode()[:100]
    try:
        _sns().publish(TopicArn=topic, Subject=subject, Message="\n".join(lines))
    except Exception as err:
        # Not raised: the catalog already shows the job finished, so a retry would not
        # publish either. Counted as the metric NotificationsFailed (CloudWatch embedded
        # metric format: CloudWatch Logs makes the metric from this line, no API call).
        log("ERROR", "publishing the job's outcome failed", topic=topic, job_id=entry["job_id"],
            stack=config["STACK"], NotificationsFailed=1, _aws={
                "Timestamp": int(time.time() * 1000),
                "CloudWatchMetrics": [{"Namespace": METRIC_NAMESPACE, "Dimensions": [["stack"]],
                                       "Metrics": [{"Name": "NotificationsFailed", "Unit": "Count"}]}]},
            **_error_fields(err))
        return False
    return True


def _metadata_value(value: str) -> str:
    """A stack name as MediaConvert accepts it (cattube's stack names already are)."""
    value = unicodedata.normalize("NFC", value)
    allowed = (
        ch
        if ch in " _.:/=+-@" or unicodedata.category(ch)[0] in ("L", "N")
        else "_"
        for ch in value
    )
    return "".join(allowed)[:METADATA_VALUE_MAX]


def encode_metadata_key(key: str) -> list[str]:
    """The key escaped for a UserMetadata value, one piece per character:
    "cats/tabby cat (1).mp4" -> "cats/tabby cat =281=29.mp4". A space at either
    end is escaped too (a tag value's ends may be trimmed)."""
    pieces = []
    for index, ch in enumerate(key):
        at_end = index in (0, len(key) - 1)
        if ch in METADATA_UNESCAPED and not (ch == " " and at_end):
            pieces.append(ch)
        else:
            pieces.append("".join(f"={byte:02X}" for byte in ch.encode("utf-8")))
    return pieces


def decode_metadata_key(value: str) -> str:
    """The inverse of encode_metadata_key; text that is no escape is kept as it is."""
    out = bytearray()
    index = 0
    while index < len(value):
        escape = value[index + 1:index + 3]
        if value[index] == "=" and len(escape) == 2 and all(c in "0123456789ABCDEF" for c in escape):
            out.append(int(escape, 16))
            index += 3
        else:
            out.extend(value[index].encode("utf-8"))
            index += 1
    return out.decode("utf-8", errors="replace")


def key_sha256(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def user_metadata(stack: str, key: str, token: str | None = None) -> dict[str, str]:
    """The job's UserMetadata: the stack, the source key escaped (cut, with its
    SHA-256, when too long) and the claim token of the invocation submitting it."""
    pieces = encode_metadata_key(key)
    metadata = {"cattube:stack": _metadata_value(stack)}
    if sum(map(len, pieces)) <= METADATA_VALUE_MAX:
        metadata[METADATA_KEY] = "".join(pieces)
    else:
        kept, length = [], 0
        for piece in pieces:  # whole characters only
            if length + len(piece) > METADATA_VALUE_MAX:
                break
            kept.append(piece)
            length += len(piece)
        metadata[METADATA_KEY] = "".join(kept)
        metadata[METADATA_KEY_SHA256] = key_sha256(key)
    if token is not None:
        metadata[METADATA_CLAIM] = token
    return metadata


def metadata_key(metadata: dict[str, str] | None) -> tuple[str | None, str | None]:
    """(the source key recorded in a job's UserMetadata, its SHA-256 when the key was
    cut): the key is exact when the hash is None."""
    metadata = metadata or {}
    value = metadata.get(METADATA_KEY)
    return (None if value is None else decode_metadata_key(value)), metadata.get(METADATA_KEY_SHA256)


def build_settings(template_settings: dict[str, Any], file_input: str, destination: str) -> dict[str, Any]:
    """The template's settings with the input file and the output destination filled in.

    Job templates cannot hold an input file (InputTemplate has no FileInput),
    so the job carries one input: the template's first input settings (audio
    selectors, timecode source, ...) or DEFAULT_INPUT, plus FileInput. Every
    output group of a known type gets `destination`; the template's own
    destination (a placeholder in job.json) is not used.
    """
    settings = copy.deepcopy(template_settings)
    inputs = settings.get("Inputs") or []
    first = copy.deepcopy(inputs[0]) if inputs else copy.deepcopy(DEFAULT_INPUT)
    first["FileInput"] = file_input
    settings["Inputs"] = [first]

    groups = settings.get("OutputGroups") or []
    placed = 0
    for group in groups:
        group_settings = group.setdefault("OutputGroupSettings", {})
        member = GROUP_SETTINGS.get(group_settings.get("Type", ""))
        if member is not None:
            group_settings.setdefault(member, {})["Destination"] = destination
            placed += 1
    if placed == 0:
        raise ValueError("the job template has no output group with a destination")
    return settings


def build_create_job_request(
    config: dict[str, str],
    template: dict[str, Any],
    upload: dict[str, Any],
    service_model: Any = None,
) -> dict[str, Any]:
    """CreateJob parameters for one upload.

    Why full Settings plus JobTemplate: CreateJob requires Settings, and
    MediaConvert applies what a job's Settings specify over the template's, so
    sending only Inputs and a partial OutputGroups entry would depend on how
    list entries are merged (a partial output group can replace the template's
    outputs). The function therefore reads the template (GetJobTemplate) and
    sends its complete settings with only the input file and destinations
    filled in (what the MediaConvert console does when it creates a job from a
    template), and still names the template in JobTemplate so the job records
    which template it came from.
    """
    key = upload["key"]
    request: dict[str, Any] = {
        "JobTemplate": config["JOB_TEMPLATE"],
        "Queue": config["QUEUE_ARN"],
        "Role": config["MEDIACONVERT_ROLE_ARN"],
        "Settings": build_settings(
            template["Settings"],
            file_input=f"s3://{upload['bucket']}/{key}",
            destination=output_destination(config["DESTINATION_BUCKET"], key),
        ),
        "UserMetadata": user_metadata(config["STACK"], key, client_request_token(upload)),
        "ClientRequestToken": client_request_token(upload),
    }
    for field in template_job_fields(service_model or _client().meta.service_model):
        if template.get(field) is not None:
            request[field] = copy.deepcopy(template[field])
    return request


def template_job_fields(service_model: Any) -> tuple[str, ...]:
    """Job-wide settings a template carries that CreateJob also accepts
    (AccelerationSettings, Priority, StatusUpdateInterval, HopDestinations...).

    They are copied so the job does not depend on how MediaConvert fills in
    what a request leaves out. The set is read from the API model of the
    botocore the function runs with, not kept by hand: a member GetJobTemplate
    returns but this CreateJob does not know (ElementalInferenceSettings in
    older models) would fail the request's validation, so it is left out.
    """
    accepted = service_model.operation_model("CreateJob").input_shape.members
    carried = service_model.shape_for("JobTemplate").members
    return tuple(sorted((set(accepted) & set(carried)) - OWN_JOB_FIELDS))
