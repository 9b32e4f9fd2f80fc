//! `cattube upload FILE... [--prefix P]`: stage 8, put videos in the source bucket. Every
//! file is checked before anything is sent (exists, a regular file, readable, a UTF-8 name);
//! then the stack must be up (the source bucket notifies the converter). One progress bar
//! per file and a total; the result lists the URLs the outputs will have.

use std::path::PathBuf;
use std::sync::Arc;

use cattube_stages::videos::{self, MAX_KEY_BYTES};
use indicatif::HumanBytes;

use crate::cli::UploadArgs;
use crate::commands::{video_failure, Access, Session};
use crate::config::Config;
use crate::error::{exit, UsageError};
use crate::printer::{Printer, Report, UploadReport};

/// A file checked and ready to go.
struct Local {
    path: PathBuf,
    /// As the user wrote it, for messages and the report.
    shown: String,
    key: String,
    size: u64,
}

/// Checks every file before any AWS call: one bad file and nothing is sent.
fn check(args: &UploadArgs) -> Result<Vec<Local>, UsageError> {
    let mut locals: Vec<Local> = Vec::new();
    for path in &args.files {
        let shown = path.display().to_string();
        let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => UsageError::new(format!("{shown}: no such file")),
            _ => UsageError::new(format!("cannot read {shown}: {e}")),
        })?;
        if meta.is_dir() {
            return Err(UsageError::new(format!(
                "{shown} is a directory: upload takes video files (for a folder's files: `cattube upload {shown}/*`)"
            )));
        }
        if !meta.is_file() {
            return Err(UsageError::new(format!("{shown} is not a regular file")));
        }
        std::fs::File::open(path)
            .map_err(|e| UsageError::new(format!("cannot read {shown}: {e}")))?;
        let name = path.file_name().and_then(|n| n.to_str()).ok_or_else(|| {
            UsageError::new(format!(
                "{shown}: the file name is not UTF-8, and S3 keys are: rename it"
            ))
        })?;
        let key = videos::object_key(args.prefix.as_deref(), name);
        if key.len() > MAX_KEY_BYTES {
            return Err(UsageError::new(format!(
                "{shown}: its key '{key}' is longer than S3's {MAX_KEY_BYTES} bytes: use a shorter --prefix or file name"
            )));
        }
        if let Some(other) = locals.iter().find(|l| l.key == key) {
            return Err(UsageError::new(format!(
                "{} and {shown} would both be uploaded as '{key}'",
                other.shown
            )));
        }
        locals.push(Local {
            path: path.clone(),
            shown,
            key,
            size: meta.len(),
        });
    }
    Ok(locals)
}

pub async fn run(
    config: &Config,
    args: &UploadArgs,
    printer: &Printer,
    report: &mut Report,
) -> anyhow::Result<u8> {
    let locals = check(args)?;
    let session = Session::open(config, Access::Read, report).await?;
    let ctx = &*session.ctx;
    let (source, playback) = tokio::join!(videos::check_source(ctx), videos::playback(ctx));
    source.map_err(video_failure)?;
    let playback = playback.map_err(video_failure)?;
    report.set_output("source_bucket", ctx.name("source-bucket").to_string());
    report.set_output("distribution_domain", playback.domain.clone());

    let bars: Vec<_> = locals
        .iter()
        .map(|l| printer.transfer_bar(&l.key, l.size))
        .collect();
    let total = (locals.len() > 1).then(|| {
        printer.transfer_bar(
            &format!("total ({} files)", locals.len()),
            locals.iter().map(|l| l.size).sum(),
        )
    });
    for (local, bar) in locals.iter().zip(&bars) {
        let (file_bar, total_bar) = (bar.clone(), total.clone());
        let sent: videos::Sent = Arc::new(move |bytes| {
            file_bar.inc(bytes);
            if let Some(total) = &total_bar {
                total.inc(bytes);
            }
        });
        bar.reset_elapsed();
        videos::upload(ctx, &local.path, &local.key, local.size, sent)
            .await
            .map_err(|e| anyhow::Error::new(e).context(format!("uploading {}", local.shown)))?;
        bar.finish();
        printer.verbose(format!(
            "uploaded {} to s3://{}/{}",
            local.shown,
            ctx.name("source-bucket"),
            local.key
        ));
        report
            .uploads
            .get_or_insert_with(Vec::new)
            .push(UploadReport {
                file: local.shown.clone(),
                key: local.key.clone(),
                bytes: local.size,
                urls: playback
                    .urls(&local.key)
                    .into_iter()
                    .map(|u| u.url)
                    .collect(),
            });
    }
    if let Some(total) = total {
        total.finish();
    }
    Ok(exit::OK)
}

pub fn text(report: &Report) -> String {
    let mut out = String::new();
    let uploads = report.uploads.as_deref().unwrap_or_default();
    let bucket = report
        .outputs
        .get("source_bucket")
        .cloned()
        .flatten()
        .unwrap_or_default();
    for upload in uploads {
        out.push_str(&format!(
            "uploaded {} to s3://{bucket}/{} ({})\n",
            upload.file,
            upload.key,
            HumanBytes(upload.bytes)
        ));
    }
    if report.error.is_none() && !uploads.is_empty() {
        out.push_str(
            "MediaConvert converts them now (`cattube jobs --watch`); then watch them at:\n",
        );
        for upload in uploads {
            for url in &upload.urls {
                out.push_str(&format!("{url}\n"));
            }
        }
    }
    out
}
