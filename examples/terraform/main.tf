# cattube's stack (the tutorial's stages 1-7) as a Terraform configuration, for the
# benchmark's comparison (examples/bench/terraform.rs, `cargo run --example bench --
# --terraform`): the same resources and settings as scripts/bench-awscli.sh and cattube.
#
# Left out: the MediaConvert job template. The AWS provider (5.100) has no resource for
# it, so this stack has one resource fewer than cattube's; the function's policy and
# environment still name it.
#
# Meant for the local emulators only: every endpoint points at var.endpoint (the bench's
# latency proxy in front of moto) and var.mediaconvert_endpoint (the MediaConvert
# stand-in); the credentials are the emulator's test ones.

terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "5.100.0"
    }
  }
}

variable "endpoint" {
  description = "The emulator (or the proxy in front of it), e.g. http://127.0.0.1:5000"
  type        = string
}

variable "mediaconvert_endpoint" {
  description = "The MediaConvert stand-in (or the proxy in front of it)"
  type        = string
}

variable "region" {
  type    = string
  default = "eu-west-1"
}

variable "account" {
  description = "The emulator's account (not requested: skip_requesting_account_id)"
  type        = string
  default     = "123456789012"
}

variable "function_zip" {
  description = "The converter's deployment package (the bench writes cattube's own zip)"
  type        = string
}

provider "aws" {
  region                      = var.region
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  s3_use_path_style           = true

  endpoints {
    cloudfront   = var.endpoint
    iam          = var.endpoint
    lambda       = var.endpoint
    mediaconvert = var.mediaconvert_endpoint
    s3           = var.endpoint
    sts          = var.endpoint
  }

  default_tags {
    tags = {
      "cattube:stack"  = local.stack
      "cattube:region" = var.region
      "managed-by"     = "cattube"
    }
  }
}

locals {
  stack              = "cattube"
  source_bucket      = "${local.stack}-source-${var.account}-${var.region}"
  destination_bucket = "${local.stack}-destination-${var.account}-${var.region}"
  template           = "${local.stack}-job"
  function           = "${local.stack}-converter"
  buckets = {
    source      = local.source_bucket
    destination = local.destination_bucket
  }
}

# Stages 1 and 2: the buckets, private, encrypted, owner-enforced, TLS only, tagged.
resource "aws_s3_bucket" "bucket" {
  for_each = local.buckets
  bucket   = each.value
}

