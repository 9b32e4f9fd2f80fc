"""End-to-end tests for the MediaConvert stand-in, driven through boto3.

boto3 and aws-sdk-rust are generated from the same Smithy model and send the
same wire format, so what passes here is what the Rust client will see.
"""
import http.client
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

SERVER = Path(__file__).with_name("server.py")
ROLE = "arn:aws:iam::123456789012:role/MediaConvertRole"
SETTINGS = {
    "Inputs": [{"FileInput": "s3://in-bucket/cat.mov"}],
    "OutputGroups": [{
        "Name": "File Group",
        "OutputGroupSettings": {"Type": "FILE_GROUP_SETTINGS",
                                "FileGroupSettings": {"Destination": "s3://out-bucket/cat/"}},
        "Outputs": [{"ContainerSettings": {"Container": "MP4"},
                     "VideoDescription": {"CodecSettings": {
                         "Codec": "H_264",
                         "H264Settings": {"RateControlMode": "QVBR", "MaxBitrate": 5000000}}}}],
    }],
}
TEMPLATE_SETTINGS = {"OutputGroups": SETTINGS["OutputGroups"]}


@pytest.fixture(scope="module")
def endpoint():
    # An AWS endpoint in the environment (as in cattube's Rust tests, which point it at moto)
    # must not turn conversions on: only --convert does. Nothing listens on port 9.
    proc = subprocess.Popen([sys.executable, str(SERVER), "--port", "0"],
                            stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "AWS_ENDPOINT_URL": "http://127.0.0.1:9"})
    line = proc.stdout.readline()
    m = re.fullmatch(r"listening on (http://127\.0\.0\.1:(\d+))\n", line)
    assert m and int(m.group(2)) > 0, line
    yield m.group(1)
    proc.terminate()
    proc.wait(timeout=10)


def raw(endpoint, method, path, body=None, headers=None):
    """Unsigned request (default account/region); returns (status, headers, json)."""
    data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
    req = urllib.request.Request(endpoint + path, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req) as resp:
            return resp.status, resp.headers, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, e.headers, json.loads(e.read() or b"null")


@pytest.fixture(autouse=True)
def reset(endpoint):
    assert raw(endpoint, "POST", "/_standin/reset")[0] == 200


def client(endpoint, region="us-east-1", key="testing", validate=True):
    return boto3.client("mediaconvert", endpoint_url=endpoint, region_name=region,
                        aws_access_key_id=key, aws_secret_access_key="testing",
                        config=Config(retries={"max_attempts": 1}, parameter_validation=validate))


@pytest.fixture
def mc(endpoint):
    return client(endpoint)


def error_of(excinfo):
    r = excinfo.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Message"]


def test_queue_lifecycle(mc):
    q = mc.create_queue(Name="cats", Description="cat videos")["Queue"]
    assert q["Arn"] == "arn:aws:mediaconvert:us-east-1:123456789012:queues/cats"
    assert (q["PricingPlan"], q["Status"], q["Type"]) == ("ON_DEMAND", "ACTIVE", "CUSTOM")
    assert abs(q["CreatedAt"].timestamp() - time.time()) < 60

    assert mc.get_queue(Name="cats")["Queue"]["Description"] == "cat videos"
    q = mc.update_queue(Name="cats", Description="more cats", Status="PAUSED")["Queue"]
    assert (q["Description"], q["Status"]) == ("more cats", "PAUSED")
    assert mc.get_queue(Name=q["Arn"])["Queue"]["Status"] == "PAUSED"  # lookup by ARN

    # Every region has the SYSTEM "Default" queue, like the real service.
    mc.create_queue(Name="dogs")
    names = [x["Name"] for x in mc.list_queues()["Queues"]]
    assert names == ["Default", "cats", "dogs"]
    assert mc.list_queues()["Queues"][0]["Type"] == "SYSTEM"
    assert [x["Name"] for x in mc.list_queues(ListBy="NAME", Order="DESCENDING")["Queues"]] \
        == ["dogs", "Default", "cats"]
    page = mc.list_queues(MaxResults=2)
    assert [x["Name"] for x in page["Queues"]] == ["Default", "cats"]
    page2 = mc.list_queues(MaxResults=2, NextToken=page["NextToken"])
    assert [x["Name"] for x in page2["Queues"]] == ["dogs"] and "NextToken" not in page2

    mc.delete_queue(Name="cats")
    with pytest.raises(mc.exceptions.NotFoundException) as e:
        mc.get_queue(Name="cats")
    assert error_of(e)[:2] == ("NotFoundException", 404)
    with pytest.raises(mc.exceptions.BadRequestException):
        mc.delete_queue(Name="Default")


