//! `cattube upload FILE|DIR... [--prefix P] [--dry-run]`: stage 8, put videos in the source
//! bucket. Every file is checked before anything is sent (exists, a regular file, readable,
//! a UTF-8 name; a folder gives its files, recursively, hidden ones skipped); then the stack
//! must be up (the source bucket notifies the converter). A file already in the bucket with
//! the same size and ETag is skipped, so a re-run after a failure sends only what is missing.
//! The rest go up a few at once, one progress bar per file and a total; the result lists
//! the URLs the outputs will have.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use cattube_stages::{videos, StackContext};
use indicatif::{HumanBytes, ProgressBar};
use tokio::task::JoinSet;

use crate::cli::UploadArgs;
use crate::commands::{video_failure, Access, Invocation, Session, Verb};
use crate::config::Config;
use crate::error::{ExitStatus, UsageError};
use crate::printer::{Printer, Report};

/// The fields `upload` adds to the JSON document.
#[derive(Debug, Default, serde::Serialize)]
pub struct UploadFields {
    /// The files put in the source bucket.
    pub uploads: Vec<UploadReport>,
}

/// One uploaded file.
#[derive(Debug, Clone, serde::Serialize)]
pub struct UploadReport {
    pub file: String,
    pub key: String,
    pub bytes: u64,
    /// Where its outputs will be watched once converted.
    pub urls: Vec<String>,
    /// Already in the bucket with the same size and ETag: not sent again.
    pub skipped: bool,
    /// Sent by this run (false for a skipped file, and for every file of a `--dry-run`).
    pub sent: bool,
}

impl Verb for UploadArgs {
    type Fields = UploadFields;

    async fn run(&self, at: &mut Invocation<'_, UploadFields>) -> anyhow::Result<ExitStatus> {
        run(at.config, self, at.printer, at.report, at.fields).await
    }

    fn text(&self, report: &Report, fields: &UploadFields) -> String {
        text(report, fields)
    }
}

/// HeadObject checks in flight at once.
const CHECKS_IN_FLIGHT: usize = 16;
/// Files started at once; their requests share one bound ([`videos::REQUESTS_IN_FLIGHT`]),
/// so this only lets small files fill the slots a large one's last parts leave free.
const FILES_IN_FLIGHT: usize = videos::REQUESTS_IN_FLIGHT;

/// A file checked and ready to go.
struct Local {
    path: PathBuf,
    /// As the user wrote it (for a folder's file: the folder joined with its path), for
    /// messages and the report.
    shown: String,
    key: String,
    size: u64,
}

fn is_hidden(name: &std::ffi::OsStr) -> bool {
    name.to_str().is_some_and(|n| n.starts_with('.'))
}

/// The files of a folder, recursively and sorted, with their path inside it; hidden files
/// and folders (a name starting with '.') are skipped, symbolic links followed to files only.
fn folder_files(dir: &Path, shown: &str) -> Result<Vec<(PathBuf, String)>, UsageError> {
    let mut files = Vec::new();
    let walk = walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !is_hidden(e.file_name()));
    for entry in walk {
        let entry = entry.map_err(|e| UsageError::new(format!("cannot read {shown}: {e}")))?;
        let is_file = match entry.file_type().is_symlink() {
            true => std::fs::metadata(entry.path()).is_ok_and(|m| m.is_file()),
            false => entry.file_type().is_file(),
        };
        if !is_file {
            continue;
        }
        let inside = entry.path().strip_prefix(dir).expect("below the folder");
        let relative = videos::folder_key(inside).ok_or_else(|| {
            UsageError::new(format!(
                "{}: the path is not UTF-8, and S3 keys are: rename it",
                entry.path().display()
            ))
        })?;
        files.push((entry.path().to_path_buf(), relative));
    }
    if files.is_empty() {
        return Err(UsageError::new(format!(
            "{shown} has no files to upload (hidden files are skipped)"
        )));
    }
    Ok(files)
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
        let files = if meta.is_dir() {
            folder_files(path, &shown)?
        } else {
            let name = path.file_name().and_then(|n| n.to_str()).ok_or_else(|| {
                UsageError::new(format!(
                    "{shown}: the file name is not UTF-8, and S3 keys are: rename it"
                ))
            })?;
            vec![(path.clone(), name.to_string())]
        };
        for (file, name) in files {
            let shown = if meta.is_dir() {
                Path::new(&shown).join(&name).display().to_string()
            } else {
                shown.clone()
            };
            let meta = std::fs::metadata(&file)
                .map_err(|e| UsageError::new(format!("cannot read {shown}: {e}")))?;
            if !meta.is_file() {
                return Err(UsageError::new(format!("{shown} is not a regular file")));
            }
            std::fs::File::open(&file)
                .map_err(|e| UsageError::new(format!("cannot read {shown}: {e}")))?;
            let key = videos::upload_key(args.prefix.as_deref(), &name).map_err(|e| {
                UsageError::new(format!("{shown}: {e}: use a shorter --prefix or file name"))
            })?;
            if let Some(other) = locals.iter().find(|l| l.key == key) {
                return Err(UsageError::new(format!(
                    "{} and {shown} would both be uploaded as '{key}'",
                    other.shown
                )));
            }
            locals.push(Local {
                path: file,
                shown,
                key,
                size: meta.len(),
            });
        }
    }
    Ok(locals)
}

