//! The errors real AWS answers and the emulators never do, byte for byte in each service's
//! own protocol, so that the SDK parses them exactly as it parses AWS's:
//! - S3 (REST-XML): `<Error><Code>…</Code><Message>…</Message><RequestId>…</RequestId>
//!   <HostId>…</HostId></Error>`, no namespace;
//! - MediaConvert and Lambda (REST-JSON): the code in `x-amzn-ErrorType`, `{"message": …}`
//!   (Lambda adds `"Type": "User"` and repeats the message as `Message`);
//! - IAM and STS (query, XML): `<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
//!   <Error><Type>Sender</Type><Code>…</Code><Message>…</Message></Error><RequestId>…</RequestId>
//!   </ErrorResponse>`;
//! - CloudFront (REST-XML): the same `<ErrorResponse>`, in CloudFront's namespace.
//!
//! A proxy answers a chosen request with one of these (see `proxy::Answer`).

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::Response;

const REQUEST_ID: &str = "4442587FB7D0A2F9";

/// One AWS error answer: status, headers and body.
#[derive(Clone, Debug)]
pub struct AwsErrorReply {
    pub status: u16,
    headers: Vec<(&'static str, String)>,
    body: String,
}

impl AwsErrorReply {
    /// An S3 REST-XML error.
    pub fn s3(status: u16, code: &str, message: &str) -> Self {
        AwsErrorReply {
            status,
            headers: vec![
                ("content-type", "application/xml".into()),
                ("x-amz-request-id", REQUEST_ID.into()),
                ("x-amz-id-2", "aHR0cHM6Ly9leGFtcGxlLmludmFsaWQ=".into()),
            ],
            body: format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><RequestId>{REQUEST_ID}</RequestId><HostId>aHR0cHM6Ly9leGFtcGxlLmludmFsaWQ=</HostId></Error>"
            ),
        }
    }

    /// A REST-JSON error of MediaConvert (`{"message"}`).
    pub fn mediaconvert(status: u16, code: &str, message: &str) -> Self {
        Self::rest_json(status, code, serde_json::json!({ "message": message }))
    }

    /// A successful answer of a JSON 1.1 service (Service Quotas, EventBridge…) with
    /// `body`: for a value the emulator cannot hold, such as a quota AWS raised.
    pub fn json_ok(body: serde_json::Value) -> Self {
        AwsErrorReply {
            status: 200,
            headers: vec![
                ("content-type", "application/x-amz-json-1.1".into()),
                ("x-amzn-requestid", REQUEST_ID.into()),
            ],
            body: body.to_string(),
        }
    }

    /// A REST-JSON error of Lambda (`{"Type": "User", "message"}`).
    pub fn lambda(status: u16, code: &str, message: &str) -> Self {
        let body = serde_json::json!({ "Type": "User", "message": message, "Message": message });
        Self::rest_json(status, code, body)
    }

    /// REST-JSON: the code in `x-amzn-ErrorType`, the body as given.
    fn rest_json(status: u16, code: &str, body: serde_json::Value) -> Self {
        AwsErrorReply {
            status,
            headers: vec![
                ("content-type", "application/json".into()),
                ("x-amzn-errortype", code.into()),
                ("x-amzn-requestid", REQUEST_ID.into()),
            ],
            body: body.to_string(),
        }
    }

    /// A query-protocol error of IAM, STS or SNS.
    pub fn query(service: &str, status: u16, code: &str, message: &str) -> Self {
        let namespace = match service {
            "sts" => "https://sts.amazonaws.com/doc/2011-06-15/",
            "sns" => "http://sns.amazonaws.com/doc/2010-03-31/",
            _ => "https://iam.amazonaws.com/doc/2010-05-08/",
        };
        Self::error_response(namespace, status, code, message)
    }

    /// A CloudFront REST-XML error.
    pub fn cloudfront(status: u16, code: &str, message: &str) -> Self {
        Self::error_response(
            "http://cloudfront.amazonaws.com/doc/2020-05-31/",
            status,
            code,
            message,
        )
    }

    fn error_response(namespace: &str, status: u16, code: &str, message: &str) -> Self {
        AwsErrorReply {
            status,
            headers: vec![
                ("content-type", "text/xml".into()),
                ("x-amzn-requestid", REQUEST_ID.into()),
            ],
            body: format!(
                "<?xml version=\"1.0\"?>\n<ErrorResponse xmlns=\"{namespace}\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>{REQUEST_ID}</RequestId></ErrorResponse>"
            ),
        }
    }

    pub fn response(&self) -> Response<Full<Bytes>> {
        let mut builder = Response::builder().status(self.status);
        for (name, value) in &self.headers {
            builder = builder.header(*name, value);
        }
        builder
            .header("content-length", self.body.len())
            .body(Full::new(Bytes::from(self.body.clone())))
            .unwrap()
    }
}

/// S3's answer to a write that overlaps another write to the same bucket's configuration
/// (hashicorp/terraform-provider-aws#7628): 409, which the SDK does not retry by itself.
pub fn s3_operation_aborted() -> AwsErrorReply {
    AwsErrorReply::s3(
        409,
        "OperationAborted",
        "A conflicting conditional operation is currently in progress against this resource. Please try again.",
    )
}

/// Lambda's answer to CreateFunction while the role, created seconds ago, has not
/// propagated yet: code and message exactly as Lambda sends them.
#[allow(
    dead_code,
    reason = "only examples/bench.rs models IAM's propagation delay"
)]
pub fn lambda_fresh_role() -> AwsErrorReply {
    AwsErrorReply::lambda(
        400,
        "InvalidParameterValueException",
        "The role defined for the function cannot be assumed by Lambda.",
    )
}