def test_duplicate_queue_conflicts(mc):
    mc.create_queue(Name="cats")
    with pytest.raises(mc.exceptions.ConflictException) as e:
        mc.create_queue(Name="cats")
    assert error_of(e)[:2] == ("ConflictException", 409)


def test_state_is_per_region_and_account(endpoint, mc):
    mc.create_queue(Name="cats")
    eu = client(endpoint, region="eu-west-1")
    assert [q["Name"] for q in eu.list_queues()["Queues"]] == ["Default"]
    assert eu.create_queue(Name="cats")["Queue"]["Arn"] == \
        "arn:aws:mediaconvert:eu-west-1:123456789012:queues/cats"
    other = client(endpoint, key="111122223333")  # 12-digit key selects the account, as in moto
    with pytest.raises(other.exceptions.NotFoundException):
        other.get_queue(Name="cats")
    assert other.create_queue(Name="cats")["Queue"]["Arn"] == \
        "arn:aws:mediaconvert:us-east-1:111122223333:queues/cats"


def test_job_template_lifecycle(mc):
    mc.create_queue(Name="cats")
    t = mc.create_job_template(Name="hd", Queue="cats", Category="video", Priority=5,
                               Settings=TEMPLATE_SETTINGS)["JobTemplate"]
    assert t["Arn"] == "arn:aws:mediaconvert:us-east-1:123456789012:jobTemplates/hd"
    assert t["Queue"] == "arn:aws:mediaconvert:us-east-1:123456789012:queues/cats"
    assert (t["Type"], t["Priority"]) == ("CUSTOM", 5)
    got = mc.get_job_template(Name="hd")["JobTemplate"]
    assert got["Settings"]["OutputGroups"][0]["OutputGroupSettings"]["FileGroupSettings"] == \
        {"Destination": "s3://out-bucket/cat/"}

    t = mc.update_job_template(Name="hd", Description="1080p", Priority=-3)["JobTemplate"]
    assert (t["Description"], t["Priority"]) == ("1080p", -3)
    mc.create_job_template(Name="audio", Category="sound", Settings=TEMPLATE_SETTINGS)
    assert [x["Name"] for x in mc.list_job_templates()["JobTemplates"]] == ["audio", "hd"]
    assert [x["Name"] for x in mc.list_job_templates(Category="video")["JobTemplates"]] == ["hd"]

    with pytest.raises(mc.exceptions.ConflictException):
        mc.create_job_template(Name="hd", Settings=TEMPLATE_SETTINGS)
    mc.delete_job_template(Name="hd")
    with pytest.raises(mc.exceptions.NotFoundException):
        mc.get_job_template(Name="hd")
    with pytest.raises(mc.exceptions.NotFoundException):
        mc.delete_job_template(Name="hd")


