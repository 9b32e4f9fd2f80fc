"""Constants shared by conftest.py and the tests (a uniquely named module, so
`import conftest` never picks up another directory's conftest)."""

REGION = "ap-southeast-2"
ACCOUNT = "123456789012"
FUNCTION_ENV = {
    "DESTINATION_BUCKET": f"cattube-destination-{ACCOUNT}-{REGION}",
    "JOB_TEMPLATE": "cattube-job",
    "QUEUE_ARN": f"arn:aws:mediaconvert:{REGION}:{ACCOUNT}:queues/cattube-queue",
    "MEDIACONVERT_ROLE_ARN": f"arn:aws:iam::{ACCOUNT}:role/cattube-{REGION}-mediaconvert",
    "STACK": "cattube",
}
