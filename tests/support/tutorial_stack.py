"""Builds the console tutorial's stack (../shared/tutorial.md, stages 1-7) with boto3, making
the requests the AWS console makes for each of the tutorial's clicks, so that
`cattube adopt --from-tutorial` meets what a tutorial user has.

Against the endpoints in the environment (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_MEDIACONVERT)
and AWS_REGION. What the console does that the tutorial leaves at its defaults:

- S3 (stages 1, 2): CreateBucket with ObjectOwnership=BucketOwnerEnforced, then the
  public-access block (all four on) and SSE-S3 default encryption, the console's defaults
  for a new bucket (AWS applies them to every new bucket; the emulator does not, so they
  are written here).
- MediaConvert (stage 3): CreateQueue with the name only (on-demand pricing).
- Lambda (stage 4): "Author from scratch" makes the execution role
  `<function>-role-<8 random>` under path /service-role/ trusting lambda.amazonaws.com,
  with a customer-managed policy `AWSLambdaBasicExecutionRole-<uuid>` (CloudWatch Logs),
  then the function: Python 3.9, x86_64, 128 MB, 3 s, handler
  lambda_function.lambda_handler, the tutorial's code (destination bucket replaced, as it
  says) and its job.json (tests/support/tutorial/, copied from the tutorial verbatim).
- IAM (stage 5): MediaConvert_Default_Role trusting mediaconvert.amazonaws.com with
  AmazonS3FullAccess and AmazonAPIGatewayInvokeFullAccess attached, and
  AWSElementalMediaConvertFullAccess attached to the function's role.
- CloudFront (stage 6): an origin access control with the console's defaults (named
  after the origin's domain, sigv4, always, s3), a distribution whose origin
  `cattube-origin` is the destination bucket's regional domain through that OAC, viewer
  protocol redirect-to-https, the console's defaults otherwise (CachingOptimized, GET/HEAD,
  HTTP/2, IPv6, all edge locations, no default root object), and the "Copy policy" bucket
  policy pasted into the destination bucket.
- S3 (stage 7): the invoke permission the console adds when a bucket's event targets a
  function (statement id `lambda-<uuid>`), and the event `cattube-notifications` for all
  object create events, no prefix or suffix.

Usage: tutorial_stack.py [--source N] [--destination N] [--queue N] [--function N]
       [--videos KEY...]   (each video uploaded with its two outputs, as stage 8 makes)
Prints one JSON line: what was made (ids and names a test compares against).
"""

import argparse
import io
import json
import os
import pathlib
import random
import string
import uuid
import zipfile

import boto3

HERE = pathlib.Path(__file__).parent / "tutorial"
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
SHARED_ROLE = "MediaConvert_Default_Role"


def trust(service):
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": service},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )


def bucket(s3, name, region):
    kwargs = {"Bucket": name, "ObjectOwnership": "BucketOwnerEnforced"}
    if region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
    s3.create_bucket(**kwargs)
    s3.put_public_access_block(
        Bucket=name,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_encryption(
        Bucket=name,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
                    "BucketKeyEnabled": True,
                }
            ]
        },
    )


def managed_policy(iam, name):
    """An AWS managed policy's ARN, created in the emulator when it does not know it (AWS
    has every one)."""
    arn = f"arn:aws:iam::aws:policy/{name}"
    try:
        iam.get_policy(PolicyArn=arn)
    except iam.exceptions.NoSuchEntityException:
        raise SystemExit(f"the emulator does not know the AWS managed policy {name}")
    return arn