def test_job_template_validation(mc):
    bad_enum = {"OutputGroups": [{"OutputGroupSettings": {"Type": "VHS_GROUP_SETTINGS"}}]}
    with pytest.raises(mc.exceptions.BadRequestException) as e:
        mc.create_job_template(Name="bad", Settings=bad_enum)
    code, status, msg = error_of(e)
    assert (code, status) == ("BadRequestException", 400)
    assert "/settings/outputGroups/0/outputGroupSettings/type" in msg and "VHS_GROUP_SETTINGS" in msg

    with pytest.raises(mc.exceptions.BadRequestException) as e:
        mc.create_job_template(Name="bad", Priority=51, Settings=TEMPLATE_SETTINGS)
    assert "maximum of 50" in error_of(e)[2]
    with pytest.raises(mc.exceptions.BadRequestException) as e:
        mc.create_job_template(Name="bad", Queue="no-such-queue", Settings=TEMPLATE_SETTINGS)
    assert "no-such-queue" in error_of(e)[2]

    loose = client(mc.meta.endpoint_url, validate=False)  # let the server see the mistake
    with pytest.raises(mc.exceptions.BadRequestException) as e:
        loose.create_job_template(Name="bad")
    assert "Settings" in error_of(e)[2]
    with pytest.raises(mc.exceptions.BadRequestException) as e:
        loose.create_job_template(Name="bad", Priority="high", Settings=TEMPLATE_SETTINGS)
    assert "Priority" in error_of(e)[2]
    assert [t["Name"] for t in mc.list_job_templates()["JobTemplates"]] == []


def test_raw_wire_format(endpoint):
    # No Content-Type, unknown field, missing required member: MediaConvert error format.
    status, headers, body = raw(endpoint, "POST", "/2017-08-29/queues", b'{"nmae": "x"}')
    assert status == 400 and headers["x-amzn-ErrorType"] == "BadRequestException"
    assert "/nmae: unknown field" in body["message"] and "Name" in body["message"]
    status, _, body = raw(endpoint, "POST", "/2017-08-29/queues", b"not json",
                          {"Content-Type": "application/json"})
    assert status == 400 and "JSON" in body["message"]

    status, _, body = raw(endpoint, "POST", "/2017-08-29/queues", {"name": "wire", "tags": {"k": "v"}},
                          {"Content-Type": "application/x-amz-json-1.1"})
    assert status == 201 and body["queue"]["name"] == "wire"
    assert isinstance(body["queue"]["createdAt"], int)  # unixTimestamp on the wire
    status, _, body = raw(endpoint, "GET", "/2017-08-29/queues/wire")
    assert status == 200 and body["queue"]["pricingPlan"] == "ON_DEMAND"
    status, _, body = raw(endpoint, "GET", "/2017-08-29/queues?maxResults=21")
    assert status == 400 and "maximum of 20" in body["message"]
    status, _, body = raw(endpoint, "GET", "/2017-08-29/jobs?status=DONE")
    assert status == 400 and "DONE" in body["message"]
    status, _, body = raw(endpoint, "DELETE", "/2017-08-29/queues/wire")
    assert (status, body) == (202, {})
    status, headers, _ = raw(endpoint, "GET", "/2017-08-29/nothing-here")
    assert status == 404 and headers["x-amzn-ErrorType"] == "NotFoundException"


def test_chunked_body_and_keep_alive(endpoint):
    # One connection for several requests, the first with a chunked body and no
    # Content-Type: hyper-based clients (aws-sdk-rust) reuse connections.
    host, port = endpoint.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request("POST", "/2017-08-29/queues", body=iter([b'{"name":', b' "chunky"}']))
    resp = conn.getresponse()
    assert (resp.status, json.loads(resp.read())["queue"]["name"]) == (201, "chunky")
    conn.request("GET", "/2017-08-29/queues/chunky")
    resp = conn.getresponse()
    assert (resp.status, json.loads(resp.read())["queue"]["type"]) == (200, "CUSTOM")
    conn.request("DELETE", "/2017-08-29/queues/chunky")
    resp = conn.getresponse()
    assert (resp.status, resp.read()) == (202, b"{}")
    conn.close()


