//! Where the pipeline can run: MediaConvert is offered in fewer regions than S3, Lambda and
//! CloudFront. Known up front, so a region without it is refused before any request (exit 2)
//! instead of failing half-way through `up`. The table is botocore's endpoint data for
//! MediaConvert, every partition (`tests/iam/test_regions.py` checks it is exactly that).
//!
//! Lambda's arm64 architecture and the Python runtimes are not in any endpoint data, and no
//! read-only Lambda call tells whether a region offers them. Every region in this table
//! offers both today (AWS's own Powertools for Lambda publishes arm64 Python layers in each
//! of them), so nothing is refused up front; if one ever does not, CreateFunction says so and
//! `up` exits 1 naming AWS Lambda, the region and the `[function]` setting to change
//! (`converter_function::lambda_refused`).

/// The regions with a MediaConvert endpoint.
pub const MEDIACONVERT_REGIONS: &[&str] = &[
    "af-south-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-4",
    "ap-southeast-5",
    "ca-central-1",
    "cn-northwest-1",
    "eu-central-1",
    "eu-north-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "me-central-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-gov-west-1",
    "us-west-1",
    "us-west-2",
];

/// Why the pipeline cannot run in `region`, if it cannot.
pub fn unsupported(region: &str) -> Option<String> {
    if MEDIACONVERT_REGIONS.contains(&region) {
        return None;
    }
    Some(format!(
        "region {region} has no AWS Elemental MediaConvert, which the pipeline needs; choose one of: {}",
        MEDIACONVERT_REGIONS.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_region_without_mediaconvert_is_refused_with_the_choices() {
        assert_eq!(unsupported("eu-west-1"), None);
        let message = unsupported("me-south-1").unwrap();
        assert!(message.contains("me-south-1") && message.contains("MediaConvert"));
        assert!(message.contains("eu-west-1, eu-west-2"));
    }
}
