"""AWS Elemental MediaConvert for the local cloud (and cattube's tests).

moto has no MediaConvert, so cattube points the SDK at this server with
AWS_ENDPOINT_URL_MEDIACONVERT=http://127.0.0.1:<port>.  The wire format (routes,
JSON field names, timestamp encoding, error shape) is taken from botocore's
`mediaconvert` 2017-08-29 service model rather than written by hand, so anything
boto3 or aws-sdk-rust (both generated from the same Smithy model) sends is parsed
the way the real service parses it.

    python server.py --port 0      # prints "listening on http://127.0.0.1:<port>"
    AWS_ENDPOINT_URL=... python server.py --port 0 --convert

Without --convert jobs only hold state (tests move them with the control endpoints
below). With --convert each job really runs (convert.py): ffmpeg as the job's role
against AWS_ENDPOINT_URL's S3, state changes published to its EventBridge; see
docs/local-cloud-mediaconvert.md.

Test-only control endpoints (not part of AWS):
    POST /_standin/jobs/<id>/status  {"status": "PROGRESSING"|"COMPLETE"|"ERROR"|...,
                                      "percent": 40, "phase": "TRANSCODING",
                                      "errorMessage": "...", "errorCode": 1999,
                                      "outputDurationsMs": [[60000, 60000]],  # COMPLETE only
                                      "createdAt": 1700000000}
    POST /_standin/cancel-delay      {"seconds": 1.5}: from now on a cancelled job stays
                                      SUBMITTED/PROGRESSING that long before it is CANCELED
                                      (real CancelJob returns before the job has stopped)
    GET  /_standin/requests          [{"method", "path", "operation"}, ...]
    GET  /_standin/bodies            [{"operation", "body"}, ...]: the JSON body of every
                                     API request that had one, as sent
    POST /_standin/validate/<Op>     checks a body against <Op>'s input shape in botocore's
                                     model, as the server does: 200 {} or 400 naming the problems
    POST /_standin/reset             forget all state and the request log
"""
import argparse
import unicodedata
import base64
import os
import itertools
import json
import random
import re
import string
import sys
import threading
import time
import traceback
import uuid
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

import botocore.session
from botocore.validate import ParamValidator

MODEL = botocore.session.get_session().get_service_model("mediaconvert")
DEFAULT_ACCOUNT, DEFAULT_REGION = "123456789012", "us-east-1"
UNFINISHED = ("SUBMITTED", "PROGRESSING")
BAD, NOT_FOUND, CONFLICT = "BadRequestException", "NotFoundException", "ConflictException"