def test_create_job(mc):
    mc.create_queue(Name="cats")
    before = time.time()
    job = mc.create_job(Role=ROLE, Queue="cats", Settings=SETTINGS,
                        UserMetadata={"video": "v1"})["Job"]
    assert re.fullmatch(r"\d{13}-[a-z0-9]{6}", job["Id"])
    assert job["Arn"] == f"arn:aws:mediaconvert:us-east-1:123456789012:jobs/{job['Id']}"
    assert job["Status"] == "SUBMITTED" and "JobPercentComplete" not in job
    assert job["Queue"] == "arn:aws:mediaconvert:us-east-1:123456789012:queues/cats"
    assert job["UserMetadata"] == {"video": "v1"} and job["Role"] == ROLE
    assert before - 1 <= job["CreatedAt"].timestamp() <= time.time() + 1
    assert job["Settings"]["Inputs"] == [{"FileInput": "s3://in-bucket/cat.mov"}]
    assert mc.get_job(Id=job["Id"])["Job"]["UserMetadata"] == {"video": "v1"}
    assert mc.get_queue(Name="cats")["Queue"]["SubmittedJobsCount"] == 1

    default = mc.create_job(Role=ROLE, Settings=SETTINGS)["Job"]
    assert default["Queue"].endswith(":queues/Default")

    with pytest.raises(mc.exceptions.NotFoundException):
        mc.get_job(Id="1700000000000-nojob0")
    with pytest.raises(mc.exceptions.BadRequestException):
        mc.create_job(Role=ROLE, Queue="dogs", Settings=SETTINGS)
    with pytest.raises(mc.exceptions.BadRequestException):
        mc.create_job(Role="not-a-role", Queue="cats", Settings=SETTINGS)
    with pytest.raises(mc.exceptions.BadRequestException):
        mc.create_job(Role=ROLE, JobTemplate="missing", Settings=SETTINGS)
    assert len(mc.list_jobs()["Jobs"]) == 2


def test_create_job_from_template(mc):
    mc.create_queue(Name="cats")
    mc.create_job_template(Name="hd", Queue="cats", Priority=7, Settings=TEMPLATE_SETTINGS)
    job = mc.create_job(Role=ROLE, JobTemplate="hd",
                        Settings={"Inputs": SETTINGS["Inputs"]})["Job"]
    assert job["Queue"].endswith(":queues/cats") and job["Priority"] == 7
    assert job["JobTemplate"] == "hd"
    assert job["Settings"]["OutputGroups"] == SETTINGS["OutputGroups"]  # merged from template
    assert job["Settings"]["Inputs"] == SETTINGS["Inputs"]


def test_client_request_token_is_idempotent(endpoint, mc):
    mc.create_queue(Name="cats")
    a = mc.create_job(Role=ROLE, Queue="cats", Settings=SETTINGS, ClientRequestToken="tok-1")["Job"]
    b = mc.create_job(Role=ROLE, Queue="cats", Settings=SETTINGS, ClientRequestToken="tok-1")["Job"]
    c = mc.create_job(Role=ROLE, Queue="cats", Settings=SETTINGS, ClientRequestToken="tok-2")["Job"]
    assert a["Id"] == b["Id"] != c["Id"]
    assert a["ClientRequestToken"] == "tok-1"
    assert sorted(j["Id"] for j in mc.list_jobs(Queue="cats")["Jobs"]) == sorted([a["Id"], c["Id"]])
    seen = raw(endpoint, "GET", "/_standin/requests")[2]
    assert [r["operation"] for r in seen].count("CreateJob") == 3  # all three reached the server


def test_delete_queue_refused_until_jobs_finish(mc):
    mc.create_queue(Name="cats")
    job = mc.create_job(Role=ROLE, Queue="cats", Settings=SETTINGS)["Job"]
    with pytest.raises(mc.exceptions.ConflictException) as e:
        mc.delete_queue(Name="cats")
    assert error_of(e)[1] == 409
    mc.cancel_job(Id=job["Id"])
    got = mc.get_job(Id=job["Id"])["Job"]
    assert got["Status"] == "CANCELED" and "FinishTime" in got["Timing"]
    with pytest.raises(mc.exceptions.ConflictException):
        mc.cancel_job(Id=job["Id"])  # already finished
    with pytest.raises(mc.exceptions.NotFoundException):
        mc.cancel_job(Id="1700000000000-nojob0")
    mc.delete_queue(Name="cats")
    assert [q["Name"] for q in mc.list_queues()["Queues"]] == ["Default"]


