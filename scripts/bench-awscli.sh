#!/usr/bin/env bash
# The baseline of the benchmark (BENCHMARKS.md): the tutorial's stages 1-7 done with the
# AWS CLI, one command after another as a shell script does them, with the same resources
# and settings cattube uses; and stage 9, removing them again, in reverse.
#
#   scripts/bench-awscli.sh install   # .bench-venv with the pinned AWS CLI (idempotent)
#   scripts/bench-awscli.sh up        # stages 1-7
#   scripts/bench-awscli.sh down      # stage 9
#
# Meant to be run by `examples/bench.rs` against the local emulators: it needs
# AWS_ENDPOINT_URL (and AWS_ENDPOINT_URL_MEDIACONVERT), AWS_REGION and credentials in the
# environment and refuses to run without an endpoint, so it never reaches real AWS.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.bench-venv"
AWSCLI_VERSION=1.46.2

if [ "${1:-}" = install ]; then
  if [ "$("$venv/bin/aws" --version 2>&1 | cut -d' ' -f1)" != "aws-cli/$AWSCLI_VERSION" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "awscli==$AWSCLI_VERSION"
  fi
  exit 0
fi

: "${AWS_ENDPOINT_URL:?set AWS_ENDPOINT_URL: this script only talks to a local emulator}"
: "${AWS_ENDPOINT_URL_MEDIACONVERT:?set AWS_ENDPOINT_URL_MEDIACONVERT}"
export AWS_DEFAULT_REGION=$AWS_REGION # the AWS CLI v1 reads only this one
aws() { "$venv/bin/aws" --output json "$@"; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

stack=cattube
region=$AWS_REGION
account=$(aws sts get-caller-identity --query Account --output text)
source_bucket=$stack-source-$account-$region
destination_bucket=$stack-destination-$account-$region
queue=$stack-queue
template=$stack-job
mediaconvert_role=$stack-$region-mediaconvert
converter_role=$stack-$region-converter
function=$stack-converter
oac=$stack-$region-oac
s3_tags="TagSet=[{Key=cattube:stack,Value=$stack},{Key=cattube:region,Value=$region},{Key=managed-by,Value=cattube}]"
iam_tags="Key=cattube:stack,Value=$stack Key=cattube:region,Value=$region Key=managed-by,Value=cattube"
map_tags="cattube:stack=$stack,cattube:region=$region,managed-by=cattube"
tls_statement() {
  printf '{"Sid":"cattube-deny-insecure-transport","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::%s","arn:aws:s3:::%s/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}' "$1" "$1"
}

up() {
  # Stages 1 and 2: the buckets, private, encrypted, owner-enforced, TLS only, tagged.
  for bucket in "$source_bucket" "$destination_bucket"; do
    aws s3api create-bucket --bucket "$bucket" --object-ownership BucketOwnerEnforced \
      --create-bucket-configuration "LocationConstraint=$region" >/dev/null
    aws s3api put-bucket-tagging --bucket "$bucket" --tagging "$s3_tags"
    aws s3api put-public-access-block --bucket "$bucket" --public-access-block-configuration \
      BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true
    aws s3api put-bucket-encryption --bucket "$bucket" --server-side-encryption-configuration \
      '{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"AES256"}}]}'
    aws s3api put-bucket-policy --bucket "$bucket" \
      --policy "{\"Version\":\"2012-10-17\",\"Statement\":[$(tls_statement "$bucket")]}"
  done

  # Stage 3: the queue.
  queue_arn=$(aws mediaconvert create-queue --name "$queue" --tags "$map_tags" --query Queue.Arn --output text)

  # Stage 4a: the job template, from job.json, writing to the destination bucket.
  jq --arg d "s3://$destination_bucket/" \
    '.Settings | del(.Inputs) | .OutputGroups[].OutputGroupSettings.FileGroupSettings.Destination = $d' \
    "$root/lambda-artifact/job.json" >"$work/settings.json"
  aws mediaconvert create-job-template --name "$template" --queue "$queue_arn" \
    --settings "file://$work/settings.json" --tags "$map_tags" >/dev/null

  # Stage 5: the roles, least privilege.
  aws iam create-role --role-name "$mediaconvert_role" --tags $iam_tags --assume-role-policy-document \
    "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"mediaconvert.amazonaws.com\"},\"Action\":\"sts:AssumeRole\",\"Condition\":{\"StringEquals\":{\"aws:SourceAccount\":\"$account\"}}}]}" >/dev/null
  aws iam put-role-policy --role-name "$mediaconvert_role" --policy-name cattube --policy-document \
    "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"s3:GetObject\",\"Resource\":\"arn:aws:s3:::$source_bucket/*\"},{\"Effect\":\"Allow\",\"Action\":\"s3:PutObject\",\"Resource\":\"arn:aws:s3:::$destination_bucket/*\"}]}"
  mediaconvert_role_arn=arn:aws:iam::$account:role/$mediaconvert_role
  aws iam create-role --role-name "$converter_role" --tags $iam_tags --assume-role-policy-document \
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}' >/dev/null
  aws iam put-role-policy --role-name "$converter_role" --policy-name cattube --policy-document \
    "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":[\"logs:CreateLogGroup\",\"logs:CreateLogStream\",\"logs:PutLogEvents\"],\"Resource\":\"arn:aws:logs:$region:$account:log-group:/aws/lambda/$function*\"},{\"Effect\":\"Allow\",\"Action\":\"mediaconvert:GetJobTemplate\",\"Resource\":\"arn:aws:mediaconvert:$region:$account:jobTemplates/$template\"},{\"Effect\":\"Allow\",\"Action\":\"mediaconvert:CreateJob\",\"Resource\":\"$queue_arn\"},{\"Effect\":\"Allow\",\"Action\":\"iam:PassRole\",\"Resource\":\"$mediaconvert_role_arn\",\"Condition\":{\"StringEquals\":{\"iam:PassedToService\":\"mediaconvert.amazonaws.com\"}}}]}"

  # Stage 4: the function.
  (cd "$root/lambda-artifact" && zip -q -X "$work/function.zip" handler.py job.json)
  function_arn=$(aws lambda create-function --function-name "$function" --runtime python3.13 \
    --architectures arm64 --handler handler.lambda_handler --memory-size 256 --timeout 60 \
    --role "arn:aws:iam::$account:role/$converter_role" --zip-file "fileb://$work/function.zip" \
    --environment "Variables={DESTINATION_BUCKET=$destination_bucket,JOB_TEMPLATE=$template,QUEUE_ARN=$queue_arn,MEDIACONVERT_ROLE_ARN=$mediaconvert_role_arn,STACK=$stack}" \
    --tags "$map_tags" --query FunctionArn --output text)

  # Stage 6: origin access control, distribution, and the destination bucket's policy.
  oac_id=$(aws cloudfront create-origin-access-control --origin-access-control-config \
    "Name=$oac,SigningProtocol=sigv4,SigningBehavior=always,OriginAccessControlOriginType=s3" \
    --query OriginAccessControl.Id --output text)
  origin=$destination_bucket.s3.$region.amazonaws.com
  cat >"$work/distribution.json" <<EOF
{"DistributionConfig": {"CallerReference": "cattube-$stack-$region", "Comment": "cattube $stack $region",
  "Enabled": true, "PriceClass": "PriceClass_All",
  "Origins": {"Quantity": 1, "Items": [{"Id": "cattube-origin", "DomainName": "$origin",
    "S3OriginConfig": {"OriginAccessIdentity": ""}, "OriginAccessControlId": "$oac_id"}]},
  "DefaultCacheBehavior": {"TargetOriginId": "cattube-origin", "ViewerProtocolPolicy": "redirect-to-https",
    "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"}},
 "Tags": {"Items": [{"Key": "cattube:stack", "Value": "$stack"}, {"Key": "cattube:region", "Value": "$region"},
   {"Key": "managed-by", "Value": "cattube"}]}}
EOF
  distribution_arn=$(aws cloudfront create-distribution-with-tags \
    --distribution-config-with-tags "file://$work/distribution.json" --query Distribution.ARN --output text)
  aws s3api put-bucket-policy --bucket "$destination_bucket" --policy \
    "{\"Version\":\"2012-10-17\",\"Statement\":[$(tls_statement "$destination_bucket"),{\"Sid\":\"cattube-cloudfront-read\",\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"cloudfront.amazonaws.com\"},\"Action\":\"s3:GetObject\",\"Resource\":\"arn:aws:s3:::$destination_bucket/*\",\"Condition\":{\"StringEquals\":{\"AWS:SourceArn\":\"$distribution_arn\"}}}]}"

  # Stage 7: S3 may invoke the function; the source bucket notifies it.
  aws lambda add-permission --function-name "$function" --statement-id cattube-s3-invoke \
    --action lambda:InvokeFunction --principal s3.amazonaws.com \
    --source-arn "arn:aws:s3:::$source_bucket" --source-account "$account" >/dev/null
  aws s3api put-bucket-notification-configuration --bucket "$source_bucket" --notification-configuration \
    "{\"LambdaFunctionConfigurations\":[{\"Id\":\"cattube-notifications\",\"LambdaFunctionArn\":\"$function_arn\",\"Events\":[\"s3:ObjectCreated:*\"]}]}"
}

down() {
  # Stage 9, in reverse. The buckets are empty (no videos were uploaded).
  aws s3api put-bucket-notification-configuration --bucket "$source_bucket" --notification-configuration '{}'
  aws lambda remove-permission --function-name "$function" --statement-id cattube-s3-invoke
  aws s3api delete-bucket-policy --bucket "$destination_bucket"
  distribution_id=$(aws cloudfront list-distributions \
    --query "DistributionList.Items[?Comment=='cattube $stack $region'].Id | [0]" --output text)
  etag=$(aws cloudfront get-distribution-config --id "$distribution_id" --query ETag --output text)
  aws cloudfront get-distribution-config --id "$distribution_id" --query DistributionConfig \
    | jq '.Enabled = false' >"$work/disabled.json"
  aws cloudfront update-distribution --id "$distribution_id" --if-match "$etag" \
    --distribution-config "file://$work/disabled.json" >/dev/null
  aws cloudfront wait distribution-deployed --id "$distribution_id"
  etag=$(aws cloudfront get-distribution --id "$distribution_id" --query ETag --output text)
  aws cloudfront delete-distribution --id "$distribution_id" --if-match "$etag"
  oac_id=$(aws cloudfront list-origin-access-controls \
    --query "OriginAccessControlList.Items[?Name=='$oac'].Id | [0]" --output text)
  etag=$(aws cloudfront get-origin-access-control --id "$oac_id" --query ETag --output text)
  aws cloudfront delete-origin-access-control --id "$oac_id" --if-match "$etag"
  aws lambda delete-function --function-name "$function"
  for role in "$converter_role" "$mediaconvert_role"; do
    aws iam delete-role-policy --role-name "$role" --policy-name cattube
    aws iam delete-role --role-name "$role"
  done
  aws mediaconvert delete-job-template --name "$template"
  aws mediaconvert delete-queue --name "$queue"
  aws s3api delete-bucket --bucket "$source_bucket"
  aws s3api delete-bucket --bucket "$destination_bucket"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 install|up|down" >&2; exit 2 ;;
esac
