"""The IAM checker itself: the evaluator on AWS's documented examples (IAM User Guide,
"Policy evaluation logic" and "IAM JSON policy elements: Condition operators"), and the
reference checks catching what they must catch. cattube's real documents are checked by
tests/real_aws.rs (`iam_documents_match_the_reference_and_allow_only_the_pipeline`)."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import iam_check  # noqa: E402
from iam_check import Request, evaluate, validate  # noqa: E402

USER = {"AWS": "arn:aws:iam::123456789012:user/alice"}
BUCKET = "amzn-s3-demo-bucket"


def policy(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action, resource, **extra):
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


# --------------------------------------------------------------------------------------
# Evaluation logic


def test_default_deny_and_explicit_deny_overrides_allow():
    """"By default, all requests are implicitly denied"; "an explicit deny in any policy
    overrides any allows"."""
    read = Request(USER, "s3:GetObject", f"arn:aws:s3:::{BUCKET}/a.txt")
    assert evaluate(read, [], []) == "deny"
    granted = policy(allow("s3:GetObject", f"arn:aws:s3:::{BUCKET}/*"))
    assert evaluate(read, [granted]) == "allow"
    denied = policy({"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": f"arn:aws:s3:::{BUCKET}/*"})
    assert evaluate(read, [granted], [denied]) == "deny"


def test_same_account_resource_policy_alone_allows():
    """Within one account, an Allow in a resource-based policy is enough."""
    read = Request(USER, "s3:GetObject", f"arn:aws:s3:::{BUCKET}/a.txt")
    bucket_policy = policy(allow("s3:GetObject", f"arn:aws:s3:::{BUCKET}/*", Principal=USER))
    assert evaluate(read, [], [bucket_policy]) == "allow"
    other = Request({"AWS": "arn:aws:iam::123456789012:user/bob"}, "s3:GetObject", read.resource)
    assert evaluate(other, [], [bucket_policy]) == "deny"


def test_wildcards_in_actions_are_case_insensitive_and_resources_are_not():
    p = policy(allow("s3:Get*", f"arn:aws:s3:::{BUCKET}/*"))
    assert evaluate(Request(USER, "s3:getobject", f"arn:aws:s3:::{BUCKET}/x"), [p]) == "allow"
    assert evaluate(Request(USER, "s3:PutObject", f"arn:aws:s3:::{BUCKET}/x"), [p]) == "deny"
    # The bucket itself is not one of its objects.
    assert evaluate(Request(USER, "s3:GetObject", f"arn:aws:s3:::{BUCKET}"), [p]) == "deny"
    assert evaluate(Request(USER, "s3:GetObject", f"arn:aws:s3:::{BUCKET.upper()}/x"), [p]) == "deny"


def test_secure_transport_deny():
    """The documented bucket policy that denies every request not sent over TLS."""
    tls_only = policy({"Effect": "Deny", "Principal": "*", "Action": "s3:*",
                       "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"],
                       "Condition": {"Bool": {"aws:SecureTransport": "false"}}})
    grant = policy(allow("s3:GetObject", f"arn:aws:s3:::{BUCKET}/*"))
    over_tls = Request(USER, "s3:GetObject", f"arn:aws:s3:::{BUCKET}/x", {"aws:SecureTransport": "true"})
    plain = Request(USER, "s3:GetObject", f"arn:aws:s3:::{BUCKET}/x", {"aws:SecureTransport": "false"})
    assert evaluate(over_tls, [grant], [tls_only]) == "allow"
    assert evaluate(plain, [grant], [tls_only]) == "deny"