def test_a_cancelled_job_can_stay_unfinished_for_a_while(endpoint, mc):
    """CancelJob returns before the job has stopped: with a cancel delay the job stays
    unfinished, DeleteQueue is refused, and once the delay is over both settle."""
    assert raw(endpoint, "POST", "/_standin/cancel-delay", {"seconds": -1})[0] == 400
    assert raw(endpoint, "POST", "/_standin/cancel-delay", {"seconds": 0.5})[0] == 200
    mc.create_queue(Name="cats")
    job = mc.create_job(Role=ROLE, Queue="cats", Settings=SETTINGS)["Job"]
    mc.cancel_job(Id=job["Id"])
    assert mc.get_job(Id=job["Id"])["Job"]["Status"] == "SUBMITTED"
    with pytest.raises(mc.exceptions.ConflictException) as e:
        mc.delete_queue(Name="cats")
    assert error_of(e)[1] == 409
    time.sleep(0.6)
    assert mc.get_job(Id=job["Id"])["Job"]["Status"] == "CANCELED"
    mc.delete_queue(Name="cats")


def test_control_endpoint_moves_jobs(endpoint, mc):
    mc.create_queue(Name="cats")
    job_id = mc.create_job(Role=ROLE, Queue="cats", Settings=SETTINGS)["Job"]["Id"]
    status, _, body = raw(endpoint, "POST", f"/_standin/jobs/{job_id}/status",
                          {"status": "PROGRESSING", "percent": 40})
    assert status == 200 and body["job"]["jobPercentComplete"] == 40
    job = mc.get_job(Id=job_id)["Job"]
    assert (job["Status"], job["JobPercentComplete"], job["CurrentPhase"]) == \
        ("PROGRESSING", 40, "TRANSCODING")
    assert "StartTime" in job["Timing"]
    assert mc.get_queue(Name="cats")["Queue"]["ProgressingJobsCount"] == 1
    with pytest.raises(mc.exceptions.ConflictException):
        mc.delete_queue(Name="cats")  # PROGRESSING counts as unfinished

    raw(endpoint, "POST", f"/_standin/jobs/{job_id}/status", {"status": "COMPLETE"})
    job = mc.get_job(Id=job_id)["Job"]
    assert job["Status"] == "COMPLETE" and "JobPercentComplete" not in job
    assert "FinishTime" in job["Timing"]
    with pytest.raises(mc.exceptions.ConflictException):
        mc.cancel_job(Id=job_id)

    other = mc.create_job(Role=ROLE, Queue="cats", Settings=SETTINGS)["Job"]["Id"]
    raw(endpoint, "POST", f"/_standin/jobs/{other}/status",
        {"status": "ERROR", "errorMessage": "input not found", "errorCode": 1030})
    job = mc.get_job(Id=other)["Job"]
    assert (job["Status"], job["ErrorMessage"], job["ErrorCode"]) == ("ERROR", "input not found", 1030)

    assert raw(endpoint, "POST", f"/_standin/jobs/{other}/status", {"status": "DONE"})[0] == 400
    assert raw(endpoint, "POST", f"/_standin/jobs/{other}/status",
               {"status": "PROGRESSING", "percent": "lots"})[0] == 400
    assert mc.get_job(Id=other)["Job"]["Status"] == "ERROR"  # rejected updates change nothing
    assert raw(endpoint, "POST", "/_standin/jobs/nope/status", {"status": "COMPLETE"})[0] == 404
    mc.delete_queue(Name="cats")


