//! Each command's own arguments, with the parsers of their values.

use std::path::PathBuf;

use cattube_stages::permissions;
use clap::{Args, Subcommand};

#[derive(Debug, Args)]
pub struct StateArgs {
    #[command(subcommand)]
    pub command: StateCommand,
}

#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// Remove the lock a killed run left (shows who holds it and since when, and asks)
    #[command(
        after_help = "Examples:\n  cattube --state s3://my-state/ci.json state unlock\n  \
        cattube --state s3://my-state/ci.json state unlock --yes\n\n\
        Exit codes: 0 removed (or not locked), 1 a call failed, 2 bad input, a local state, \
        no terminal without --yes, or the answer was not 'unlock'"
    )]
    Unlock {
        /// Do not ask (needed without a terminal)
        #[arg(long)]
        yes: bool,
    },
    /// Print the state document (the local file's too)
    #[command(after_help = "Examples:\n  cattube state pull\n  \
        cattube --state s3://my-state/ci.json --output json state pull\n\n\
        Exit codes: 0 printed, 1 a call failed, 2 bad input or no state yet")]
    Pull,
    /// Write a local state file as the shared state, which must not exist yet; refuses a
    /// file of another stack, account or region
    #[command(after_help = "Examples:\n  \
        cattube --state s3://my-state/ci.json state push cattube.state.json\n\n\
        Exit codes: 0 written, 1 a call failed, 2 bad input, a local state, a file of another \
        stack, account or region, or a remote state that exists already")]
    Push {
        /// The local state file, e.g. cattube.state.json
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct GcArgs {
    /// Show which stacks are expired and delete nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask: delete every expired stack and the videos in its buckets
    #[arg(long)]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct OutputArgs {
    /// The output to print, raw [default: all, as KEY=value lines]
    #[arg(value_name = "NAME",
          value_parser = clap::builder::PossibleValuesParser::new(cattube_stages::Registry::standard().output_keys()))]
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct CostArgs {
    /// Only jobs created in this window: a number of days (30d) or hours (12h), 1h to 3650d
    /// [default: every job the queue lists]
    #[arg(long, value_name = "DURATION", value_parser = hours_or_days(3650,
          "a number of days or hours, like 30d or 12h (1h to 3650d)"))]
    pub since: Option<u64>,
}

/// A parser of `<n>d` or `<n>h` → seconds, from 1 h to `most_days`; else
/// `'<text>' must be <allowed>`.
fn hours_or_days(
    most_days: u64,
    allowed: &'static str,
) -> impl Fn(&str) -> Result<u64, String> + Clone + Send + Sync + 'static {
    move |text: &str| {
        let bad = || format!("'{text}' must be {allowed}");
        let (number, unit) = text.split_at(text.len().saturating_sub(1));
        let n: u64 = number.parse().map_err(|_| bad())?;
        let seconds = match unit {
            "d" => n.checked_mul(86_400),
            "h" => n.checked_mul(3_600),
            _ => None,
        }
        .ok_or_else(bad)?;
        if (3_600..=most_days * 86_400).contains(&seconds) {
            Ok(seconds)
        } else {
            Err(bad())
        }
    }
}

#[derive(Debug, Args)]
pub struct UploadArgs {
    /// Video files, each stored under its file name (below --prefix), or folders, whose
    /// files are stored under their path inside the folder (hidden files are skipped)
    #[arg(required = true, value_name = "FILE|DIR")]
    pub files: Vec<PathBuf>,
    /// Folder in the source bucket to put the files in (`cats` and `cats/` are the same);
    /// the outputs land in the same folder of the destination bucket
    #[arg(long, value_name = "P")]
    pub prefix: Option<String>,
    /// Show what would be uploaded and what is already there, and send nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct UploadUrlArgs {
    /// The key the upload lands at, e.g. "cats/tabby cat.mp4" [default: the uploaded file's
    /// name below incoming/<grant id>/]
    #[arg(value_name = "KEY")]
    pub key: Option<String>,
    /// How long the grant is valid: 90s, 15m, 12h, 7d (1s to 7d)
    #[arg(long, default_value = "15m", value_name = "DURATION",
          value_parser = crate::commands::upload_url::parse_expires)]
    pub expires: u64,
    /// The largest upload, in MiB (1 to 5120) [default: [job] max-upload-mb, else 5120]
    #[arg(long, value_name = "N", conflicts_with = "multipart")]
    pub max_mb: Option<u64>,
    /// The content types accepted: TYPE/* or TYPE/SUBTYPE
    #[arg(long, default_value = "video/*", value_name = "TYPE")]
    pub content_type: String,
    /// A multipart upload of KEY instead: presigned part URLs and a completion URL
    #[arg(long, requires = "key")]
    pub multipart: bool,
    /// With --multipart: the file's exact size in bytes (each part's URL is signed for its
    /// length, so nothing larger can be uploaded)
    #[arg(long, value_name = "BYTES")]
    pub size: Option<u64>,
    /// With --multipart: how many parts (1-10000; each but the last at least 5 MiB)
    /// [default: parts of 8 MiB]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub parts: Option<u32>,
    /// Print a link to the upload page (upload.html beside the player) carrying the grant
    /// in its fragment, which browsers never send to a server
    #[arg(long)]
    pub page: bool,
}

#[derive(Debug, Args)]
pub struct JobsArgs {
    /// Refresh until no job is SUBMITTED or PROGRESSING, with a progress line per job
    #[arg(long, visible_alias = "wait")]
    pub watch: bool,
    /// Only the jobs of this source key (as `upload` printed it); with --wait, waits for
    /// its newest job, and for one to appear (up to a minute) after a fresh upload
    #[arg(value_name = "KEY")]
    pub key: Option<String>,
    /// How many of the newest jobs to show (1-1000)
    #[arg(long, default_value_t = 20, value_name = "N",
          value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub limit: u16,
    /// Replay every failed delivery first (with KEY, that key's): the event the converter
    /// function failed on after Lambda's retries, sent to it again, its record then deleted
    #[arg(long)]
    pub retry_failed: bool,
}

