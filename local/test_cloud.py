"""The local cloud's behaviours, each against the running process (local/cloud.py): S3
events reach the function as AWS sends them, the function runs as deployed and as its
role, failures are retried twice and then recorded in an S3 on-failure destination, the
logs land in the function's log group only as far as its role allows, IAM is enforced (with S3's 403-unless-ListBucket rule),
EventBridge rules reach their Lambda targets, and CloudFront serves a bucket through an
origin access control."""

from __future__ import annotations

import http.client
import io
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

import boto3
import pytest

ROOT = Path(__file__).resolve().parents[1]
ACCOUNT = "123456789012"
REGION = "eu-west-1"
SOURCE, OUT, SITE = "src-bucket", "out-bucket", "site-bucket"

HANDLER = '''
import json, os, urllib.parse
import boto3

def handler(event, context):
    print("handling", json.dumps(event)[:60])
    s3 = boto3.client("s3")
    probes = {}
    if "Records" in event:
        key = urllib.parse.unquote_plus(event["Records"][0]["s3"]["object"]["key"])
        if "fail" in key:
            raise RuntimeError("asked to fail")
        if "slow" in key:
            import time
            time.sleep(30)
        for name, call in {
            "missing_key_without_list": lambda: s3.get_object(Bucket=os.environ["SOURCE"], Key="nope"),
            "missing_key_with_list": lambda: s3.get_object(Bucket=os.environ["OUT"], Key="nope"),
            "head_missing_without_list": lambda: s3.head_object(Bucket=os.environ["SOURCE"], Key="nope"),
            "put_not_granted": lambda: s3.put_object(Bucket=os.environ["SOURCE"], Key="x", Body=b"x"),
            "read_source": lambda: s3.get_object(Bucket=os.environ["SOURCE"], Key=key),
        }.items():
            try:
                call()
                probes[name] = "allowed"
            except Exception as err:
                probes[name] = err.response["Error"]["Code"]
        name = "seen/" + context.aws_request_id + ".json"
    else:
        name = "events/" + context.aws_request_id + ".json"
    s3.put_object(Bucket=os.environ["OUT"], Key=name, Body=json.dumps({
        "event": event, "probes": probes, "mark": os.environ.get("MARK"),
        "caller": boto3.client("sts").get_caller_identity()["Arn"],
        "remaining_ms": context.get_remaining_time_in_millis(),
        "key_id": os.environ["AWS_ACCESS_KEY_ID"]}))
    return {"ok": True}
'''


def start_cloud(work, *extra):
    env_file = work / "env"
    # LOCAL_CLOUD_PY: another copy of cloud.py (a deliberately broken one, to watch a test fail).
    program = os.environ.get("LOCAL_CLOUD_PY") or str(ROOT / "local" / "cloud.py")
    proc = subprocess.Popen([sys.executable, program, "--env-file", str(env_file),
                             "--workdir", str(work / "w"), "--retry-delay", "0.2", "--region", REGION, *extra],
                            stdout=subprocess.DEVNULL, stderr=open(work / "stderr", "wb"))
    deadline = time.time() + 60
    while not env_file.exists():
        assert proc.poll() is None, (work / "stderr").read_text()
        assert time.time() < deadline, "the local cloud did not start"
        time.sleep(0.1)
    env = {}
    for line in env_file.read_text().splitlines():
        if line.startswith("export "):
            name, _, value = line[7:].partition("=")
            env[name] = value
    return proc, env


def stop_cloud(proc, work):
    proc.terminate()
    proc.wait(20)
    # Shown with a failure: what the cloud logged (dropped events, failed invocations).
    print((work / "stderr").read_text())
    for log in (work / "w" / "logs").glob("*.log"):
        print(log.name, log.read_text()[-3000:])


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    work = tmp_path_factory.mktemp("cloud")
    proc, env = start_cloud(work)
    yield env
    stop_cloud(proc, work)


def client(cloud, service, **kwargs):
    return boto3.client(service, endpoint_url=cloud["AWS_ENDPOINT_URL"], region_name=REGION,
                        aws_access_key_id="local", aws_secret_access_key="local", **kwargs)


# What AWSLambdaBasicExecutionRole allows: Lambda writes the logs as the function's role.
LOGS = {"Effect": "Allow", "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": "*"}


