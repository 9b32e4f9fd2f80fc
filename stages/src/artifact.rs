//! The converter function's deployment package, built from the `lambda-artifact/` files
//! compiled into the binary. The zip is deterministic: entries sorted by name, stored (not
//! compressed, so the bytes never depend on a compressor's version), the DOS epoch
//! 1980-01-01 00:00 as modification time and mode 0644. Same handler → same bytes → same
//! CodeSha256, so `up` redeploys only a real change.

use std::io::Write;

use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

/// What goes into the zip: only the handler (job.json becomes the job template, which the
/// function reads at run time; the tests stay out).
const FILES: &[(&str, &str)] = &[(
    "handler.py",
    include_str!("../../lambda-artifact/handler.py"),
)];

/// The function's handler, `<module>.<function>`.
pub const HANDLER: &str = "handler.lambda_handler";

/// The deployment package.
pub fn function_zip() -> Vec<u8> {
    zip_files(FILES)
}

pub fn zip_files(files: &[(&str, &str)]) -> Vec<u8> {
    let mut files = files.to_vec();
    files.sort_by(|a, b| a.0.cmp(b.0));
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Stored)
        .last_modified_time(DateTime::default())
        .unix_permissions(0o644);
    let mut zip = ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, content) in files {
        zip.start_file(name, options).expect("zip entry in memory");
        zip.write_all(content.as_bytes())
            .expect("zip write in memory");
    }
    zip.finish().expect("zip in memory").into_inner()
}

/// Lambda's CodeSha256 of a package: base64 of its SHA-256.
pub fn code_sha256(zip: &[u8]) -> String {
    aws_smithy_types::base64::encode(Sha256::digest(zip))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_sorted() {
        let a = zip_files(&[("b.py", "b"), ("a.py", "a")]);
        let b = zip_files(&[("a.py", "a"), ("b.py", "b")]);
        assert_eq!(a, b);
        assert_eq!(code_sha256(&a), code_sha256(&b));
        assert_ne!(code_sha256(&a), code_sha256(&zip_files(&[("a.py", "A")])));
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(a)).unwrap();
        assert_eq!(archive.name_for_index(0), Some("a.py"));
        let entry = archive.by_index(1).unwrap();
        assert_eq!(entry.unix_mode(), Some(0o100644));
        assert_eq!(entry.last_modified(), Some(DateTime::default()));
    }

    #[test]
    fn the_package_holds_only_the_handler() {
        let zip = function_zip();
        assert_eq!(zip, function_zip());
        let archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
        assert_eq!(archive.file_names().collect::<Vec<_>>(), vec!["handler.py"]);
    }
}
