//! The page's files, built into the binary, and their bytes as put in the bucket.

use sha2::{Digest, Sha256};

use super::ROOT_KEY;

/// One file of the page, as uploaded.
#[derive(Clone, Copy, Debug)]
pub struct PageFile {
    pub key: &'static str,
    pub bytes: &'static [u8],
    pub content_type: &'static str,
    pub cache_control: &'static str,
}

/// The page and the files it loads. `no-cache`: browsers and CloudFront revalidate (a cheap
/// 304), so a new page and its script always arrive together. hls.js is named after its
/// version, so it can be cached for good.
pub const FILES: &[PageFile] = &[
    PageFile {
        key: ROOT_KEY,
        bytes: include_bytes!("../../../../player/index.html"),
        content_type: "text/html; charset=utf-8",
        cache_control: "no-cache",
    },
    PageFile {
        key: "player/player.css",
        bytes: include_bytes!("../../../../player/player.css"),
        content_type: "text/css; charset=utf-8",
        cache_control: "no-cache",
    },
    PageFile {
        key: "player/player.js",
        bytes: include_bytes!("../../../../player/player.js"),
        content_type: "text/javascript; charset=utf-8",
        cache_control: "no-cache",
    },
    PageFile {
        key: UPLOAD_KEY,
        bytes: include_bytes!("../../../../player/upload.html"),
        content_type: "text/html; charset=utf-8",
        cache_control: "no-cache",
    },
    PageFile {
        key: "player/upload.js",
        bytes: include_bytes!("../../../../player/upload.js"),
        content_type: "text/javascript; charset=utf-8",
        cache_control: "no-cache",
    },
    PageFile {
        key: HLS_JS_KEY,
        bytes: include_bytes!("../../../../player/vendor/hls-1.6.15.light.min.js"),
        content_type: "text/javascript; charset=utf-8",
        cache_control: "public, max-age=31536000, immutable",
    },
];

/// hls.js (the npm package, pinned in `tests/browser/package-lock.json`, which the browser
/// test checks this copy against), for browsers without native HLS.
pub const HLS_JS_KEY: &str = "player/vendor/hls-1.6.15.light.min.js";

/// The upload page's key, beside the player.
pub const UPLOAD_KEY: &str = "upload.html";
/// Where upload.html's policy names the source bucket's URL, filled in when it is put.
pub const SOURCE_URL_SLOT: &str = "{{source-bucket-url}}";

/// A file's bytes as put in the bucket: upload.html with the source bucket's URL (as the
/// S3 client addresses it, ending in '/') in its slot; every other file as embedded.
pub fn body(file: &PageFile, source_url: &str) -> Vec<u8> {
    if file.key == UPLOAD_KEY {
        String::from_utf8_lossy(file.bytes)
            .replace(SOURCE_URL_SLOT, source_url)
            .into_bytes()
    } else {
        file.bytes.to_vec()
    }
}

/// The hex SHA-256 of `bytes`, as each object's metadata carries it.
pub fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}