def function_zip(destination, queue):
    code = (HERE / "lambda_function.py").read_text()
    # "Replace the destination_bucket variable with the destination bucket name you chose."
    code = code.replace("'cattube-destination'", repr(destination))
    code = code.replace("queues/catqueue", f"queues/{queue}")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("lambda_function.py", code)
        z.writestr("job.json", (HERE / "job.json").read_text())
    return buf.getvalue()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--source", default="cattube-source")
    p.add_argument("--destination", default="cattube-destination")
    p.add_argument("--queue", default="catqueue")
    p.add_argument("--function", default="cattube-converter-function")
    p.add_argument("--videos", nargs="*", default=[])
    p.add_argument("--second-distribution", action="store_true")
    a = p.parse_args()
    region = os.environ["AWS_REGION"]
    s3 = boto3.client("s3", region_name=region)
    iam = boto3.client("iam", region_name=region)
    lam = boto3.client("lambda", region_name=region)
    mc = boto3.client("mediaconvert", region_name=region)
    cf = boto3.client("cloudfront", region_name=region)
    account = boto3.client("sts", region_name=region).get_caller_identity()["Account"]

    # Stages 1 and 2.
    bucket(s3, a.source, region)
    bucket(s3, a.destination, region)
    # Stage 3.
    queue_arn = mc.create_queue(Name=a.queue)["Queue"]["Arn"]

    # Stage 4: the console's execution role, then the function.
    suffix = "".join(random.choices(string.ascii_lowercase + string.digits, k=8))
    role_name = f"{a.function}-role-{suffix}"
    role_arn = iam.create_role(
        RoleName=role_name,
        Path="/service-role/",
        AssumeRolePolicyDocument=trust("lambda.amazonaws.com"),
    )["Role"]["Arn"]
    logs = iam.create_policy(
        PolicyName=f"AWSLambdaBasicExecutionRole-{uuid.uuid4()}",
        Path="/service-role/",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "logs:CreateLogGroup",
                        "Resource": f"arn:aws:logs:{region}:{account}:*",
                    },
                    {
                        "Effect": "Allow",
                        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                        "Resource": [
                            f"arn:aws:logs:{region}:{account}:log-group:/aws/lambda/{a.function}:*"
                        ],
                    },
                ],
            }
        ),
    )["Policy"]["Arn"]
    iam.attach_role_policy(RoleName=role_name, PolicyArn=logs)
    function_arn = lam.create_function(
        FunctionName=a.function,
        Runtime="python3.9",
        Architectures=["x86_64"],
        Role=role_arn,
        Handler="lambda_function.lambda_handler",
        Code={"ZipFile": function_zip(a.destination, a.queue)},
        MemorySize=128,
        Timeout=3,
    )["FunctionArn"]

    # Stage 5.
    shared = None
    try:
        shared = iam.get_role(RoleName=SHARED_ROLE)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        shared = iam.create_role(
            RoleName=SHARED_ROLE,
            AssumeRolePolicyDocument=trust("mediaconvert.amazonaws.com"),
        )["Role"]["Arn"]
        for policy in ["AmazonS3FullAccess", "AmazonAPIGatewayInvokeFullAccess"]:
            iam.attach_role_policy(RoleName=SHARED_ROLE, PolicyArn=managed_policy(iam, policy))
    iam.attach_role_policy(
        RoleName=role_name,
        PolicyArn=managed_policy(iam, "AWSElementalMediaConvertFullAccess"),
    )

    # Stage 6.
    origin_domain = f"{a.destination}.s3.{region}.amazonaws.com"
    oac = cf.create_origin_access_control(
        OriginAccessControlConfig={
            "Name": origin_domain,
            "Description": "",
            "SigningProtocol": "sigv4",
            "SigningBehavior": "always",
            "OriginAccessControlOriginType": "s3",
        }
    )["OriginAccessControl"]["Id"]

    def distribution(reference):
        return cf.create_distribution(
            DistributionConfig={
                "CallerReference": reference,
                "Comment": "",
                "Enabled": True,
                "Origins": {
                    "Quantity": 1,
                    "Items": [
                        {
                            "Id": "cattube-origin",
                            "DomainName": origin_domain,
                            "OriginPath": "",
                            "S3OriginConfig": {"OriginAccessIdentity": ""},
                            "OriginAccessControlId": oac,
                        }
                    ],
                },
                "DefaultCacheBehavior": {
                    "TargetOriginId": "cattube-origin",
                    "ViewerProtocolPolicy": "redirect-to-https",
                    "AllowedMethods": {
                        "Quantity": 2,
                        "Items": ["GET", "HEAD"],
                        "CachedMethods": {"Quantity": 2, "Items": ["GET", "HEAD"]},
                    },
                    "CachePolicyId": CACHING_OPTIMIZED,
                    "Compress": True,
                },
                "HttpVersion": "http2",
                "IsIPV6Enabled": True,
                "PriceClass": "PriceClass_All",
            }
        )["Distribution"]

    dist = distribution(str(uuid.uuid4()))
    s3.put_bucket_policy(
        Bucket=a.destination,
        Policy=json.dumps(
            {
                "Version": "2008-10-17",
                "Id": "PolicyForCloudFrontPrivateContent",
                "Statement": [
                    {
                        "Sid": "AllowCloudFrontServicePrincipal",
                        "Effect": "Allow",
                        "Principal": {"Service": "cloudfront.amazonaws.com"},
                        "Action": "s3:GetObject",
                        "Resource": f"arn:aws:s3:::{a.destination}/*",
                        "Condition": {"StringEquals": {"AWS:SourceArn": dist["ARN"]}},
                    }
                ],
            }
        ),
    )
    second = distribution(str(uuid.uuid4())) if a.second_distribution else None

    # Stage 7.
    lam.add_permission(
        FunctionName=a.function,
        StatementId=f"lambda-{uuid.uuid4()}",
        Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com",
        SourceArn=f"arn:aws:s3:::{a.source}",
        SourceAccount=account,
    )
    s3.put_bucket_notification_configuration(
        Bucket=a.source,
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [
                {
                    "Id": "cattube-notifications",
                    "LambdaFunctionArn": function_arn,
                    "Events": ["s3:ObjectCreated:*"],
                }
            ]
        },
    )

    # Stage 8, already done: videos and the outputs MediaConvert made of them.
    for key in a.videos:
        stem = key.rsplit(".", 1)[0]
        s3.put_object(Bucket=a.source, Key=key, Body=os.urandom(2048), ContentType="video/mp4")
        for modifier in ["-hd", "-sd"]:
            s3.put_object(
                Bucket=a.destination, Key=f"{stem}{modifier}.mp4", Body=os.urandom(1024)
            )

    print(
        json.dumps(
            {
                "account": account,
                "queue_arn": queue_arn,
                "function_arn": function_arn,
                "function_role": role_name,
                "shared_role": shared,
                "oac_id": oac,
                "oac_name": origin_domain,
                "distribution_id": dist["Id"],
                "distribution_domain": dist["DomainName"],
                "second_distribution_id": second and second["Id"],
            }
        )
    )


if __name__ == "__main__":
    main()