def test_values_of_a_key_are_or_keys_and_operators_are_and():
    """"If a single condition operator includes multiple values for a context key, they
    are evaluated using a logical OR"; several keys or operators, a logical AND."""
    p = policy(allow("s3:ListBucket", "*", Condition={
        "StringEquals": {"aws:PrincipalTag/department": ["finance", "hr"]},
        "Bool": {"aws:MultiFactorAuthPresent": "true"}}))
    ok = {"aws:PrincipalTag/department": "hr", "aws:MultiFactorAuthPresent": "true"}
    assert evaluate(Request(USER, "s3:ListBucket", "arn:aws:s3:::b", ok), [p]) == "allow"
    no_mfa = dict(ok, **{"aws:MultiFactorAuthPresent": "false"})
    assert evaluate(Request(USER, "s3:ListBucket", "arn:aws:s3:::b", no_mfa), [p]) == "deny"
    legal = dict(ok, **{"aws:PrincipalTag/department": "legal"})
    assert evaluate(Request(USER, "s3:ListBucket", "arn:aws:s3:::b", legal), [p]) == "deny"


def test_missing_keys_ifexists_and_null():
    """A missing key makes a condition false, except with ...IfExists (true) and Null."""
    p = policy(allow("ec2:RunInstances", "*", Condition={
        "StringLikeIfExists": {"ec2:InstanceType": ["t1.*", "t2.*", "m3.*"]}}))
    assert evaluate(Request(USER, "ec2:RunInstances", "arn:aws:ec2:us-east-1:123456789012:instance/i-1"), [p]) == "allow"
    big = {"ec2:InstanceType": "p4d.24xlarge"}
    assert evaluate(Request(USER, "ec2:RunInstances", "arn:aws:ec2:us-east-1:123456789012:instance/i-1", big), [p]) == "deny"
    strict = policy(allow("ec2:RunInstances", "*", Condition={"StringLike": {"ec2:InstanceType": "t2.*"}}))
    assert evaluate(Request(USER, "ec2:RunInstances", "arn:aws:ec2:us-east-1:123456789012:instance/i-1"), [strict]) == "deny"
    long_term = policy(allow("s3:ListBucket", "*", Condition={"Null": {"aws:TokenIssueTime": "true"}}))
    assert evaluate(Request(USER, "s3:ListBucket", "arn:aws:s3:::b"), [long_term]) == "allow"
    temporary = Request(USER, "s3:ListBucket", "arn:aws:s3:::b", {"aws:TokenIssueTime": "2026-12-01T00:00:00Z"})
    assert evaluate(temporary, [long_term]) == "deny"


def test_confused_deputy_source_arn_and_account():
    """The documented service-principal grant with aws:SourceArn (ArnLike) and
    aws:SourceAccount, as Lambda writes it for S3."""
    p = policy({"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "lambda:InvokeFunction",
                "Resource": "arn:aws:lambda:us-east-1:123456789012:function:my-function",
                "Condition": {"StringEquals": {"AWS:SourceAccount": "123456789012"},
                              "ArnLike": {"AWS:SourceArn": f"arn:aws:s3:::{BUCKET}"}}})
    call = lambda arn, account: Request(  # noqa: E731
        {"Service": "s3.amazonaws.com"}, "lambda:InvokeFunction",
        "arn:aws:lambda:us-east-1:123456789012:function:my-function",
        {"aws:SourceArn": arn, "aws:SourceAccount": account})
    assert evaluate(call(f"arn:aws:s3:::{BUCKET}", "123456789012"), [], [p]) == "allow"
    assert evaluate(call("arn:aws:s3:::other", "123456789012"), [], [p]) == "deny"
    assert evaluate(call(f"arn:aws:s3:::{BUCKET}", "111122223333"), [], [p]) == "deny"


def test_string_not_equals_with_a_missing_key_matches():
    """Negated operators match when the key is absent."""
    p = policy({"Effect": "Deny", "Action": "*", "Resource": "*",
                "Condition": {"StringNotEquals": {"aws:RequestedRegion": ["eu-west-1"]}}},
               allow("s3:ListBucket", "*"))
    assert evaluate(Request(USER, "s3:ListBucket", "arn:aws:s3:::b", {"aws:RequestedRegion": "eu-west-1"}), [p]) == "allow"
    assert evaluate(Request(USER, "s3:ListBucket", "arn:aws:s3:::b", {"aws:RequestedRegion": "us-east-1"}), [p]) == "deny"
    assert evaluate(Request(USER, "s3:ListBucket", "arn:aws:s3:::b"), [p]) == "deny"


