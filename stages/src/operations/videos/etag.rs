//! Whether a key already holds a file: the ETag S3 gives what [`super::upload()`] sends,
//! computed locally and compared with HeadObject's, so an unchanged file is not sent again.

use std::path::Path;

use super::{MULTIPART_THRESHOLD, PART_SIZE};
use crate::error::AwsFound;
use crate::{Service, StackContext, StepError};

/// The ETag S3 gives the object [`super::upload()`] makes of a file of `size` bytes, in a
/// bucket encrypted with SSE-S3 (as the stack's are): the hex MD5 of the bytes for one
/// PutObject; for a multipart upload, the MD5 of its parts' binary MD5s one after another,
/// then `-<number of parts>`. Reads the file once; run it off the async threads.
pub fn expected_etag(path: &Path, size: u64) -> std::io::Result<String> {
    use md5::{Digest, Md5};
    use std::io::Read;
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let mut file = std::fs::File::open(path)?;
    let mut buffer = vec![0u8; 1024 * 1024];
    if size < MULTIPART_THRESHOLD {
        let mut whole = Md5::new();
        loop {
            let n = file.read(&mut buffer)?;
            if n == 0 {
                break;
            }
            whole.update(&buffer[..n]);
        }
        return Ok(hex(&whole.finalize()));
    }
    let (mut parts, mut count) = (Md5::new(), 0u64);
    let mut remaining = size;
    while remaining > 0 {
        let mut part = Md5::new();
        let mut left = PART_SIZE.min(remaining);
        remaining -= left;
        while left > 0 {
            let want = buffer.len().min(left as usize);
            let n = file.read(&mut buffer[..want])?;
            if n == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the file shrank while it was read",
                ));
            }
            part.update(&buffer[..n]);
            left -= n as u64;
        }
        parts.update(part.finalize());
        count += 1;
    }
    Ok(format!("{}-{count}", hex(&parts.finalize())))
}

/// Whether `key` in the source bucket already holds this file: same size, and the ETag
/// [`expected_etag`] computes (read only when the sizes match). An object uploaded with
/// another part size has another ETag and is sent again: never a false "same".
pub async fn already_uploaded(
    ctx: &StackContext,
    path: &Path,
    key: &str,
    size: u64,
) -> Result<bool, StepError> {
    let bucket = ctx.name(crate::source_bucket::ID);
    let head = ctx
        .clients
        .s3
        .head_object()
        .bucket(bucket)
        .key(key)
        .expected_bucket_owner(&ctx.account)
        .send()
        .await;
    let Some(head) = head.found(Service::S3, || format!("checking s3://{bucket}/{key}"))? else {
        return Ok(false);
    };
    if head.content_length() != Some(size as i64) {
        return Ok(false);
    }
    let Some(etag) = head.e_tag().map(|t| t.trim_matches('"').to_string()) else {
        return Ok(false);
    };
    let path = path.to_path_buf();
    let local = tokio::task::spawn_blocking(move || expected_etag(&path, size))
        .await
        .map_err(|e| StepError::with_source("hashing a file", e))?
        .map_err(|e| StepError::with_source("reading the file to compare it", e))?;
    Ok(local == etag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_follow_the_part_size() {
        let dir = tempfile_dir();
        let small = dir.join("small");
        std::fs::write(&small, b"meow").unwrap();
        let single = expected_etag(&small, 4).unwrap();
        assert_eq!(single.len(), 32, "{single}");
        assert!(!single.contains('-'), "{single}");
        // Just over the threshold: two parts, the second short.
        let big = dir.join("big");
        let size = MULTIPART_THRESHOLD + 1;
        std::fs::write(&big, vec![7u8; size as usize]).unwrap();
        let multi = expected_etag(&big, size).unwrap();
        let parts = size.div_ceil(PART_SIZE);
        assert!(multi.ends_with(&format!("-{parts}")), "{multi}");
        // The same bytes in one piece would hash differently: the parts matter.
        assert_ne!(&multi[..32], single_md5(&big));
        std::fs::remove_dir_all(dir).unwrap();
    }

    fn single_md5(path: &Path) -> String {
        use md5::{Digest, Md5};
        let bytes = std::fs::read(path).unwrap();
        Md5::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("cattube-etag-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
