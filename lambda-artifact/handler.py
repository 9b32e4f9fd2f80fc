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

# Job-wide settings a template carries that CreateJob also accepts. They are
# copied from the template so the job does not depend on how MediaConvert
# fills in what a request leaves out.
TEMPLATE_JOB_FIELDS = (
    "AccelerationSettings",
    "ElementalInferenceSettings",
    "HopDestinations",
    "Priority",
    "StatusUpdateInterval",
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

        if template is None:
            template = get_job_template(config)

        destination = output_destination(config["DESTINATION_BUCKET"], upload["key"])
        token = client_request_token(upload)
        try:
            request = build_create_job_request(config, template, upload)
            response = _client().create_job(**request)
        except Exception as err:
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
    config: dict[str, str], template: dict[str, Any], upload: dict[str, Any]
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
    for field in TEMPLATE_JOB_FIELDS:
        if template.get(field) is not None:
            request[field] = copy.deepcopy(template[field])
    return request