class ApiError(Exception):
    """An AWS error; the HTTP status comes from the model's error shape."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code, self.message = code, message
        self.status = MODEL.shape_for(code).metadata["error"]["httpStatusCode"]


# --------------------------------------------------------------------------
# Model-driven conversion between wire JSON (locationName, e.g. "outputGroups")
# and member names (e.g. "OutputGroups").  Handlers and state only ever see
# member names, exactly like boto3's parsed dicts.
# --------------------------------------------------------------------------

def wire_name(name, member):
    return member.serialization.get("name", name)


def from_wire(value, shape, path, errors):
    """Rename wire keys to member names, collecting the checks botocore's
    ParamValidator does not do (enums, max, unknown fields)."""
    t = shape.type_name
    if value is None:
        return None
    if t == "structure" and isinstance(value, dict):
        # Members bound to the URI/query string never come from the body.
        by_wire = {wire_name(n, m): n for n, m in shape.members.items()
                   if "location" not in m.serialization}
        out = {}
        for key, v in value.items():
            if key not in by_wire:
                errors.append(f"{path}/{key}: unknown field")
            elif v is not None:  # JSON null means "absent"
                name = by_wire[key]
                out[name] = from_wire(v, shape.members[name], f"{path}/{key}", errors)
        return out
    if t == "list" and isinstance(value, list):
        value = [from_wire(v, shape.member, f"{path}/{i}", errors) for i, v in enumerate(value)]
    elif t == "map" and isinstance(value, dict):
        value = {k: from_wire(v, shape.value, f"{path}/{k}", errors) for k, v in value.items()}
    elif t == "string" and isinstance(value, str) and shape.enum and value not in shape.enum:
        errors.append(f"{path}: '{value}' is not one of {shape.enum}")
    maximum = shape.metadata.get("max")
    if maximum is not None:
        size = len(value) if t in ("string", "list", "map") else value
        if isinstance(size, (int, float)) and size > maximum:
            errors.append(f"{path}: {value!r} is above the maximum of {maximum}")
    return value


def to_wire(value, shape):
    """Member names -> wire names.  Keys that are not members of the shape
    (internal bookkeeping such as '_seq') are dropped."""
    t = shape.type_name
    if t == "structure":
        return {wire_name(n, m): to_wire(value[n], m) for n, m in shape.members.items()
                if value.get(n) is not None}
    if t == "list":
        return [to_wire(v, shape.member) for v in value]
    if t == "map":
        return {k: to_wire(v, shape.value) for k, v in value.items()}
    if t == "timestamp":
        # MediaConvert's shapes use timestampFormat unixTimestamp (epoch seconds).
        fmt = shape.serialization.get("timestampFormat", "unixTimestamp")
        assert fmt == "unixTimestamp", fmt
        return int(value.timestamp()) if isinstance(value, datetime) else value
    return value


def query_value(raw, shape):
    """Query strings are text: coerce numbers (maxResults) before validation; a
    non-number stays a string so ParamValidator reports the type error."""
    if shape.type_name in ("integer", "long") and re.fullmatch(r"-?\d+", raw[-1]):
        return int(raw[-1])
    return raw[-1]  # none of these operations take list or boolean query members


def parse_input(op, labels, query, body):
    """Build and validate the operation's input params (member names)."""
    shape, errors, params = op.input_shape, [], {}
    if body and any("location" not in m.serialization for m in shape.members.values()):
        try:
            doc = json.loads(body)
        except ValueError as e:
            raise ApiError(BAD, f"request body is not valid JSON: {e}")
        if not isinstance(doc, dict):
            raise ApiError(BAD, "request body must be a JSON object")
        params = from_wire(doc, shape, "", errors)
    for name, member in shape.members.items():
        loc, wname = member.serialization.get("location"), wire_name(name, member)
        if loc == "uri" and wname in labels:
            params[name] = from_wire(labels[wname], member, f"/{wname}", errors)
        elif loc == "querystring" and wname in query:
            params[name] = from_wire(query_value(query[wname], member), member, f"/{wname}", errors)
    report = ParamValidator().validate(params, shape)
    if report.has_errors():
        errors.append(report.generate_report())
    if errors:
        raise ApiError(BAD, "; ".join(errors))
    return params


# Route table: every operation in the model, matched segment by segment so that
# percent-encoded labels (an ARN in /tags/{arn} arrives as arn%3Aaws%3A...%2F...)
# are unquoted only after splitting.  Literal-heavy templates are tried first.
ROUTES = sorted(
    ((MODEL.operation_model(n).http["method"],
      MODEL.operation_model(n).http["requestUri"].split("?")[0].strip("/").split("/"),
      MODEL.operation_model(n)) for n in MODEL.operation_names),
    key=lambda r: sum(s.startswith("{") for s in r[1]))


def route(method, path):
    segments = path.strip("/").split("/")
    for m, template, op in ROUTES:
        if m != method or len(template) != len(segments):
            continue
        labels = {}
        for t, s in zip(template, segments):
            if t.startswith("{"):
                labels[t.strip("{}+")] = unquote(s)
            elif t != s:
                break
        else:
            return op, labels
    return None, None


# --------------------------------------------------------------------------
# State: one Region per (account, region).  The real service always has a
# SYSTEM queue named "Default" that jobs use when no queue is given.
# --------------------------------------------------------------------------