def test_list_jobs_order_filter_and_pages(endpoint, mc):
    mc.create_queue(Name="cats")
    ids = [mc.create_job(Role=ROLE, Queue="cats" if i % 2 == 0 else "Default",
                         Settings=SETTINGS)["Job"]["Id"] for i in range(5)]
    assert [j["Id"] for j in mc.list_jobs()["Jobs"]] == ids[::-1]  # newest first
    assert [j["Id"] for j in mc.list_jobs(Order="ASCENDING")["Jobs"]] == ids
    assert [j["Id"] for j in mc.list_jobs(Queue="cats")["Jobs"]] == [ids[4], ids[2], ids[0]]
    queue_arn = mc.get_queue(Name="cats")["Queue"]["Arn"]
    assert len(mc.list_jobs(Queue=queue_arn)["Jobs"]) == 3

    raw(endpoint, "POST", f"/_standin/jobs/{ids[1]}/status", {"status": "COMPLETE"})
    mc.cancel_job(Id=ids[3])
    assert [j["Id"] for j in mc.list_jobs(Status="COMPLETE")["Jobs"]] == [ids[1]]
    assert [j["Id"] for j in mc.list_jobs(Status="SUBMITTED")["Jobs"]] == [ids[4], ids[2], ids[0]]
    assert mc.list_jobs(Status="ERROR")["Jobs"] == []

    first = mc.list_jobs(MaxResults=2)
    second = mc.list_jobs(MaxResults=2, NextToken=first["NextToken"])
    third = mc.list_jobs(MaxResults=2, NextToken=second["NextToken"])
    assert [j["Id"] for j in first["Jobs"] + second["Jobs"] + third["Jobs"]] == ids[::-1]
    assert "NextToken" not in third
    pages = mc.get_paginator("list_jobs").paginate(PaginationConfig={"PageSize": 2})
    assert [j["Id"] for p in pages for j in p["Jobs"]] == ids[::-1]
    with pytest.raises(mc.exceptions.BadRequestException):
        mc.list_jobs(NextToken="garbage!")
    with pytest.raises(mc.exceptions.NotFoundException):
        mc.list_jobs(Queue="dogs")


def test_tags_round_trip(mc):
    arn = mc.create_queue(Name="cats", Tags={"team": "video", "env": "test"})["Queue"]["Arn"]
    tags = mc.list_tags_for_resource(Arn=arn)["ResourceTags"]
    assert tags == {"Arn": arn, "Tags": {"team": "video", "env": "test"}}
    mc.tag_resource(Arn=arn, Tags={"owner": "cattube", "env": "prod"})
    mc.untag_resource(Arn=arn, TagKeys=["team"])
    assert mc.list_tags_for_resource(Arn=arn)["ResourceTags"]["Tags"] == \
        {"env": "prod", "owner": "cattube"}

    t_arn = mc.create_job_template(Name="hd", Settings=TEMPLATE_SETTINGS,
                                   Tags={"kind": "template"})["JobTemplate"]["Arn"]
    assert mc.list_tags_for_resource(Arn=t_arn)["ResourceTags"]["Tags"] == {"kind": "template"}

    missing = "arn:aws:mediaconvert:us-east-1:123456789012:queues/nope"
    for call in (lambda: mc.list_tags_for_resource(Arn=missing),
                 lambda: mc.tag_resource(Arn=missing, Tags={"a": "b"}),
                 lambda: mc.untag_resource(Arn=missing, TagKeys=["a"])):
        with pytest.raises(mc.exceptions.NotFoundException):
            call()
    mc.delete_queue(Name="cats")  # tags go with the resource
    with pytest.raises(mc.exceptions.NotFoundException):
        mc.list_tags_for_resource(Arn=arn)


def test_request_log_and_describe_endpoints(endpoint, mc):
    mc.create_queue(Name="cats")
    mc.get_queue(Name="cats")
    assert mc.describe_endpoints()["Endpoints"] == [{"Url": endpoint}]
    seen = raw(endpoint, "GET", "/_standin/requests")[2]
    assert seen == [
        {"method": "POST", "path": "/2017-08-29/queues", "operation": "CreateQueue"},
        {"method": "GET", "path": "/2017-08-29/queues/cats", "operation": "GetQueue"},
        {"method": "POST", "path": "/2017-08-29/endpoints", "operation": "DescribeEndpoints"},
    ]


