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
                            MiB are skipped with a log line, so no job bills their minutes

Each upload gets exactly one job, whatever S3 and Lambda redeliver: a claim
object per upload in the destination bucket (see "Exactly one job per
upload" below).

Needs only the standard library and boto3 (both in the Lambda Python runtime).
Every log line is one JSON object on stdout. Any MediaConvert error is logged
and re-raised so that Lambda retries the event.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import posixpath
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
# space and _ . : / = + - @. Values are sanitised by NFC-normalising, replacing
# every other character with "_" and truncating to 256 characters; the
# unsanitised key is in the JSON log line of the job.
METADATA_KEY_MAX = 128
METADATA_VALUE_MAX = 256
METADATA_PUNCTUATION = frozenset(" _.:/=+-@")

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
    template = None  # read once per invocation, only if a job is to be submitted
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
        try:
            if template is None:
                template = get_job_template(config)
        except Exception:
            release_claim(config, token)
            raise
        try:
            request = build_create_job_request(config, template, upload)
            response = _client().create_job(**request)
        except Exception as err:
            release_claim(config, token)
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
    """Why an upload gets no job (None: it gets one)."""
    if upload["key"].endswith("/"):
        return "folder marker"
    if upload["size"] == 0:
        return "empty object"
    return size_limit_reason(upload)


def size_limit_reason(upload: dict[str, Any]) -> str | None:
    """``MAX_UPLOAD_MB`` ([job] max-upload-mb): a larger upload gets no job."""
    limit = max_upload_mb()
    if limit is not None and (upload["size"] or 0) > limit * 1024 * 1024:
        return f"larger than {limit} MB"
    return None


def max_upload_mb() -> int | None:
    """The configured limit in MiB, or None. A value that is not a positive whole number
    is a configuration error (cattube never sets one): raise, rather than convert everything."""
    raw = os.environ.get("MAX_UPLOAD_MB", "")
    if raw == "":
        return None
    if not raw.isdigit() or int(raw) < 1:
        log("ERROR", "bad configuration", MAX_UPLOAD_MB=raw)
        raise RuntimeError(f"MAX_UPLOAD_MB must be a positive whole number of MiB, not {raw!r}")
    return int(raw)


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
# CreateJob deletes the claim, so Lambda's retry submits again. The token (and
# so the claim) covers bucket, key, version id, ETag and sequencer: a new
# upload of the same key is a new claim.
#
# The destination bucket sends no notifications (a claim never invokes the
# function) and its policy denies CloudFront this prefix (never served).
# --------------------------------------------------------------------------

# Kept equal to stages/src/converter_role.rs's CLAIM_PREFIX (checked by a test there).
CLAIM_PREFIX = "_cattube/claims/"
IN_PROGRESS, SUBMITTED = "IN_PROGRESS", "SUBMITTED"
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
    body = _claim_body(IN_PROGRESS, upload, expires_at=int(time.time() + remaining + CLAIM_MARGIN_S))
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
    if doc.get("state") == SUBMITTED:
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
    return {}


def release_claim(config: dict[str, str], token: str) -> None:
    """Deletes this invocation's claim after a failed submission, so a retry
    submits again. If even that fails, the claim expires by itself."""
    try:
        _s3().delete_object(Bucket=config["DESTINATION_BUCKET"], Key=claim_key(token))
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


def _metadata_value(value: str) -> str:
    value = unicodedata.normalize("NFC", value)
    allowed = (
        ch
        if ch in METADATA_PUNCTUATION or unicodedata.category(ch)[0] in ("L", "N")
        else "_"
        for ch in value
    )
    return "".join(allowed)[:METADATA_VALUE_MAX]


def user_metadata(stack: str, key: str) -> dict[str, str]:
    """The job's UserMetadata, sanitised to what MediaConvert accepts."""
    return {
        "cattube:stack": _metadata_value(stack),
        "cattube:source-key": _metadata_value(key),
    }


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
        "UserMetadata": user_metadata(config["STACK"], key),
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