class Region:
    def __init__(self, account, region):
        self.account, self.region = account, region
        self.queues, self.templates, self.jobs, self.tokens, self.tags = {}, {}, {}, {}, {}
        self.seq = itertools.count(1)  # total order for "newest first" when CreatedAt ties
        now = int(time.time())
        self.queues["Default"] = {"Name": "Default", "Arn": self.arn("queues", "Default"),
                                  "Type": "SYSTEM", "Status": "ACTIVE", "PricingPlan": "ON_DEMAND",
                                  "CreatedAt": now, "LastUpdated": now, "_seq": 0}

    def arn(self, kind, name):
        return f"arn:aws:mediaconvert:{self.region}:{self.account}:{kind}/{name}"

    def get(self, kind, ref, error=NOT_FOUND):
        """Look up a queue/template/job by name (id) or by its full ARN."""
        table = {"queues": self.queues, "jobTemplates": self.templates, "jobs": self.jobs}[kind]
        prefix = self.arn(kind, "")
        name = ref[len(prefix):] if ref.startswith(prefix) else ref
        if name.startswith("arn:") or name not in table:  # another region's ARN, or missing
            what = {"queues": "Queue", "jobTemplates": "Job template", "jobs": "Job"}[kind]
            verb = "not found" if error == NOT_FOUND else "does not exist"
            raise ApiError(error, f"{what} {ref} {verb}")
        return table[name]

    def queue_view(self, q):
        counts = [j["Status"] for j in self.jobs.values() if j["Queue"] == q["Arn"]]
        return dict(q, SubmittedJobsCount=counts.count("SUBMITTED"),
                    ProgressingJobsCount=counts.count("PROGRESSING"))

    def tags_of(self, arn):
        """Queues and job templates are taggable (presets too, not modelled here)."""
        if not any(x["Arn"] == arn for x in [*self.queues.values(), *self.templates.values()]):
            raise ApiError(NOT_FOUND, f"Resource {arn} not found")
        return self.tags.setdefault(arn, {})


LOCK = threading.Lock()  # handlers run one at a time; ThreadingHTTPServer only parallelises I/O
STATE = {}  # (account, region) -> Region
REQUESTS = []  # AWS API requests seen, for GET /_standin/requests
BODIES = []  # their bodies, for GET /_standin/bodies
CANCEL_DELAY = [0.0]  # seconds a cancelled job stays unfinished (POST /_standin/cancel-delay)
CONVERTER = [None]  # convert.Converter with --convert: runs each job with ffmpeg


def paginate(items, p, key):
    start = 0
    if p.get("NextToken"):
        try:
            start = int(base64.urlsafe_b64decode(p["NextToken"]).decode())
        except ValueError:
            raise ApiError(BAD, "invalid nextToken")
    end = start + p.get("MaxResults", 20)
    out = {key: items[start:end]}
    if end < len(items):
        out["NextToken"] = base64.urlsafe_b64encode(str(end).encode()).decode()
    return out


def sort_listing(items, p, default_by, default_order):
    by = p.get("ListBy", default_by)
    key = (lambda x: x["Name"].lower()) if by == "NAME" else (lambda x: (x["CreatedAt"], x["_seq"]))
    items = sorted(items, key=key)
    return items[::-1] if p.get("Order", default_order) == "DESCENDING" else items


# --------------------------------------------------------------------------
# Operation handlers: (Region, params) -> output dict in member names.
# --------------------------------------------------------------------------

QUEUE_FIELDS = ("Description", "Status", "ConcurrentJobs", "MaximumConcurrentFeeds")


def create_queue(r, p):
    if p["Name"] in r.queues:
        raise ApiError(CONFLICT, f"Queue {p['Name']} already exists")
    if p.get("PricingPlan") == "RESERVED":
        raise ApiError(BAD, "the stand-in supports only ON_DEMAND queues")
    now = int(time.time())
    q = {"Name": p["Name"], "Arn": r.arn("queues", p["Name"]), "Type": "CUSTOM",
         "PricingPlan": "ON_DEMAND", "Status": p.get("Status", "ACTIVE"),
         "CreatedAt": now, "LastUpdated": now, "_seq": next(r.seq)}
    q.update({k: p[k] for k in QUEUE_FIELDS if k in p})
    r.queues[q["Name"]] = q
    r.tags[q["Arn"]] = dict(p.get("Tags", {}))
    return {"Queue": r.queue_view(q)}


def update_queue(r, p):
    q = r.get("queues", p["Name"])
    q.update({k: p[k] for k in QUEUE_FIELDS if k in p}, LastUpdated=int(time.time()))
    return {"Queue": r.queue_view(q)}


def delete_queue(r, p):
    q = r.get("queues", p["Name"])
    if q["Type"] == "SYSTEM":
        raise ApiError(BAD, "You cannot delete the default queue")
    # Documented: "You can't delete a queue that contains unprocessed jobs."
    if any(j["Queue"] == q["Arn"] and j["Status"] in UNFINISHED for j in r.jobs.values()):
        raise ApiError(CONFLICT, f"Queue {q['Name']} has jobs in SUBMITTED or PROGRESSING status")
    del r.queues[q["Name"]]
    r.tags.pop(q["Arn"], None)


