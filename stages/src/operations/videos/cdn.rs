//! The URLs cattube prints for a distribution: every one goes through [`cdn_origin`].

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// RFC 3986 path segment: everything but the unreserved characters is percent-encoded.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `https://<domain>/<key>`, each path segment of the key percent-encoded (UTF-8), the
/// slashes between them kept: `cats/tabby cat-hd.mp4` → `cats/tabby%20cat-hd.mp4`.
pub fn cdn_url(domain: &str, key: &str) -> String {
    let path: Vec<String> = key
        .split('/')
        .map(|segment| utf8_percent_encode(segment, SEGMENT).to_string())
        .collect();
    format!("{}/{}", cdn_origin(domain), path.join("/"))
}

/// Where a distribution's URLs point: `https://<domain>`, or with `CATTUBE_CDN_ENDPOINT`
/// set to `http://localhost:PORT` (the local cloud, `scripts/local-cloud`), its CloudFront
/// at `http://<domain>.localhost:PORT`: one host per distribution, which curl and browsers
/// resolve to loopback. Every URL cattube prints (up, url, videos, open) goes through this.
pub fn cdn_origin(domain: &str) -> String {
    cdn_origin_at(
        domain,
        std::env::var("CATTUBE_CDN_ENDPOINT").ok().as_deref(),
    )
}

fn cdn_origin_at(domain: &str, endpoint: Option<&str>) -> String {
    match endpoint.and_then(|e| e.split_once("://")) {
        Some((scheme, host)) => format!("{scheme}://{domain}.{}", host.trim_end_matches('/')),
        None => format!("https://{domain}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_local_clouds_cdn_endpoint_puts_each_distribution_under_localhost() {
        assert_eq!(
            cdn_origin_at("d1.cloudfront.net", Some("http://localhost:8123/")),
            "http://d1.cloudfront.net.localhost:8123"
        );
        assert_eq!(
            cdn_origin_at("d1.cloudfront.net", None),
            "https://d1.cloudfront.net"
        );
    }

    #[test]
    fn urls_encode_each_segment() {
        assert_eq!(
            cdn_url("d1.cloudfront.net", "cats/tabby cat-hd.mp4"),
            "https://d1.cloudfront.net/cats/tabby%20cat-hd.mp4"
        );
        assert_eq!(
            cdn_url("d1.cloudfront.net", "kätzchen video-sd.mp4"),
            "https://d1.cloudfront.net/k%C3%A4tzchen%20video-sd.mp4"
        );
        assert_eq!(
            cdn_url("d", "a+b/c?d#e%f~g_h.i-j"),
            "https://d/a%2Bb/c%3Fd%23e%25f~g_h.i-j"
        );
    }
}