async fn run(
    config: &Config,
    args: &UploadArgs,
    printer: &Printer,
    report: &mut Report,
    fields: &mut UploadFields,
) -> anyhow::Result<ExitStatus> {
    let locals = check(args)?;
    // When the state names the account, STS answers beside the checks below; it is
    // confirmed before their answers are used or anything is sent.
    let (session, identity) = Session::start(config, Access::Read, report).await?;
    let ctx = session.ctx.clone();
    // The stack's checks and what is there already, all in the same round; the stack's
    // answers are looked at first.
    let (confirmed, source, playback, there) = tokio::join!(
        identity.confirm(&session),
        videos::check_source(&ctx),
        videos::playback(&ctx),
        already_there(&ctx, &locals)
    );
    confirmed?;
    source.map_err(video_failure)?;
    let playback = playback.map_err(video_failure)?;
    report.set_output(
        "source_bucket",
        ctx.name(cattube_stages::source_bucket::ID).to_string(),
    );
    report.set_output("distribution_domain", playback.domain.clone());
    let there = there?;

    let to_send: Vec<usize> = (0..locals.len()).filter(|&i| !there[i]).collect();
    let bars: Vec<_> = locals
        .iter()
        .map(|l| printer.transfer_bar(&l.key, l.size))
        .collect();
    for (i, bar) in bars.iter().enumerate() {
        if there[i] || args.dry_run {
            bar.finish_and_clear();
        }
    }
    let total = (to_send.len() > 1 && !args.dry_run).then(|| {
        printer.transfer_bar(
            &format!("total ({} files)", to_send.len()),
            to_send.iter().map(|&i| locals[i].size).sum(),
        )
    });

    let (sent, failure) = if args.dry_run {
        (vec![false; locals.len()], None)
    } else {
        send(&ctx, &locals, &to_send, &bars, total.as_ref(), printer).await?
    };
    if let Some(total) = total {
        total.finish();
    }
    let uploads = &mut fields.uploads;
    for (i, local) in locals.iter().enumerate() {
        if args.dry_run || there[i] || sent[i] {
            uploads.push(UploadReport {
                file: local.shown.clone(),
                key: local.key.clone(),
                bytes: local.size,
                urls: playback
                    .urls(&local.key)
                    .into_iter()
                    .map(|u| u.url)
                    .collect(),
                skipped: there[i],
                sent: sent[i],
            });
        }
    }
    match failure {
        Some(err) => Err(err),
        None => Ok(ExitStatus::Success),
    }
}

/// Which files the source bucket holds already (one HeadObject per file, a few at once).
async fn already_there(ctx: &Arc<StackContext>, locals: &[Local]) -> anyhow::Result<Vec<bool>> {
    let mut there = vec![false; locals.len()];
    let mut checks = JoinSet::new();
    for (i, local) in locals.iter().enumerate() {
        if checks.len() >= CHECKS_IN_FLIGHT {
            let (j, found) = checks.join_next().await.expect("a check in flight")?;
            there[j] = found?;
        }
        let (ctx, path, key, size) = (
            ctx.clone(),
            local.path.clone(),
            local.key.clone(),
            local.size,
        );
        checks.spawn(async move { (i, videos::already_uploaded(&ctx, &path, &key, size).await) });
    }
    while let Some(joined) = checks.join_next().await {
        let (j, found) = joined?;
        there[j] = found?;
    }
    Ok(there)
}