def deploy(cloud, name="fn", timeout=30, statements=(LOGS,)):
    iam, lam, s3 = client(cloud, "iam"), client(cloud, "lambda"), client(cloud, "s3")
    for bucket in (SOURCE, OUT):
        try:
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        except s3.exceptions.BucketAlreadyOwnedByYou:
            pass
    role = iam.create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    iam.put_role_policy(RoleName=f"{name}-role", PolicyName="p", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{SOURCE}/*"},
            {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": f"arn:aws:s3:::{OUT}/*"},
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{OUT}"},
            *statements]}))
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as z:
        z.writestr("app.py", HANDLER)
    arn = lam.create_function(FunctionName=name, Runtime="python3.13", Role=role, Handler="app.handler",
                              Code={"ZipFile": code.getvalue()}, Timeout=timeout, MemorySize=256,
                              Environment={"Variables": {"SOURCE": SOURCE, "OUT": OUT, "MARK": "deployed"}}
                              )["FunctionArn"]
    return arn


def objects(cloud, prefix):
    s3 = client(cloud, "s3")
    return [json.loads(s3.get_object(Bucket=OUT, Key=o["Key"])["Body"].read())
            for o in s3.list_objects_v2(Bucket=OUT, Prefix=prefix).get("Contents", [])]


def wait_until(what, check, seconds=40):
    deadline = time.time() + seconds
    while time.time() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def log_lines(cloud, function):
    logs = client(cloud, "logs")
    group = f"/aws/lambda/{function}"
    lines = []
    try:
        streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    except logs.exceptions.ResourceNotFoundException:
        return []  # no invocation has finished yet
    for stream in streams:
        lines += [e["message"] for e in logs.get_log_events(logGroupName=group,
                                                            logStreamName=stream["logStreamName"])["events"]]
    return lines


def test_an_upload_runs_the_deployed_function_as_its_role_with_the_event_s3_sends(cloud):
    arn = deploy(cloud)
    lam, s3 = client(cloud, "lambda"), client(cloud, "s3")
    lam.add_permission(FunctionName="fn", StatementId="s3", Action="lambda:InvokeFunction",
                       Principal="s3.amazonaws.com", SourceArn=f"arn:aws:s3:::{SOURCE}", SourceAccount=ACCOUNT)
    s3.put_bucket_notification_configuration(Bucket=SOURCE, NotificationConfiguration={
        "LambdaFunctionConfigurations": [{"Id": "uploads", "LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"],
                                          "Filter": {"Key": {"FilterRules": [
                                              {"Name": "prefix", "Value": "up/"}, {"Name": "suffix", "Value": ".mp4"}]}}}]})
    s3.put_object(Bucket=SOURCE, Key="elsewhere/x.mp4", Body=b"not in the prefix")
    s3.put_object(Bucket=SOURCE, Key="up/x.mov", Body=b"not the suffix")
    key = "up/tabby cat (1)+ü.mp4"
    put = s3.put_object(Bucket=SOURCE, Key=key, Body=b"0123456789")
    (seen,) = wait_until("the function's output", lambda: objects(cloud, "seen/"))
    record = seen["event"]["Records"][0]
    assert record["eventSource"] == "aws:s3" and record["eventName"] == "ObjectCreated:Put"
    assert record["s3"]["configurationId"] == "uploads"
    assert record["s3"]["bucket"]["arn"] == f"arn:aws:s3:::{SOURCE}"
    obj = record["s3"]["object"]
    assert obj["key"] == urllib.parse.quote_plus(key, safe="/") == "up/tabby+cat+%281%29%2B%C3%BC.mp4"
    assert obj["size"] == 10 and obj["eTag"] == put["ETag"].strip('"') and len(obj["sequencer"]) >= 16
    # The deployed zip, its environment, a Lambda context, and the role's temporary credentials.
    assert seen["mark"] == "deployed" and 0 < seen["remaining_ms"] <= 30_000
    assert seen["caller"].startswith(f"arn:aws:sts::{ACCOUNT}:assumed-role/fn-role/")
    assert seen["key_id"] != "local"
    # IAM as AWS enforces it: a missing key is 403 unless the role may list the bucket.
    assert seen["probes"] == {"missing_key_without_list": "AccessDenied", "missing_key_with_list": "NoSuchKey",
                              "head_missing_without_list": "403", "put_not_granted": "AccessDenied",
                              "read_source": "allowed"}
    lines = wait_until("the logs", lambda: [l for l in log_lines(cloud, "fn") if l.startswith("REPORT")] and
                       log_lines(cloud, "fn"))
    assert any(l.startswith("START RequestId:") for l in lines) and any(l.startswith("handling") for l in lines)
    # A multipart upload is CompleteMultipartUpload.
    s3.upload_fileobj(io.BytesIO(b"x" * (6 * 2**20)), SOURCE, "up/big.mp4",
                      Config=boto3.s3.transfer.TransferConfig(multipart_threshold=5 * 2**20))
    wait_until("the second event", lambda: len(objects(cloud, "seen/")) >= 2)
    time.sleep(1)
    names = [(o["event"]["Records"][0]["eventName"], o["event"]["Records"][0]["s3"]["object"]["key"])
             for o in objects(cloud, "seen/")]
    assert sorted(names) == [("ObjectCreated:CompleteMultipartUpload", "up/big.mp4"),
                             ("ObjectCreated:Put", "up/tabby+cat+%281%29%2B%C3%BC.mp4")]


def notified_function(cloud, name, timeout=30, statements=(LOGS,)):
    """Function `name`, invoked by every object created in bucket `<name>-src`; an S3 client."""
    arn = deploy(cloud, name, timeout=timeout, statements=statements)
    lam, s3 = client(cloud, "lambda"), client(cloud, "s3")
    lam.add_permission(FunctionName=name, StatementId="s3", Action="lambda:InvokeFunction",
                       Principal="s3.amazonaws.com", SourceArn=f"arn:aws:s3:::{name}-src")
    s3.create_bucket(Bucket=f"{name}-src", CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_notification_configuration(Bucket=f"{name}-src", NotificationConfiguration={
        "LambdaFunctionConfigurations": [{"LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"]}]})
    return s3


def test_a_failing_invocation_is_retried_twice(cloud):
    s3 = notified_function(cloud, "flaky")
    s3.put_object(Bucket="flaky-src", Key="fail.mp4", Body=b"x")
    starts = lambda: [l for l in log_lines(cloud, "flaky") if l.startswith("START")]
    wait_until("three attempts", lambda: len(starts()) >= 3)
    time.sleep(1.5)  # and no fourth
    assert len(starts()) == 3
    assert sum('"errorType": "RuntimeError"' in l for l in log_lines(cloud, "flaky")) == 3


def test_a_failure_after_the_retries_is_recorded_in_the_on_failure_bucket_as_the_role(cloud):
    put = {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::kept-failures/*"}
    listing = {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::kept-failures"}
    s3 = notified_function(cloud, "kept", statements=(LOGS, put, listing))
    s3.create_bucket(Bucket="kept-failures", CreateBucketConfiguration={"LocationConstraint": REGION})
    lam = client(cloud, "lambda")
    # Lambda checks the destination against the function's role when it is written
    # (tests/support/moto_server.py): a bucket the role may not write to is refused.
    with pytest.raises(lam.exceptions.InvalidParameterValueException, match="destination ARN"):
        lam.put_function_event_invoke_config(FunctionName="kept", DestinationConfig={
            "OnFailure": {"Destination": "arn:aws:s3:::denied-failures"}})
    lam.put_function_event_invoke_config(FunctionName="kept", MaximumRetryAttempts=2, DestinationConfig={
        "OnFailure": {"Destination": "arn:aws:s3:::kept-failures"}})
    s3.put_object(Bucket="kept-src", Key="fail (1).mp4", Body=b"x")
    listed = lambda: s3.list_objects_v2(Bucket="kept-failures").get("Contents", [])
    (kept,) = wait_until("the failure's record", listed)
    assert kept["Key"].startswith("aws/lambda/async/kept/")
    record = json.loads(s3.get_object(Bucket="kept-failures", Key=kept["Key"])["Body"].read())
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestPayload"]["Records"][0]["s3"]["object"]["key"] == "fail+%281%29.mp4"
    assert record["responsePayload"] == {"errorType": "RuntimeError", "errorMessage": "asked to fail"}
    # An asynchronous Invoke (what `cattube jobs --retry-failed` sends) runs it again, with
    # the same retries and destination.
    lam.invoke(FunctionName="kept", InvocationType="Event", Payload=json.dumps(record["requestPayload"]))
    wait_until("the replay's record", lambda: len(listed()) == 2)
    # Lambda writes the record as the function's role: once the role may no longer write
    # to the destination, a failure leaves nothing there.
    lam.put_function_event_invoke_config(FunctionName="kept", MaximumRetryAttempts=0, DestinationConfig={
        "OnFailure": {"Destination": "arn:aws:s3:::kept-failures"}})
    client(cloud, "iam").put_role_policy(RoleName="kept-role", PolicyName="p", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [LOGS]}))
    s3.put_object(Bucket="kept-src", Key="fail-again.mp4", Body=b"x")
    starts = lambda: [l for l in log_lines(cloud, "kept") if l.startswith("START")]
    wait_until("the seventh attempt", lambda: len(starts()) >= 7)
    time.sleep(1)
    assert len(starts()) == 7  # no retry: MaximumRetryAttempts 0
    assert len(listed()) == 2


def test_without_create_log_group_the_logs_need_a_group_made_beforehand(cloud):
    write = {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
             "Resource": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/nogroup:*"}
    s3 = notified_function(cloud, "nogroup", statements=(write,))
    logs = client(cloud, "logs")
    s3.put_object(Bucket="nogroup-src", Key="first.mp4", Body=b"x")
    ran = Path(cloud["CATTUBE_LOCAL_WORKDIR"]) / "logs" / "nogroup.log"
    wait_until("the first run", lambda: ran.exists() and "REPORT" in ran.read_text())
    assert logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/nogroup")["logGroups"] == []
    logs.create_log_group(logGroupName="/aws/lambda/nogroup")
    s3.put_object(Bucket="nogroup-src", Key="second.mp4", Body=b"x")
    wait_until("the logs in the group made beforehand",
               lambda: any(l.startswith("START") for l in log_lines(cloud, "nogroup")))


def test_the_functions_timeout_ends_an_invocation_and_counts_as_a_failure(cloud):
    s3 = notified_function(cloud, "slow", timeout=2)
    began = time.time()
    s3.put_object(Bucket="slow-src", Key="slow.mp4", Body=b"x")
    timed_out = lambda: [l for l in log_lines(cloud, "slow") if "Task timed out after 2.00 seconds" in l]
    wait_until("three timed-out attempts", lambda: len(timed_out()) == 3, seconds=60)
    # Three attempts of 2 s and two retry delays, not three sleeps of 30 s.
    assert time.time() - began < 30


def test_job_events_reach_the_rules_lambda_target_when_its_policy_allows(cloud):
    arn = deploy(cloud, "events-fn")
    events, lam = client(cloud, "events"), client(cloud, "lambda")
    pattern = {"source": ["aws.mediaconvert"], "detail-type": ["MediaConvert Job State Change"],
               "detail": {"queue": ["arn:aws:mediaconvert:eu-west-1:123456789012:queues/mine"]}}
    rule = events.put_rule(Name="jobs", EventPattern=json.dumps(pattern))["RuleArn"]
    events.put_targets(Rule="jobs", Targets=[{"Id": "fn", "Arn": arn}])
    lam.add_permission(FunctionName="events-fn", StatementId="events", Action="lambda:InvokeFunction",
                       Principal="events.amazonaws.com", SourceArn=rule)

    def publish(queue, status):
        events.put_events(Entries=[{"Source": "aws.mediaconvert", "DetailType": "MediaConvert Job State Change",
                                    "Resources": ["arn:aws:mediaconvert:eu-west-1:123456789012:jobs/j1"],
                                    "Detail": json.dumps({"queue": queue, "status": status, "jobId": "j1"})}])

    publish("arn:aws:mediaconvert:eu-west-1:123456789012:queues/other", "PROGRESSING")
    publish("arn:aws:mediaconvert:eu-west-1:123456789012:queues/mine", "COMPLETE")
    (seen,) = wait_until("the event", lambda: objects(cloud, "events/"))
    assert seen["event"]["detail-type"] == "MediaConvert Job State Change"
    assert seen["event"]["detail"]["status"] == "COMPLETE"
    assert seen["event"]["resources"] == ["arn:aws:mediaconvert:eu-west-1:123456789012:jobs/j1"]
    time.sleep(2)
    assert len(objects(cloud, "events/")) == 1  # the other queue's event (sent first) matched no rule
    # Without the function's permission EventBridge cannot invoke it.
    lam.remove_permission(FunctionName="events-fn", StatementId="events")
    publish("arn:aws:mediaconvert:eu-west-1:123456789012:queues/mine", "ERROR")
    # Permitted again, a later event arrives; the one sent without permission never does.
    lam.add_permission(FunctionName="events-fn", StatementId="events-again", Action="lambda:InvokeFunction",
                       Principal="events.amazonaws.com", SourceArn=rule)
    publish("arn:aws:mediaconvert:eu-west-1:123456789012:queues/mine", "CANCELED")
    wait_until("the permitted event", lambda: any(o["event"]["detail"]["status"] == "CANCELED"
                                                  for o in objects(cloud, "events/")))
    time.sleep(2)
    assert sorted(o["event"]["detail"]["status"] for o in objects(cloud, "events/")) == ["CANCELED", "COMPLETE"]


def test_cloudfront_serves_the_origin_bucket_as_an_origin_access_control_does(cloud):
    s3, cf = client(cloud, "s3"), client(cloud, "cloudfront")
    s3.create_bucket(Bucket=SITE, CreateBucketConfiguration={"LocationConstraint": REGION})
    oac = cf.create_origin_access_control(OriginAccessControlConfig={
        "Name": "oac", "SigningProtocol": "sigv4", "SigningBehavior": "always",
        "OriginAccessControlOriginType": "s3"})["OriginAccessControl"]["Id"]
    dist = cf.create_distribution(DistributionConfig={
        "CallerReference": "t", "Comment": "", "Enabled": True, "DefaultRootObject": "index.html",
        "Origins": {"Quantity": 1, "Items": [{"Id": "o", "DomainName": f"{SITE}.s3.{REGION}.amazonaws.com",
                                               "OriginAccessControlId": oac,
                                               "S3OriginConfig": {"OriginAccessIdentity": ""}}]},
        "DefaultCacheBehavior": {"TargetOriginId": "o", "ViewerProtocolPolicy": "redirect-to-https",
                                 "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"}})["Distribution"]
    s3.put_bucket_policy(Bucket=SITE, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "cloudfront.amazonaws.com"}, "Action": "s3:GetObject",
         "Resource": f"arn:aws:s3:::{SITE}/*", "Condition": {"StringEquals": {"AWS:SourceArn": dist["ARN"]}}},
        {"Effect": "Deny", "Principal": {"Service": "cloudfront.amazonaws.com"}, "Action": "s3:GetObject",
         "Resource": f"arn:aws:s3:::{SITE}/private/*"}]}))
    s3.put_object(Bucket=SITE, Key="index.html", Body=b"<h1>cats</h1>", ContentType="text/html")
    s3.put_object(Bucket=SITE, Key="cats/tabby cat.mp4", Body=bytes(range(256)) * 4, ContentType="video/mp4")
    s3.put_object(Bucket=SITE, Key="private/a.txt", Body=b"secret")
    base = cloud["CATTUBE_CDN_ENDPOINT"].replace("://", f"://{dist['DomainName']}.")

    def get(path, headers=None, at=base):
        # As curl and browsers do, *.localhost is loopback (Python's resolver does not know it).
        url = urllib.parse.urlsplit(at)
        connection = http.client.HTTPConnection("127.0.0.1", url.port)
        connection.request("GET", path, headers={"Host": url.netloc, **(headers or {})})
        response = connection.getresponse()
        return response.status, dict(response.headers), response.read()

    status, headers, body = get("/")
    assert (status, headers["Content-Type"], body) == (200, "text/html", b"<h1>cats</h1>")
    status, headers, body = get("/cats/tabby%20cat.mp4", {"Range": "bytes=256-511"})
    assert status == 206 and headers["Content-Range"] == "bytes 256-511/1024" and body == bytes(range(256))
    assert headers["Content-Type"] == "video/mp4"
    assert get("/missing.mp4")[0] == 403  # the OAC may not list the bucket
    assert get("/private/a.txt")[0] == 403  # the bucket policy denies it
    # Another distribution's ARN is not the policy's AWS:SourceArn.
    other = cf.create_distribution(DistributionConfig={
        "CallerReference": "u", "Comment": "", "Enabled": True,
        "Origins": {"Quantity": 1, "Items": [{"Id": "o", "DomainName": f"{SITE}.s3.{REGION}.amazonaws.com",
                                               "OriginAccessControlId": oac,
                                               "S3OriginConfig": {"OriginAccessIdentity": ""}}]},
        "DefaultCacheBehavior": {"TargetOriginId": "o", "ViewerProtocolPolicy": "redirect-to-https",
                                 "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"}})["Distribution"]
    other_base = cloud["CATTUBE_CDN_ENDPOINT"].replace("://", f"://{other['DomainName']}.")
    assert get("/index.html", at=other_base)[0] == 403
    # curl, as a user would run it, reaches the distribution by its localhost name.
    fetched = subprocess.run(["curl", "-fsS", base + "/cats/tabby%20cat.mp4"], capture_output=True, check=True)
    assert fetched.stdout == bytes(range(256)) * 4


def _cloudfront_b64(data: bytes) -> str:
    import base64
    return base64.b64encode(data).decode().replace("+", "-").replace("=", "_").replace("/", "~")


def test_cloudfront_serves_a_behavior_trusting_a_key_group_only_signed(cloud):
    """A behavior with TrustedKeyGroups answers 403 unless a signed URL or signed cookies
    verify against a public key of the group (AWS's documented canned and custom policies,
    RSA-SHA1); another behavior without it stays public."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    s3, cf = client(cloud, "s3"), client(cloud, "cloudfront")
    bucket = "signed-site"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.public_key().public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    key_id = cf.create_public_key(PublicKeyConfig={"CallerReference": "k", "Name": "k", "EncodedKey": pem})["PublicKey"]["Id"]
    group = cf.create_key_group(KeyGroupConfig={"Name": "g", "Items": [key_id]})["KeyGroup"]["Id"]
    oac = cf.create_origin_access_control(OriginAccessControlConfig={
        "Name": "signed-oac", "SigningProtocol": "sigv4", "SigningBehavior": "always",
        "OriginAccessControlOriginType": "s3"})["OriginAccessControl"]["Id"]
    behavior = {"TargetOriginId": "o", "ViewerProtocolPolicy": "redirect-to-https",
                "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"}
    dist = cf.create_distribution(DistributionConfig={
        "CallerReference": "signed", "Comment": "", "Enabled": True,
        "Origins": {"Quantity": 1, "Items": [{"Id": "o", "DomainName": f"{bucket}.s3.{REGION}.amazonaws.com",
                                               "OriginAccessControlId": oac,
                                               "S3OriginConfig": {"OriginAccessIdentity": ""}}]},
        "CacheBehaviors": {"Quantity": 1, "Items": [{**behavior, "PathPattern": "index.html"}]},
        "DefaultCacheBehavior": {**behavior, "TrustedKeyGroups": {"Enabled": True, "Quantity": 1, "Items": [group]}},
    })["Distribution"]
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "cloudfront.amazonaws.com"}, "Action": "s3:GetObject",
         "Resource": f"arn:aws:s3:::{bucket}/*", "Condition": {"StringEquals": {"AWS:SourceArn": dist["ARN"]}}}]}))
    for key in ("index.html", "cats/a.mp4", "cats/a_00001.ts", "dogs/b.mp4"):
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    base = cloud["CATTUBE_CDN_ENDPOINT"].replace("://", f"://{dist['DomainName']}.")
    host = urllib.parse.urlsplit(base).netloc

    def get(path, cookie=None):
        connection = http.client.HTTPConnection("127.0.0.1", urllib.parse.urlsplit(base).port)
        connection.request("GET", path, headers={"Host": host, **({"Cookie": cookie} if cookie else {})})
        response = connection.getresponse()
        return response.status, response.read()

    def sign(policy: str) -> str:
        return _cloudfront_b64(private.sign(policy.encode(), padding.PKCS1v15(), hashes.SHA1()))

    def canned(path, expires):
        policy = '{"Statement":[{"Resource":"%s%s","Condition":{"DateLessThan":{"AWS:EpochTime":%d}}}]}' % (base, path, expires)
        return f"{path}?Expires={expires}&Signature={sign(policy)}&Key-Pair-Id={key_id}"

    later = int(time.time()) + 600
    assert get("/index.html") == (200, b"index.html")  # the public behavior
    status, body = get("/cats/a.mp4")
    assert status == 403 and b"MissingKey" in body
    assert get(canned("/cats/a.mp4", later)) == (200, b"cats/a.mp4")
    assert get(canned("/cats/a.mp4", int(time.time()) - 1))[0] == 403  # expired
    assert get(canned("/cats/a.mp4", later).replace(f"Expires={later}", f"Expires={later + 1}"))[0] == 403
    assert get(canned("/cats/a.mp4", later).replace("/cats/a.mp4?", "/dogs/b.mp4?"))[0] == 403
    policy = '{"Statement":[{"Resource":"%s/cats/a*","Condition":{"DateLessThan":{"AWS:EpochTime":%d}}}]}' % (base, later)
    cookie = (f"CloudFront-Policy={_cloudfront_b64(policy.encode())}; "
              f"CloudFront-Signature={sign(policy)}; CloudFront-Key-Pair-Id={key_id}")
    assert get("/cats/a_00001.ts", cookie) == (200, b"cats/a_00001.ts")
    assert get("/dogs/b.mp4", cookie)[0] == 403
    # A key outside the trusted group signs nothing.
    stray = cf.create_public_key(PublicKeyConfig={"CallerReference": "s", "Name": "s", "EncodedKey": pem})["PublicKey"]["Id"]
    assert get(canned("/cats/a.mp4", later).replace(key_id, stray))[0] == 403
def test_a_deny_naming_cloudfront_binds_cloudfront_only(cloud):
    """The destination bucket's policy denies CloudFront the converter's claims; on AWS that
    Deny names the service principal only, so the converter role (allowed by its identity
    policy) and the account owner still read them, as the handler does on a retry."""
    s3, iam, sts = client(cloud, "s3"), client(cloud, "iam"), client(cloud, "sts")
    bucket = "claims-bucket"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Principal": {"Service": "cloudfront.amazonaws.com"}, "Action": "s3:GetObject",
         "Resource": f"arn:aws:s3:::{bucket}/_cattube/claims/*"}]}))
    key = "_cattube/claims/token.json"
    s3.put_object(Bucket=bucket, Key=key, Body=b"{}")
    role = iam.create_role(RoleName="claims-reader", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": ACCOUNT},
                                                "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    iam.put_role_policy(RoleName="claims-reader", PolicyName="p", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
                                                "Resource": f"arn:aws:s3:::{bucket}/_cattube/claims/*"}]}))
    keys = sts.assume_role(RoleArn=role, RoleSessionName="reader")["Credentials"]
    as_role = boto3.client("s3", endpoint_url=cloud["AWS_ENDPOINT_URL"], region_name=REGION,
                           aws_access_key_id=keys["AccessKeyId"], aws_secret_access_key=keys["SecretAccessKey"],
                           aws_session_token=keys["SessionToken"])
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"{}"
    as_role.put_object(Bucket=bucket, Key=key, Body=b'{"state": "SUBMITTED"}')
    assert as_role.get_object(Bucket=bucket, Key=key)["Body"].read() == b'{"state": "SUBMITTED"}'
    # A Deny the role's principal does match still binds it.
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Principal": {"AWS": role}, "Action": "s3:GetObject",
         "Resource": f"arn:aws:s3:::{bucket}/_cattube/claims/*"}]}))
    with pytest.raises(as_role.exceptions.ClientError) as denied:
        as_role.get_object(Bucket=bucket, Key=key)
    assert denied.value.response["Error"]["Code"] == "AccessDenied"


def test_duplicate_s3_events_deliver_each_event_twice(tmp_path):
    proc, cloud = start_cloud(tmp_path, "--duplicate-s3-events")
    try:
        s3 = notified_function(cloud, "twice")
        s3.put_object(Bucket="twice-src", Key="once.mp4", Body=b"x")
        seen = wait_until("two deliveries", lambda: len(objects(cloud, "seen/")) == 2 and objects(cloud, "seen/"))
        first, second = (o["event"]["Records"][0] for o in seen)
        assert first == second  # the same event (same sequencer), delivered twice
    finally:
        stop_cloud(proc, tmp_path)


def test_object_tags_are_their_own_s3_actions():
    """The IAM middleware names a tagging request as AWS does (s3:PutObjectTagging, not
    s3:PutObject), so a role granted only tagging may tag, and one granted PutObject may not."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import cloud

    assert cloud.s3_actions("PUT", "/b/cats/k.mp4", {"tagging": ""}, {})[1] == [
        ("s3:PutObjectTagging", "arn:aws:s3:::b/cats/k.mp4", {})]
    assert cloud.s3_actions("GET", "/b/cats/k.mp4", {"tagging": ""}, {})[1] == [
        ("s3:GetObjectTagging", "arn:aws:s3:::b/cats/k.mp4", {})]
    assert cloud.s3_actions("GET", "/b/cats/k.mp4", {}, {})[1] == [("s3:GetObject", "arn:aws:s3:::b/cats/k.mp4", {})]
