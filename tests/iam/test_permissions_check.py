"""The request → operation → IAM action mapping of permissions_check.py, on requests as the
proxy records them (path-style S3, REST paths, query-protocol actions)."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from permissions_check import actions_of, operation  # noqa: E402


def call(service, method, path, query="", action=""):
    return {"service": service, "method": method, "path": path, "query": query, "action": action}


@pytest.mark.parametrize("request_, actions", [
    (call("s3", "HEAD", "/b"), ["s3:ListBucket"]),
    (call("s3", "HEAD", "/b/k.mp4"), ["s3:GetObject"]),
    (call("s3", "GET", "/b", "notification="), ["s3:GetBucketNotification"]),
    (call("s3", "PUT", "/b", "notification="), ["s3:PutBucketNotification"]),
    (call("s3", "PUT", "/b", "encryption="), ["s3:PutEncryptionConfiguration"]),
    (call("s3", "GET", "/b", "versions="), ["s3:ListBucketVersions"]),
    (call("s3", "PUT", "/b/k.mp4", "x-id=UploadPart&partNumber=1&uploadId=u"), ["s3:PutObject"]),
    (call("s3", "POST", "/b/k.mp4", "uploads=&x-id=CreateMultipartUpload"), ["s3:PutObject"]),
    (call("lambda", "GET", "/2015-03-31/functions/f"), ["lambda:GetFunction"]),
    (call("lambda", "GET", "/2015-03-31/functions/f/configuration"), ["lambda:GetFunctionConfiguration"]),
    (call("cloudfront", "POST", "/2020-05-31/distribution", "WithTags="),
     ["cloudfront:CreateDistribution", "cloudfront:TagResource"]),
    (call("mediaconvert", "GET", "/2017-08-29/queues/q"), ["mediaconvert:GetQueue"]),
    (call("iam", "POST", "/", action="GetRole"), ["iam:GetRole"]),
    (call("sts", "POST", "/", action="GetCallerIdentity"), ["sts:GetCallerIdentity"]),
])
def test_requests_map_to_their_actions(request_, actions):
    assert actions_of(request_) == actions


def test_an_unknown_request_is_no_operation():
    assert operation(call("lambda", "PATCH", "/nowhere")) is None


@pytest.mark.parametrize("request_, action, arn", [
    (call("s3", "GET", "/b", "notification="), "s3:GetBucketNotification", "arn:aws:s3:::b"),
    (call("s3", "PUT", "/b/cats/k.mp4", "x-id=PutObject"), "s3:PutObject", "arn:aws:s3:::b/cats/k.mp4"),
    (call("s3", "POST", "/b", "delete="), "s3:DeleteObject", "arn:aws:s3:::b/*"),
    (dict(call("iam", "POST", "/", action="GetRole"), operation="iam POST / GetRole RoleName=r"),
     "iam:GetRole", "arn:aws:iam::1:role/r"),
    (call("lambda", "GET", "/2015-03-31/functions/f/policy"), "lambda:GetPolicy",
     "arn:aws:lambda:eu-west-1:1:function:f"),
    (call("mediaconvert", "GET", "/2017-08-29/jobs", "queue=q&status=SUBMITTED"), "mediaconvert:ListJobs",
     "arn:aws:mediaconvert:eu-west-1:1:queues/q"),
    (call("mediaconvert", "GET", "/2017-08-29/tags/arn%3Aaws%3Amediaconvert%3Aeu-west-1%3A1%3Aqueues%2Fq"),
     "mediaconvert:ListTagsForResource", "arn:aws:mediaconvert:eu-west-1:1:queues/q"),
    (call("cloudfront", "GET", "/2020-05-31/distribution/E1/config"), "cloudfront:GetDistributionConfig",
     "arn:aws:cloudfront::1:distribution/E1"),
    (call("cloudfront", "GET", "/2020-05-31/distribution"), "cloudfront:ListDistributions", "*"),
    (call("lambda", "POST", "/2015-03-31/functions"), "iam:PassRole", None),
])
def test_requests_name_their_resource(request_, action, arn):
    from permissions_check import resource_of
    assert resource_of(request_, action, "1", "eu-west-1") == arn