TEMPLATE_FIELDS = ("Settings", "Description", "Category", "Priority", "StatusUpdateInterval",
                   "AccelerationSettings", "HopDestinations")


def put_job_template(r, p, t):
    t.update({k: p[k] for k in TEMPLATE_FIELDS if k in p}, LastUpdated=int(time.time()))
    if "Queue" in p:  # must exist; stored as its ARN, as the service reports it
        t["Queue"] = r.get("queues", p["Queue"], error=BAD)["Arn"]
    return {"JobTemplate": t}


def create_job_template(r, p):
    if p["Name"] in r.templates:
        raise ApiError(CONFLICT, f"Job template {p['Name']} already exists")
    t = {"Name": p["Name"], "Arn": r.arn("jobTemplates", p["Name"]), "Type": "CUSTOM",
         "Priority": 0, "StatusUpdateInterval": "SECONDS_60", "CreatedAt": int(time.time()),
         "_seq": next(r.seq)}
    out = put_job_template(r, p, t)
    r.templates[t["Name"]] = t
    r.tags[t["Arn"]] = dict(p.get("Tags", {}))
    return out


def delete_job_template(r, p):
    t = r.get("jobTemplates", p["Name"])
    del r.templates[t["Name"]]
    r.tags.pop(t["Arn"], None)


def list_job_templates(r, p):
    items = [t for t in r.templates.values() if p.get("Category") in (None, t.get("Category"))]
    return paginate(sort_listing(items, p, "NAME", "ASCENDING"), p, "JobTemplates")


ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/\S+$")
JOB_FIELDS = ("Role", "JobTemplate", "Priority", "StatusUpdateInterval", "AccelerationSettings",
              "HopDestinations", "ClientRequestToken", "BillingTagsSource", "SimulateReservedQueue")


def user_metadata_problem(metadata):
    """What AWS's job tag restrictions (MediaConvert User Guide) refuse in UserMetadata:
    more than 10 pairs, keys over 128 or values over 256 characters, any character but
    Unicode letters, numbers, spaces and _ . : / = + - @ (botocore's model has no such
    constraint, so the stand-in checks it as the service does)."""
    if len(metadata) > 10:
        return f"{len(metadata)} pairs (at most 10)"
    for key, value in metadata.items():
        for what, text, limit in (("key", key, 128), ("value", value, 256)):
            if len(text) > limit:
                return f"{what} {text[:40]!r}... is {len(text)} characters (at most {limit})"
            bad = [c for c in text if not (unicodedata.category(c)[0] in "LN" or c in " _.:/=+-@")]
            if bad:
                return f"{what} {text[:40]!r} holds {bad[0]!r}"
    return None


def create_job(r, p):
    token = p.get("ClientRequestToken")
    if token in r.tokens:  # idempotent retry: same job back, no duplicate
        return {"Job": r.jobs[r.tokens[token]]}
    if not ROLE_ARN.match(p["Role"]):
        raise ApiError(BAD, f"Role {p['Role']} is not a valid IAM role ARN")
    problem = user_metadata_problem(p.get("UserMetadata") or {})
    if problem:
        raise ApiError(BAD, f"UserMetadata: {problem}")
    job = {"Priority": 0, "StatusUpdateInterval": "SECONDS_60"}
    settings, queue = p["Settings"], "Default"
    if "JobTemplate" in p:
        # The service layers the job's settings over the template's.
        t = r.get("jobTemplates", p["JobTemplate"], error=BAD)
        job.update({k: t[k] for k in ("Priority", "StatusUpdateInterval", "AccelerationSettings",
                                      "HopDestinations") if k in t})
        settings, queue = dict(t["Settings"], **settings), t.get("Queue", queue)
    now = time.time()
    jid = f"{int(now * 1000)}-{''.join(random.choices(string.ascii_lowercase + string.digits, k=6))}"
    job.update({k: p[k] for k in JOB_FIELDS if k in p})
    job.update({"Id": jid, "Arn": r.arn("jobs", jid), "Settings": settings,
                "Queue": r.get("queues", p.get("Queue", queue), error=BAD)["Arn"],
                "Status": "SUBMITTED", "CreatedAt": int(now), "Timing": {"SubmitTime": int(now)},
                "AccelerationStatus": "NOT_APPLICABLE",
                "BillingTagsSource": p.get("BillingTagsSource", "JOB"),
                "Messages": {"Info": [], "Warning": []}, "RetryCount": 0,
                "UserMetadata": p.get("UserMetadata", {}), "_seq": next(r.seq),
                "_tags": p.get("Tags", {})})  # jobs aren't TagResource-able; kept, never shown
    if "JobEngineVersion" in p:
        job["JobEngineVersionRequested"] = p["JobEngineVersion"]
    r.jobs[jid] = job
    if token:
        r.tokens[token] = jid
    if CONVERTER[0] is not None:
        CONVERTER[0].submit(job, r.region)
    return {"Job": job}


