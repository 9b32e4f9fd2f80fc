//! A file's object key in the source bucket: below the upload's prefix (a folder), within
//! S3's length limit, and its content type.

use std::path::Path;

/// The longest S3 key, in UTF-8 bytes.
pub const MAX_KEY_BYTES: usize = 1024;

/// The key of a file inside an uploaded folder: its path below the folder, '/' between the
/// parts; `None` when a part is not UTF-8 (S3 keys are).
pub fn folder_key(inside: &std::path::Path) -> Option<String> {
    let parts: Option<Vec<&str>> = inside.iter().map(|p| p.to_str()).collect();
    parts.map(|p| p.join("/"))
}

/// Why a file cannot be uploaded under its key.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("its key '{0}' is longer than S3's {MAX_KEY_BYTES} bytes")]
    TooLong(String),
}

/// The key of an uploaded file ([`object_key`]), checked against S3's limit.
pub fn upload_key(prefix: Option<&str>, file_name: &str) -> Result<String, KeyError> {
    let key = object_key(prefix, file_name);
    if key.len() > MAX_KEY_BYTES {
        return Err(KeyError::TooLong(key));
    }
    Ok(key)
}

/// The object key of an uploaded file: its file name below the prefix, a folder (`cats` and
/// `cats/` are the same; leading and repeated slashes are dropped).
pub fn object_key(prefix: Option<&str>, file_name: &str) -> String {
    let folder: Vec<&str> = prefix
        .unwrap_or_default()
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    if folder.is_empty() {
        file_name.to_string()
    } else {
        format!("{}/{file_name}", folder.join("/"))
    }
}

/// The content type of a file, from its extension (`video/mp4`, `video/quicktime`…).
pub fn content_type(path: &Path) -> String {
    mime_guess::from_path(path)
        .first_or_octet_stream()
        .essence_str()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_file_names_below_the_prefix_folder() {
        assert_eq!(object_key(None, "tabby cat.mp4"), "tabby cat.mp4");
        assert_eq!(
            object_key(Some("cats"), "tabby cat.mp4"),
            "cats/tabby cat.mp4"
        );
        assert_eq!(
            object_key(Some("cats/"), "tabby cat.mp4"),
            "cats/tabby cat.mp4"
        );
        assert_eq!(object_key(Some("/a//b/"), "c.mp4"), "a/b/c.mp4");
        assert_eq!(object_key(Some(""), "c.mp4"), "c.mp4");
    }

    #[test]
    fn an_upload_key_fits_s3_and_a_folder_file_keeps_its_path() {
        let long = "a".repeat(MAX_KEY_BYTES);
        assert_eq!(upload_key(None, &long), Ok(long.clone()));
        assert_eq!(
            upload_key(Some("cats"), &long),
            Err(KeyError::TooLong(format!("cats/{long}")))
        );
        let inside: std::path::PathBuf = ["2024", "tabby cat.mp4"].iter().collect();
        assert_eq!(folder_key(&inside).as_deref(), Some("2024/tabby cat.mp4"));
    }

    #[test]
    fn content_types_come_from_the_extension() {
        assert_eq!(content_type(Path::new("a/tabby cat.mp4")), "video/mp4");
        assert_eq!(content_type(Path::new("cat.MOV")), "video/quicktime");
        assert_eq!(content_type(Path::new("cat")), "application/octet-stream");
    }
}
