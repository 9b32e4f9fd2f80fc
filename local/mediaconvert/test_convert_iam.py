"""The job's role decides what a converted job may read and write (IAM enforced by moto).

moto enforces IAM once INITIAL_NO_AUTH_ACTION_COUNT requests have been served: the first
three create the account's admin user and its key, and every later request (the stand-in's
AssumeRole and PutEvents, the role's S3 calls) is checked against IAM policies.

Test setup correction (tests/support's rule: the product follows AWS, the setup adapts):
on AWS the MediaConvert service principal assumes the role; the local MediaConvert calls
AssumeRole with the account's credentials, and moto checks the trust policy against the
caller, so the roles here also trust the admin user besides mediaconvert.amazonaws.com.
"""
import json

import pytest

import test_convert as base

ADMIN = "arn:aws:iam::123456789012:user/admin"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    moto, values = base.start_moto(tmp_path_factory.mktemp("moto"), {"INITIAL_NO_AUTH_ACTION_COUNT": "3"})
    iam = base.clients(values)("iam")
    iam.create_user(UserName="admin")
    iam.put_user_policy(UserName="admin", PolicyName="all", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    key = iam.create_access_key(UserName="admin")["AccessKey"]
    values.update(AWS_ACCESS_KEY_ID=key["AccessKeyId"], AWS_SECRET_ACCESS_KEY=key["SecretAccessKey"])
    yield values
    base.stop(moto)


@pytest.fixture(scope="module")
def aws(env):
    return base.clients(env)


@pytest.fixture(scope="module")
def roles(aws, env, tmp_path_factory):
    """Buckets, the clip, and three roles: may read the source and write the destination,
    may only write, may only read."""
    s3, iam = aws("s3"), aws("iam")
    for bucket in (base.SOURCE, base.DEST):
        s3.create_bucket(Bucket=bucket)
    s3.upload_file(str(base.make_clip(tmp_path_factory.mktemp("clip"))), base.SOURCE, base.KEY)
    read = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{base.SOURCE}/*"}
    write = {"Effect": "Allow", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{base.DEST}/*"}
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "mediaconvert.amazonaws.com", "AWS": ADMIN},
        "Action": "sts:AssumeRole"}]}
    arns = {}
    for name, statements in {"read-write": [read, write], "write-only": [write], "read-only": [read]}.items():
        arns[name] = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        iam.put_role_policy(RoleName=name, PolicyName="s3", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": statements}))
    return arns


@pytest.fixture(scope="module")
def mc(env, tmp_path_factory):
    proc, endpoint = base.start_standin(env, tmp_path_factory.mktemp("standin") / "standin.log")
    yield base.mediaconvert(endpoint)
    base.stop(proc)


def test_a_role_that_may_read_and_write_converts(mc, aws, roles):
    job = base.submit(mc, {}, "tutorial", role=roles["read-write"])
    job, _ = base.wait_job(mc, job["Id"])
    assert job["Status"] == "COMPLETE", (job.get("ErrorCode"), job.get("ErrorMessage"))
    keys = [o["Key"] for o in aws("s3").list_objects_v2(Bucket=base.DEST)["Contents"]]
    assert sorted(keys) == ["cats/tabby cat (1)-hd.mp4", "cats/tabby cat (1)-sd.mp4"]


def test_a_role_that_may_not_read_the_source_errors_with_1010(mc, roles):
    job = base.submit(mc, {}, "tutorial", role=roles["write-only"])
    job, _ = base.wait_job(mc, job["Id"])
    assert job["Status"] == "ERROR" and job["ErrorCode"] == 1010, job.get("ErrorMessage")
    assert job["ErrorMessage"] == (f"Unable to open input file [s3://{base.SOURCE}/{base.KEY}]: "
                                   "[Failed probe/open: [Failed to read data: Access Denied]]")


def test_a_role_that_may_not_write_the_destination_errors_with_3450(mc, roles):
    job = base.submit(mc, {}, "tutorial", role=roles["read-only"])
    job, _ = base.wait_job(mc, job["Id"])
    assert job["Status"] == "ERROR" and job["ErrorCode"] == 3450, job.get("ErrorMessage")
    assert job["ErrorMessage"].startswith(f"Unable to write to output file [s3://{base.DEST}/cats/tabby cat (1)-")
    assert job["ErrorMessage"].endswith(": [Failed to write data: Access Denied]")