def list_jobs(r, p):
    jobs = list(r.jobs.values())
    if "Queue" in p:
        arn = r.get("queues", p["Queue"])["Arn"]
        jobs = [j for j in jobs if j["Queue"] == arn]
    jobs = [j for j in jobs if p.get("Status", j["Status"]) == j["Status"]]
    newest_first = p.get("Order", "DESCENDING") == "DESCENDING"  # the service's default for jobs
    jobs.sort(key=lambda j: (j["CreatedAt"], j["_seq"]), reverse=newest_first)
    return paginate(jobs, p, "Jobs")


def cancel_job(r, p):
    job = r.get("jobs", p["Id"])
    if job["Status"] not in UNFINISHED:
        raise ApiError(CONFLICT, f"Job {job['Id']} is {job['Status']} and can no longer be canceled")
    if CANCEL_DELAY[0] > 0:
        job.setdefault("_cancel_at", time.monotonic() + CANCEL_DELAY[0])
    else:
        set_job_status(job, {"status": "CANCELED"})


def settle_cancellations(r):
    """Cancelled jobs whose delay is over become CANCELED (checked before every call)."""
    now = time.monotonic()
    for job in r.jobs.values():
        if job.get("_cancel_at", now + 1) <= now and job["Status"] in UNFINISHED:
            del job["_cancel_at"]
            set_job_status(job, {"status": "CANCELED"})


def untag_resource(r, p):
    tags = r.tags_of(p["Arn"])
    for key in p.get("TagKeys", []):
        tags.pop(key, None)


HANDLERS = {
    "CreateQueue": create_queue,
    "GetQueue": lambda r, p: {"Queue": r.queue_view(r.get("queues", p["Name"]))},
    "UpdateQueue": update_queue,
    "DeleteQueue": delete_queue,
    "ListQueues": lambda r, p: paginate(sort_listing(
        [r.queue_view(q) for q in r.queues.values()], p, "CREATION_DATE", "ASCENDING"), p, "Queues"),
    "CreateJobTemplate": create_job_template,
    "GetJobTemplate": lambda r, p: {"JobTemplate": r.get("jobTemplates", p["Name"])},
    "UpdateJobTemplate": lambda r, p: put_job_template(r, p, r.get("jobTemplates", p["Name"])),
    "DeleteJobTemplate": delete_job_template,
    "ListJobTemplates": list_job_templates,
    "CreateJob": create_job,
    "GetJob": lambda r, p: {"Job": r.get("jobs", p["Id"])},
    "ListJobs": list_jobs,
    "CancelJob": cancel_job,
    "TagResource": lambda r, p: r.tags_of(p["Arn"]).update(p["Tags"]),
    "UntagResource": untag_resource,
    "ListTagsForResource": lambda r, p: {
        "ResourceTags": {"Arn": p["Arn"], "Tags": dict(r.tags_of(p["Arn"]))}},
    # Deprecated (every region now has one fixed endpoint): point clients back here.
    "DescribeEndpoints": lambda r, p: {"Endpoints": [{"Url": p["_endpoint"]}]},
}