#[derive(Debug, Args)]
pub struct PermissionsArgs {
    /// The commands the policy allows
    #[arg(long = "for", value_enum, default_value_t = permissions::Command::All, value_name = "COMMAND")]
    pub r#for: permissions::Command,
    /// The AWS account id to scope the ARNs to, instead of asking STS (works offline)
    #[arg(long, value_name = "ID")]
    pub account: Option<String>,
    /// Every stack whose name matches PATTERN, '*' standing for any run of characters
    /// (`pr-*`: one policy for a CI role that makes a stack per pull request) [default: the stack of --stack]
    #[arg(long, value_name = "PATTERN")]
    pub stacks: Option<String>,
}

#[derive(Debug, Args)]
pub struct OpenArgs {
    /// Open the player on this video (its source key, e.g. "cats/tabby cat.mp4")
    #[arg(value_name = "KEY")]
    pub key: Option<String>,
}

#[derive(Debug, Args)]
pub struct UrlArgs {
    /// The source key, as `upload` printed it (e.g. "cats/tabby cat.mp4")
    #[arg(value_name = "KEY")]
    pub key: String,
    /// Sign each URL (canned policy) with the stack's newest key
    #[arg(long, conflicts_with = "cookies")]
    pub signed: bool,
    /// Print the signed cookies that play every output of the video (HLS segments too)
    #[arg(long)]
    pub cookies: bool,
    /// How long the signature is valid: 90s, 15m, 12h or 7d (1s to 7d) [default: 1h]
    #[arg(long, value_name = "DURATION",
          value_parser = crate::commands::upload_url::parse_expires)]
    pub expires: Option<u64>,
}

#[derive(Debug, Args)]
pub struct KeysArgs {
    #[command(subcommand)]
    pub command: KeysCommand,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Add a new signing key that signs from now on, and remove the keys superseded longer
    /// ago than the grace period (a key group holds at most 5)
    #[command(
        after_help = "Examples:\n  cattube keys rotate\n  cattube keys rotate --grace 0s\n\n\
        A URL or cookie signed before the rotation stays valid until it expires: a superseded \
        key verifies for the grace period, 7 days (the longest --expires) unless --grace says \
        otherwise; --grace 0s removes every superseded key now (a key that leaked).\n\n\
        Exit codes: 0 rotated, 1 a call failed or the key group is full, 2 bad input or the stack is not private"
    )]
    Rotate {
        /// How long a superseded key keeps verifying: 0s to 7d [default: 7d]
        #[arg(long, value_name = "DURATION", value_parser = parse_grace)]
        grace: Option<u64>,
    },
}

/// `0s` to `7d` → seconds.
fn parse_grace(text: &str) -> Result<u64, String> {
    if text == "0s" || text == "0" {
        return Ok(0);
    }
    crate::commands::upload_url::parse_expires(text)
        .map_err(|_| format!("'{text}' must be a duration like 0s, 15m, 12h or 7d (0s to 7d)"))
}

#[derive(Debug, Args)]
pub struct UpArgs {
    /// Wait until CloudFront has deployed the distribution (usually 5-20 min), showing its
    /// status and the time waited
    #[arg(long)]
    pub wait: bool,
    /// Tag every taggable resource with cattube:expires-at, this long from now: hours or
    /// days, like 48h or 7d (1h to 365d); `cattube gc` deletes the stack once it has passed.
    /// A later `up` without --ttl keeps the expiry the resources carry
    #[arg(long, value_name = "DURATION", value_parser = hours_or_days(365,
          "a number of hours or days, like 48h or 7d (1h to 365d)"))]
    pub ttl: Option<u64>,
}

#[derive(Debug, Args)]
pub struct DownArgs {
    /// Do not ask: delete the stack's resources and the videos in its buckets
    #[arg(long)]
    pub yes: bool,
    /// Keep the stack's buckets and their objects (the videos, the failed deliveries)
    #[arg(long)]
    pub keep_buckets: bool,
    /// Disable the CloudFront distribution, record that, and return without waiting the
    /// 5-20 min CloudFront takes; a later `down` finishes the teardown
    #[arg(long)]
    pub no_wait: bool,
    /// After `adopt --from-tutorial`: also delete the tutorial's function, its event
    /// notification and the roles cattube replaced (MediaConvert_Default_Role among them,
    /// which other MediaConvert jobs of the account may use); buckets, objects, queue,
    /// distribution and origin access control stay
    #[arg(long)]
    pub including_adopted: bool,
}

#[derive(Debug, Args)]
pub struct AdoptArgs {
    /// Take over the stack the console tutorial builds (stages 1-7): the only source
    /// `adopt` knows
    #[arg(long, required = true)]
    pub from_tutorial: bool,
    /// Do not ask: record the tutorial's resources as adopted
    #[arg(long)]
    pub yes: bool,
    /// The tutorial's source bucket [default: cattube-source]
    #[arg(long, value_name = "NAME")]
    pub source: Option<String>,
    /// The tutorial's destination bucket [default: cattube-destination]
    #[arg(long, value_name = "NAME")]
    pub destination: Option<String>,
    /// The tutorial's MediaConvert queue [default: catqueue]
    #[arg(long, value_name = "NAME")]
    pub queue: Option<String>,
    /// The tutorial's Lambda function [default: cattube-converter-function]
    #[arg(long, value_name = "NAME")]
    pub function: Option<String>,
}