resource "aws_s3_bucket_ownership_controls" "bucket" {
  for_each = aws_s3_bucket.bucket
  bucket   = each.value.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "bucket" {
  for_each                = aws_s3_bucket.bucket
  bucket                  = each.value.id
  block_public_acls       = true
  ignore_public_acls      = true
  block_public_policy     = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_server_side_encryption_configuration" "bucket" {
  for_each = aws_s3_bucket.bucket
  bucket   = each.value.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

data "aws_iam_policy_document" "tls_only" {
  for_each = aws_s3_bucket.bucket
  statement {
    sid     = "cattube-deny-insecure-transport"
    effect  = "Deny"
    actions = ["s3:*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    resources = [each.value.arn, "${each.value.arn}/*"]
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "source" {
  bucket     = aws_s3_bucket.bucket["source"].id
  policy     = data.aws_iam_policy_document.tls_only["source"].json
  depends_on = [aws_s3_bucket_public_access_block.bucket]
}

# Stage 3: the queue.
resource "aws_media_convert_queue" "queue" {
  name = "${local.stack}-queue"
}

# Stage 4a, the job template: not made (no such resource in the provider).

# Stage 5: the roles, least privilege.
resource "aws_iam_role" "mediaconvert" {
  name = "${local.stack}-${var.region}-mediaconvert"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "mediaconvert.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "aws:SourceAccount" = var.account } }
    }]
  })
}

resource "aws_iam_role_policy" "mediaconvert" {
  name = "cattube"
  role = aws_iam_role.mediaconvert.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      { Effect = "Allow", Action = "s3:GetObject", Resource = "${aws_s3_bucket.bucket["source"].arn}/*" },
      { Effect = "Allow", Action = "s3:PutObject", Resource = "${aws_s3_bucket.bucket["destination"].arn}/*" },
    ]
  })
}

resource "aws_iam_role" "converter" {
  name = "${local.stack}-${var.region}-converter"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

resource "aws_iam_role_policy" "converter" {
  name = "cattube"
  role = aws_iam_role.converter.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect   = "Allow"
        Action   = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = "arn:aws:logs:${var.region}:${var.account}:log-group:/aws/lambda/${local.function}*"
      },
      {
        Effect   = "Allow"
        Action   = "mediaconvert:GetJobTemplate"
        Resource = "arn:aws:mediaconvert:${var.region}:${var.account}:jobTemplates/${local.template}"
      },
      { Effect = "Allow", Action = "mediaconvert:CreateJob", Resource = aws_media_convert_queue.queue.arn },
      {
        Effect    = "Allow"
        Action    = "iam:PassRole"
        Resource  = aws_iam_role.mediaconvert.arn
        Condition = { StringEquals = { "iam:PassedToService" = "mediaconvert.amazonaws.com" } }
      },
    ]
  })
}

# Stage 4: the function, from the same zip cattube deploys.
resource "aws_lambda_function" "converter" {
  function_name    = local.function
  role             = aws_iam_role.converter.arn
  runtime          = "python3.13"
  architectures    = ["arm64"]
  handler          = "handler.lambda_handler"
  memory_size      = 256
  timeout          = 60
  filename         = var.function_zip
  source_code_hash = filebase64sha256(var.function_zip)
  environment {
    variables = {
      DESTINATION_BUCKET    = aws_s3_bucket.bucket["destination"].id
      JOB_TEMPLATE          = local.template
      QUEUE_ARN             = aws_media_convert_queue.queue.arn
      MEDIACONVERT_ROLE_ARN = aws_iam_role.mediaconvert.arn
      STACK                 = local.stack
    }
  }
  depends_on = [aws_iam_role_policy.converter]
}

# Stage 6: origin access control, distribution, and the destination bucket's policy.
resource "aws_cloudfront_origin_access_control" "oac" {
  name                              = "${local.stack}-${var.region}-oac"
  origin_access_control_origin_type = "s3"
  signing_behavior                  = "always"
  signing_protocol                  = "sigv4"
}

resource "aws_cloudfront_distribution" "cdn" {
  comment     = "cattube ${local.stack} ${var.region}"
  enabled     = true
  price_class = "PriceClass_All"
  origin {
    origin_id                = "cattube-origin"
    domain_name              = aws_s3_bucket.bucket["destination"].bucket_regional_domain_name
    origin_access_control_id = aws_cloudfront_origin_access_control.oac.id
  }
  default_cache_behavior {
    target_origin_id       = "cattube-origin"
    viewer_protocol_policy = "redirect-to-https"
    cache_policy_id        = "658327ea-f89d-4fab-a63d-7e88639e58f6" # Managed-CachingOptimized
    allowed_methods        = ["GET", "HEAD"]
    cached_methods         = ["GET", "HEAD"]
  }
  restrictions {
    geo_restriction {
      restriction_type = "none"
    }
  }
  viewer_certificate {
    cloudfront_default_certificate = true
  }
  # moto answers GetDistribution with a `forwarded_values` block and `ssl_support_method =
  # "sni-only"` that the request did not set (real CloudFront leaves both out with a cache
  # policy and the default certificate), so without this every plan against the emulator
  # shows an update and every converged apply rewrites the distribution.
  lifecycle {
    ignore_changes = [
      default_cache_behavior[0].forwarded_values,
      viewer_certificate[0].ssl_support_method,
    ]
  }
}

data "aws_iam_policy_document" "destination" {
  source_policy_documents = [data.aws_iam_policy_document.tls_only["destination"].json]
  statement {
    sid       = "cattube-cloudfront-read"
    effect    = "Allow"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.bucket["destination"].arn}/*"]
    principals {
      type        = "Service"
      identifiers = ["cloudfront.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "AWS:SourceArn"
      values   = [aws_cloudfront_distribution.cdn.arn]
    }
  }
}

resource "aws_s3_bucket_policy" "destination" {
  bucket     = aws_s3_bucket.bucket["destination"].id
  policy     = data.aws_iam_policy_document.destination.json
  depends_on = [aws_s3_bucket_public_access_block.bucket]
}

# Stage 7: S3 may invoke the function; the source bucket notifies it.
resource "aws_lambda_permission" "s3_invoke" {
  statement_id   = "cattube-s3-invoke"
  action         = "lambda:InvokeFunction"
  function_name  = aws_lambda_function.converter.function_name
  principal      = "s3.amazonaws.com"
  source_arn     = aws_s3_bucket.bucket["source"].arn
  source_account = var.account
}

resource "aws_s3_bucket_notification" "source" {
  bucket = aws_s3_bucket.bucket["source"].id
  lambda_function {
    id                  = "cattube-notifications"
    lambda_function_arn = aws_lambda_function.converter.arn
    events              = ["s3:ObjectCreated:*"]
  }
  depends_on = [aws_lambda_permission.s3_invoke]
}