def set_job_status(job, body, details=None):
    """Move a job along (CancelJob, the converter and the test-only control endpoint).
    ``details``: the converter's measured outputGroupDetails (event form), for COMPLETE."""
    status, now = body.get("status"), int(time.time())
    percent, phase = body.get("percent", 0), body.get("phase", "TRANSCODING")
    code, message = body.get("errorCode", 1999), body.get("errorMessage", "simulated error")
    if (status not in MODEL.shape_for("JobStatus").enum or phase not in MODEL.shape_for("JobPhase").enum
            or not isinstance(percent, int) or not 0 <= percent <= 100 or not isinstance(code, int)):
        raise ApiError(BAD, "want status in JobStatus, phase in JobPhase, percent 0-100, errorCode int")
    # Clear what the previous status showed, then set what this one shows:
    # JobPercentComplete/CurrentPhase only while PROGRESSING, FinishTime once finished.
    for k in ("JobPercentComplete", "CurrentPhase", "ErrorMessage", "ErrorCode"):
        job.pop(k, None)
    timing = job["Timing"]
    timing.pop("FinishTime", None)
    if status == "SUBMITTED":
        timing.pop("StartTime", None)
    elif status != "CANCELED":
        timing.setdefault("StartTime", now)
    if status == "PROGRESSING":
        job.update(JobPercentComplete=percent, CurrentPhase=phase)
    elif status != "SUBMITTED":
        timing["FinishTime"] = now
    if status == "ERROR":
        job.update(ErrorMessage=message, ErrorCode=code)
    output_details(job, status, body, details)
    job["Status"] = status
    if CONVERTER[0] is not None:
        CONVERTER[0].job_changed(job, details)


def output_details(job, status, body, measured=None):
    """A COMPLETE job's OutputGroupDetails: per output group, each output's duration
    (``outputDurationsMs``, one list per group) and, for an output with a Width and Height,
    its VideoDetails; ``createdAt`` (epoch seconds) moves the job back in time."""
    job.pop("OutputGroupDetails", None)
    if "createdAt" in body:
        if not isinstance(body["createdAt"], int):
            raise ApiError(BAD, "want createdAt in epoch seconds")
        job["CreatedAt"] = job["Timing"]["SubmitTime"] = body["createdAt"]
    if measured is not None and status == "COMPLETE":
        job["OutputGroupDetails"] = [{"OutputDetails": [
            {"DurationInMs": d["durationInMs"],
             "VideoDetails": {"WidthInPx": d["videoDetails"]["widthInPx"],
                              "HeightInPx": d["videoDetails"]["heightInPx"]}}
            for d in g["outputDetails"]]} for g in measured]
        return
    durations = body.get("outputDurationsMs")
    if durations is None or status != "COMPLETE":
        return
    groups = job["Settings"].get("OutputGroups", [])
    if (not isinstance(durations, list) or len(durations) != len(groups)
            or any(not isinstance(d, list) or len(d) != len(g.get("Outputs", []))
                   or not all(isinstance(ms, int) and ms >= 0 for ms in d)
                   for d, g in zip(durations, groups))):
        raise ApiError(BAD, "want outputDurationsMs: one list of milliseconds per output group, one per output")
    details = []
    for group, group_durations in zip(groups, durations):
        outputs = []
        for output, ms in zip(group["Outputs"], group_durations):
            detail = {"DurationInMs": ms}
            video = output.get("VideoDescription", {})
            if "Width" in video and "Height" in video:
                detail["VideoDetails"] = {"WidthInPx": video["Width"], "HeightInPx": video["Height"]}
            outputs.append(detail)
        details.append({"OutputDetails": outputs})
    job["OutputGroupDetails"] = details


# --------------------------------------------------------------------------
# HTTP layer
# --------------------------------------------------------------------------

CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/,\s]+)/")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, which hyper (Rust SDK) prefers
    quiet = True

    def log_message(self, fmt, *args):
        if not self.quiet:
            super().log_message(fmt, *args)

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:  # last chunk: skip optional trailers up to the blank line
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size + 2)[:size])  # data, then CRLF
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def send_json(self, status, doc, headers=None):
        data = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def handle_any(self):
        url = urlsplit(self.path)
        body = self.read_body()
        try:
            with LOCK:
                if url.path.startswith("/_standin/"):
                    status, doc = self.control(url.path, body)
                else:
                    status, doc = self.api(url, body)
            self.send_json(status, doc)
        except ApiError as e:
            # MediaConvert's error format: type in x-amzn-ErrorType, {"message"} body.
            self.send_json(e.status, {"message": e.message}, {"x-amzn-ErrorType": e.code})
        except OSError:
            pass  # the client hung up; nothing to answer
        except Exception as e:  # a stand-in bug: answer (don't hang the client) and show it
            traceback.print_exc()
            self.send_json(500, {"message": f"stand-in bug: {e!r}"},
                           {"x-amzn-ErrorType": "InternalServerErrorException"})

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = handle_any

    def api(self, url, body):
        op, labels = route(self.command, url.path)
        REQUESTS.append({"method": self.command, "path": url.path, "operation": op and op.name})
        if body:
            BODIES.append({"operation": op and op.name, "body": body.decode("utf-8", "replace")})
        if op is None:
            raise ApiError(NOT_FOUND, f"No MediaConvert operation for {self.command} {url.path}")
        if op.name not in HANDLERS:
            raise ApiError(BAD, f"{op.name} is not implemented by the MediaConvert stand-in")
        m = CREDENTIAL.search(self.headers.get("Authorization", ""))
        key, region = m.groups() if m else ("", DEFAULT_REGION)
        # Like moto: a 12-digit access key id selects that account.
        account = key if re.fullmatch(r"\d{12}", key) else DEFAULT_ACCOUNT
        params = parse_input(op, labels, parse_qs(url.query, keep_blank_values=True), body)
        params["_endpoint"] = f"http://{self.headers.get('Host')}"
        if (account, region) not in STATE:
            STATE[account, region] = Region(account, region)
        settle_cancellations(STATE[account, region])
        out = HANDLERS[op.name](STATE[account, region], params) or {}
        wire = to_wire(out, op.output_shape) if op.output_shape is not None else {}
        return op.http.get("responseCode", 200), wire

    def control(self, path, body):
        if self.command == "GET" and path == "/_standin/requests":
            return 200, REQUESTS
        if self.command == "GET" and path == "/_standin/bodies":
            return 200, BODIES
        m = re.fullmatch(r"/_standin/validate/([A-Za-z]+)", path)
        if self.command == "POST" and m:
            if m.group(1) not in MODEL.operation_names:
                raise ApiError(NOT_FOUND, f"no operation {m.group(1)} in the model")
            parse_input(MODEL.operation_model(m.group(1)), {}, {}, body)
            return 200, {}
        if self.command == "POST" and path == "/_standin/reset":
            STATE.clear()
            REQUESTS.clear()
            BODIES.clear()
            CANCEL_DELAY[0] = 0.0
            return 200, {}
        if self.command == "POST" and path == "/_standin/cancel-delay":
            seconds = json.loads(body or b"{}").get("seconds")
            if not isinstance(seconds, (int, float)) or seconds < 0:
                raise ApiError(BAD, "want {\"seconds\": a number >= 0}")
            CANCEL_DELAY[0] = float(seconds)
            return 200, {}
        m = re.fullmatch(r"/_standin/jobs/([^/]+)/status", path)
        if self.command == "POST" and m:
            try:
                doc = json.loads(body or b"{}")
            except ValueError:
                raise ApiError(BAD, "body must be JSON")
            for r in STATE.values():
                if m.group(1) in r.jobs:
                    job = r.jobs[m.group(1)]
                    set_job_status(job, doc)
                    return 200, to_wire({"Job": job}, MODEL.operation_model("GetJob").output_shape)
            raise ApiError(NOT_FOUND, f"Job {m.group(1)} not found")
        raise ApiError(NOT_FOUND, f"unknown control endpoint {self.command} {path}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0, help="0 picks a free port")
    ap.add_argument("--verbose", action="store_true", help="log each request to stderr")
    ap.add_argument("--convert", action="store_true",
                    help="run each job with ffmpeg: input read from and outputs written to S3 as the "
                         "job's role, state changes published to EventBridge, all on AWS_ENDPOINT_URL")
    ap.add_argument("--status-update-seconds", type=float, metavar="S",
                    help="with --convert: STATUS_UPDATE events every S seconds instead of each "
                         "job's StatusUpdateInterval (10 s or more on AWS)")
    args = ap.parse_args()
    Handler.quiet = not args.verbose
    if args.convert:
        endpoint = os.environ.get("AWS_ENDPOINT_URL")
        if not endpoint:
            ap.error("--convert needs AWS_ENDPOINT_URL: the local cloud's AWS endpoint (S3, STS, EventBridge)")
        import convert  # noqa: E402  (boto3 clients and ffmpeg only when converting)
        CONVERTER[0] = convert.Converter(endpoint, sys.modules[__name__], args.status_update_seconds)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print(f"listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