# --------------------------------------------------------------------------------------
# Against the reference

QUEUE = "arn:aws:mediaconvert:eu-west-1:123456789012:queues/cattube-queue"
TEMPLATE = "arn:aws:mediaconvert:eu-west-1:123456789012:jobTemplates/cattube-job"


def test_a_broad_deny_is_checked_like_the_actions_it_covers():
    tls_only = policy({"Effect": "Deny", "Principal": "*", "Action": "s3:*",
                       "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
                       "Condition": {"Bool": {"aws:SecureTransport": "false"}}})
    assert validate(tls_only, "p") == []
    wrong = policy({"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s4:::b/*"})
    assert "matches no resource type" in validate(wrong, "p")[0]


def test_a_correct_policy_has_no_problems():
    p = policy(allow("mediaconvert:CreateJob", [QUEUE, TEMPLATE]),
               allow("iam:PassRole", "arn:aws:iam::123456789012:role/mc",
                     Condition={"StringEquals": {"iam:PassedToService": "mediaconvert.amazonaws.com"}}),
               allow(["logs:CreateLogStream", "logs:PutLogEvents"],
                     "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/fn:*"),
               {"Effect": "Allow", "Principal": {"Service": "cloudfront.amazonaws.com"}, "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::b/*",
                "Condition": {"StringEquals": {"AWS:SourceArn": "arn:aws:cloudfront::123456789012:distribution/E1"}}})
    assert validate(p, "p") == []


@pytest.mark.parametrize(("statement", "problem"), [
    # misspelled ARN: "queue/" is no MediaConvert resource type
    (allow("mediaconvert:CreateJob", QUEUE.replace("queues/", "queue/")), "matches no resource type"),
    # an S3 object ARN with a missing colon
    (allow("s3:GetObject", "arn:aws:s3::b/*"), "matches no resource type"),
    # a resource of a type the action does not take (a queue for GetJobTemplate)
    (allow("mediaconvert:GetJobTemplate", QUEUE), "matches no resource type"),
    # PutLogEvents takes only log streams; a bare log group ARN names none
    (allow("logs:PutLogEvents", "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/fn"),
     "matches no resource type"),
    (allow("mediaconvert:CreateJobs", QUEUE), "does not exist"),
    (allow("iam:PassRole", "arn:aws:iam::123456789012:role/mc",
           Condition={"StringEquals": {"iam:PassedToServices": "mediaconvert.amazonaws.com"}}), "condition key"),
    (allow("iam:PassRole", "*"), "on *"),
    (allow("s3:*", "arn:aws:s3:::b/*"), "wildcard action"),
    ({"Effect": "Deny", "Principal": "*", "Action": "s3:Gett*", "Resource": "arn:aws:s3:::b/*"}, "matches no action"),
])
def test_the_reference_catches(statement, problem):
    problems = validate(policy(statement), "p")
    assert problems and problem in problems[0], problems


def test_globs_intersect():
    assert iam_check.globs_intersect("arn:aws:logs:r:a:log-group:/aws/lambda/fn:*",
                                     "arn:*:logs:*:*:log-group:*:log-stream:*")
    assert not iam_check.globs_intersect("arn:aws:logs:r:a:log-group:/aws/lambda/fn",
                                         "arn:*:logs:*:*:log-group:*:log-stream:*")
    assert iam_check.globs_intersect("a?c", "abc") and not iam_check.globs_intersect("a?c", "abd")


# --------------------------------------------------------------------------------------
# ARN operators and Resource matching: component by component (IAM User Guide,
# "Condition operators": "Each of the six colon-delimited components of the ARN is checked
# separately and each can include multi-character match wildcards (*) or single-character
# match wildcards (?)"; ArnEquals and ArnLike share that description).