def test_bodies_are_kept_and_validated_against_the_model(endpoint, mc):
    mc.create_queue(Name="cats", Description="d")
    seen = raw(endpoint, "GET", "/_standin/bodies")[2]
    assert [b["operation"] for b in seen] == ["CreateQueue"]
    assert json.loads(seen[0]["body"]) == {"name": "cats", "description": "d"}
    good = {"name": "t", "settings": {"outputGroups": []}}
    assert raw(endpoint, "POST", "/_standin/validate/CreateJobTemplate", good)[0] == 200
    status, headers, doc = raw(endpoint, "POST", "/_standin/validate/CreateJobTemplate",
                               {"settings": {"inputs": [{"fileInput": "s3://b/k"}]}})
    assert status == 400
    assert "inputs/0/fileInput: unknown field" in doc["message"]
    assert "Name" in doc["message"]  # required, and missing


def test_control_endpoint_gives_a_complete_job_output_details(endpoint, mc):
    mc.create_queue(Name="cats")
    settings = json.loads(json.dumps(SETTINGS))
    settings["OutputGroups"][0]["Outputs"][0]["VideoDescription"].update(Width=1280, Height=720)
    settings["OutputGroups"][0]["Outputs"].append(
        {"ContainerSettings": {"Container": "MP4"}, "AudioDescriptions": [
            {"CodecSettings": {"Codec": "AAC", "AacSettings": {
                "Bitrate": 96000, "CodingMode": "CODING_MODE_2_0", "SampleRate": 48000}}}]})
    job_id = mc.create_job(Role=ROLE, Queue="cats", Settings=settings)["Job"]["Id"]
    assert raw(endpoint, "POST", f"/_standin/jobs/{job_id}/status",
               {"status": "COMPLETE", "outputDurationsMs": [[61000]]})[0] == 400  # one per output
    status, _, _ = raw(endpoint, "POST", f"/_standin/jobs/{job_id}/status",
                       {"status": "COMPLETE", "outputDurationsMs": [[61000, 5000]],
                        "createdAt": 1_700_000_000})
    assert status == 200
    (job,) = mc.list_jobs(Queue="cats", Status="COMPLETE")["Jobs"]
    assert job["OutputGroupDetails"] == [{"OutputDetails": [
        {"DurationInMs": 61000, "VideoDetails": {"WidthInPx": 1280, "HeightInPx": 720}},
        {"DurationInMs": 5000}]}]
    assert job["CreatedAt"].timestamp() == 1_700_000_000
    # Only a COMPLETE job has output details.
    raw(endpoint, "POST", f"/_standin/jobs/{job_id}/status",
        {"status": "ERROR", "outputDurationsMs": [[61000, 5000]]})
    assert "OutputGroupDetails" not in mc.get_job(Id=job_id)["Job"]


def test_without_convert_a_job_only_holds_state(mc):
    """The API-only mode cattube's Rust tests use: no worker takes the job (nothing calls
    S3, STS or EventBridge, no ffmpeg); it stays SUBMITTED until a test moves it."""
    job_id = mc.create_job(Role=ROLE, Settings=SETTINGS)["Job"]["Id"]
    time.sleep(1.5)
    job = mc.get_job(Id=job_id)["Job"]
    assert job["Status"] == "SUBMITTED" and "JobPercentComplete" not in job


@pytest.mark.parametrize("metadata, problem", [
    ({"cattube:source-key": "cats/tabby cat (1).mp4"}, "holds '('"),
    ({"k": "x" * 257}, "257 characters"),
    ({f"k{i}": "v" for i in range(11)}, "11 pairs"),
])
def test_user_metadata_beyond_the_job_tag_restrictions_is_refused(mc, metadata, problem):
    with pytest.raises(ClientError) as refused:
        mc.create_job(Role=ROLE, Settings=SETTINGS, UserMetadata=metadata)
    assert refused.value.response["Error"]["Code"] == "BadRequestException"
    assert problem in str(refused.value)