/// Sends the files `to_send`, a few at once, each on its bar and on the total's: which were
/// sent, and the first failure, which stops new uploads (those in flight finish).
async fn send(
    ctx: &Arc<StackContext>,
    locals: &[Local],
    to_send: &[usize],
    bars: &[ProgressBar],
    total: Option<&ProgressBar>,
    printer: &Printer,
) -> anyhow::Result<(Vec<bool>, Option<anyhow::Error>)> {
    let mut sent = vec![false; locals.len()];
    let mut failure = None;
    let mut uploads = JoinSet::new();
    let slots = videos::slots();
    let mut next = to_send.iter();
    loop {
        while failure.is_none() && uploads.len() < FILES_IN_FLIGHT {
            let Some(&i) = next.next() else { break };
            let (file_bar, total_bar) = (bars[i].clone(), total.cloned());
            let progress: videos::Sent = Arc::new(move |bytes| {
                file_bar.inc(bytes);
                if let Some(total) = &total_bar {
                    total.inc(bytes);
                }
            });
            bars[i].reset_elapsed();
            let (ctx, path, key, size, slots) = (
                ctx.clone(),
                locals[i].path.clone(),
                locals[i].key.clone(),
                locals[i].size,
                slots.clone(),
            );
            uploads.spawn(async move {
                (
                    i,
                    videos::upload(&ctx, &path, &key, size, progress, &slots).await,
                )
            });
        }
        let Some(joined) = uploads.join_next().await else {
            break;
        };
        let (i, result) = joined?;
        match result {
            Ok(()) => {
                bars[i].finish();
                sent[i] = true;
                printer.verbose(format!(
                    "uploaded {} to s3://{}/{}",
                    locals[i].shown,
                    ctx.name(cattube_stages::source_bucket::ID),
                    locals[i].key
                ));
            }
            Err(e) => {
                bars[i].abandon();
                failure.get_or_insert(
                    anyhow::Error::new(e).context(format!("uploading {}", locals[i].shown)),
                );
            }
        }
    }
    Ok((sent, failure))
}

fn text(report: &Report, fields: &UploadFields) -> String {
    let mut out = String::new();
    let uploads = &fields.uploads;
    let bucket = report
        .outputs
        .get("source_bucket")
        .cloned()
        .flatten()
        .unwrap_or_default();
    let dry_run = uploads.iter().any(|u| !u.sent && !u.skipped);
    for upload in uploads {
        let line = match (upload.skipped, upload.sent) {
            (true, _) => format!(
                "skipped {}: s3://{bucket}/{} already has it (same size and ETag)",
                upload.file, upload.key
            ),
            (false, true) => format!(
                "uploaded {} to s3://{bucket}/{} ({})",
                upload.file,
                upload.key,
                HumanBytes(upload.bytes)
            ),
            (false, false) => format!(
                "would upload {} to s3://{bucket}/{} ({})",
                upload.file,
                upload.key,
                HumanBytes(upload.bytes)
            ),
        };
        out.push_str(&line);
        out.push('\n');
    }
    if dry_run {
        out.push_str("dry run: nothing was sent\n");
        return out;
    }
    if report.error.is_none() && uploads.iter().any(|u| u.sent) {
        out.push_str(&match &report.emulator {
            Some(url) => format!(
                "Nothing converts them here: the local emulator at {url} runs no Lambda \
                 function. On AWS the outputs would be at:\n"
            ),
            None => "The converter starts a MediaConvert job for each within a few seconds \
                     (`cattube jobs --watch` follows them); once converted, watch them at:\n"
                .to_string(),
        });
        for upload in uploads.iter().filter(|u| u.sent) {
            for url in &upload.urls {
                out.push_str(&format!("{url}\n"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(emulator: Option<&str>) -> String {
        let mut report = Report::new("upload");
        report.emulator = emulator.map(str::to_string);
        let fields = UploadFields {
            uploads: vec![UploadReport {
                file: "tabby cat.mp4".into(),
                key: "tabby cat.mp4".into(),
                bytes: 4,
                urls: vec!["https://d.example/tabby%20cat-hd.mp4".into()],
                skipped: false,
                sent: true,
            }],
        };
        text(&report, &fields)
    }

    #[test]
    fn the_next_step_is_true_where_it_runs() {
        let aws = summary(None);
        assert!(aws.contains("within a few seconds"), "{aws}");
        let local = summary(Some("http://127.0.0.1:5000"));
        assert!(local.contains("Nothing converts them here"), "{local}");
        assert!(!local.contains("within a few seconds"), "{local}");
    }

    #[test]
    fn a_folder_gives_its_files_recursively_without_hidden_ones() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("a/.git")).unwrap();
        std::fs::create_dir_all(root.join(".hidden")).unwrap();
        for file in [
            "z.mp4",
            "a/b.mov",
            "a/.git/config",
            ".hidden/x.mp4",
            ".DS_Store",
        ] {
            std::fs::write(root.join(file), "x").unwrap();
        }
        let files = folder_files(root, "videos").unwrap();
        let names: Vec<&str> = files.iter().map(|(_, name)| name.as_str()).collect();
        assert_eq!(names, ["a/b.mov", "z.mp4"]);
        let empty = tempfile::tempdir().unwrap();
        std::fs::write(empty.path().join(".only-hidden"), "x").unwrap();
        let err = folder_files(empty.path(), "empty").unwrap_err();
        assert!(err.to_string().contains("no files to upload"), "{err}");
    }
}