def _source_arn_policy(operator, pattern):
    return policy({"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
                   "Action": "lambda:InvokeFunction",
                   "Resource": "arn:aws:lambda:us-east-1:123456789012:function:my-function",
                   "Condition": {operator: {"aws:SourceArn": pattern}}})


def _invoked_for(source_arn):
    return Request({"Service": "events.amazonaws.com"}, "lambda:InvokeFunction",
                   "arn:aws:lambda:us-east-1:123456789012:function:my-function", {"aws:SourceArn": source_arn})


@pytest.mark.parametrize("operator", ["ArnEquals", "ArnLike"])
def test_arn_operators_take_wildcards_within_a_component(operator):
    p = _source_arn_policy(operator, "arn:aws:events:*:123456789012:rule/cats-*")
    assert evaluate(_invoked_for("arn:aws:events:eu-west-1:123456789012:rule/cats-jobs"), [], [p]) == "allow"
    assert evaluate(_invoked_for("arn:aws:events:eu-west-1:123456789012:rule/dogs-jobs"), [], [p]) == "deny"


@pytest.mark.parametrize("operator", ["ArnEquals", "ArnLike"])
def test_an_arn_wildcard_does_not_cross_into_the_next_component(operator):
    # As one glob, "*" would swallow "eu-west-1:999999999999" and let another account's rule in.
    p = _source_arn_policy(operator, "arn:aws:events:*:123456789012:rule/cats")
    other = "arn:aws:events:eu-west-1:999999999999:123456789012:rule/cats"
    assert evaluate(_invoked_for(other), [], [p]) == "deny"
    negated = policy({"Effect": "Deny", "Principal": "*", "Action": "lambda:InvokeFunction", "Resource": "*",
                      "Condition": {operator.replace("Arn", "ArnNot"): {
                          "aws:SourceArn": "arn:aws:events:*:123456789012:rule/cats"}}})
    assert evaluate(_invoked_for(other), [], [p, negated]) == "deny"


def test_a_resource_wildcard_does_not_cross_components():
    p = policy(allow("sns:Publish", "arn:aws:sns:*:123456789012:jobs"))
    assert evaluate(Request(USER, "sns:Publish", "arn:aws:sns:eu-west-1:123456789012:jobs"), [p]) == "allow"
    assert evaluate(Request(USER, "sns:Publish", "arn:aws:sns:eu-west-1:999999999999:123456789012:jobs"),
                    [p]) == "deny"
    # The resource component is the rest of the ARN, colons included.
    logs = policy(allow("logs:PutLogEvents", "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/fn:*"))
    stream = "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/fn:log-stream:2026/12/01/[$LATEST]ab"
    assert evaluate(Request(USER, "logs:PutLogEvents", stream), [logs]) == "allow"


def test_not_principal_applies_to_everyone_else_and_is_flagged():
    """A Deny with NotPrincipal denies every principal it does not name (IAM User Guide,
    "NotPrincipal"); the reference check flags it, as AWS advises against it."""
    bob = {"AWS": "arn:aws:iam::123456789012:user/bob"}
    bucket_policy = policy(
        allow("s3:GetObject", f"arn:aws:s3:::{BUCKET}/*", Principal={"AWS": [USER["AWS"], bob["AWS"]]}),
        {"Effect": "Deny", "NotPrincipal": USER, "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/*"})
    assert evaluate(Request(USER, "s3:GetObject", f"arn:aws:s3:::{BUCKET}/a"), [], [bucket_policy]) == "allow"
    assert evaluate(Request(bob, "s3:GetObject", f"arn:aws:s3:::{BUCKET}/a"), [], [bucket_policy]) == "deny"
    problems = validate(bucket_policy, "p")
    assert any("NotPrincipal" in p for p in problems), problems
