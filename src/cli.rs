//! The command line, as the design's CLI contract gives it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "cattube",
    version,
    about = "Stand up, check and tear down a video-on-demand pipeline on AWS",
    long_about = "Stand up, check and tear down a video-on-demand pipeline on AWS: an S3 source bucket \
                  whose uploads are converted by MediaConvert into a destination bucket served through \
                  CloudFront.\n\nCredentials and region come from the AWS SDK's usual chain; \
                  AWS_ENDPOINT_URL points every client at a local emulator."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Configuration file [default: cattube.toml when present]
    #[arg(long, global = true, env = "CATTUBE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Stack name: 1-20 of a-z, 0-9, '-' [default: cattube]
    #[arg(long, global = true, env = "CATTUBE_STACK", value_name = "NAME")]
    pub stack: Option<String>,
    /// AWS region [default: the AWS SDK's (AWS_REGION, profile)]
    #[arg(long, global = true, env = "CATTUBE_REGION", value_name = "REGION")]
    pub region: Option<String>,
    /// AWS shared-config profile
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,
    /// State file [default: cattube.state.json]
    #[arg(long, global = true, env = "CATTUBE_STATE", value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Output format of the result on stdout
    #[arg(long, global = true, value_enum, default_value_t = OutputFormat::Text, value_name = "FORMAT")]
    pub output: OutputFormat,
    /// Never show progress lines (they are hidden anyway when stderr is not a terminal)
    #[arg(long, global = true)]
    pub no_progress: bool,
    /// Say more: every change made, and what each step found
    #[arg(short, long, global = true, conflicts_with = "quiet")]
    pub verbose: bool,
    /// Say less: only errors (and the JSON document with --output json)
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show what `up` would do, resource by resource, with the reasons
    Plan,
    /// Create the stack or converge it to the wanted configuration (stages 1-7)
    Up(UpArgs),
    /// Check every resource: ok, missing, drifted or pending (exit 3 unless all ok)
    Status,
    /// Put videos in the source bucket to be converted (stage 8)
    Upload(UploadArgs),
    /// The stack queue's MediaConvert jobs, newest first: status, percent, source key (stage 8)
    Jobs(JobsArgs),
    /// The CloudFront URLs of a source key's outputs, and which already exist (stage 8)
    Url(UrlArgs),
    /// Delete everything the stack created, in reverse order (stage 9)
    Down(DownArgs),
    /// What the stack's finished MediaConvert jobs cost (their output minutes priced from the
    /// price table: not AWS's invoice), month to date and in total, and the estimate per
    /// minute of uploaded video
    Cost(CostArgs),
}

#[derive(Debug, Args)]
pub struct CostArgs {
    /// Only jobs created in this window: a number of days (30d) or hours (12h), 1h to 3650d
    /// [default: every job the queue lists]
    #[arg(long, value_name = "DURATION", value_parser = parse_since)]
    pub since: Option<u64>,
}

/// `30d`, `12h` → seconds.
fn parse_since(text: &str) -> Result<u64, String> {
    let bad =
        || format!("'{text}' must be a number of days or hours, like 30d or 12h (1h to 3650d)");
    let (number, unit) = text.split_at(text.len().saturating_sub(1));
    let n: u64 = number.parse().map_err(|_| bad())?;
    let seconds = match unit {
        "d" => n * 86_400,
        "h" => n * 3_600,
        _ => return Err(bad()),
    };
    if (3_600..=3650 * 86_400).contains(&seconds) {
        Ok(seconds)
    } else {
        Err(bad())
    }
}

#[derive(Debug, Args)]
pub struct UploadArgs {
    /// Video files: each is stored under its file name (below --prefix)
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Folder in the source bucket to put the files in (`cats` and `cats/` are the same);
    /// the outputs land in the same folder of the destination bucket
    #[arg(long, value_name = "P")]
    pub prefix: Option<String>,
}

#[derive(Debug, Args)]
pub struct JobsArgs {
    /// Refresh until no job is SUBMITTED or PROGRESSING
    #[arg(long)]
    pub watch: bool,
    /// How many of the newest jobs to show (1-1000)
    #[arg(long, default_value_t = 20, value_name = "N",
          value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub limit: u16,
}

#[derive(Debug, Args)]
pub struct UrlArgs {
    /// The source key, as `upload` printed it (e.g. "cats/tabby cat.mp4")
    #[arg(value_name = "KEY")]
    pub key: String,
}

#[derive(Debug, Args)]
pub struct UpArgs {
    /// Wait until CloudFront has deployed the distribution (usually 5-20 min), showing its
    /// status and the time waited
    #[arg(long)]
    pub wait: bool,
}

#[derive(Debug, Args)]
pub struct DownArgs {
    /// Do not ask: delete the stack's resources and the videos in its buckets
    #[arg(long)]
    pub yes: bool,
    /// Keep both buckets and their objects
    #[arg(long)]
    pub keep_buckets: bool,
    /// Disable the CloudFront distribution, record that, and return without waiting the
    /// 5-20 min CloudFront takes; a later `down` finishes the teardown
    #[arg(long)]
    pub no_wait: bool,
}

impl Command {
    pub fn name(&self) -> &'static str {
        match self {
            Command::Plan => "plan",
            Command::Up(_) => "up",
            Command::Status => "status",
            Command::Upload(_) => "upload",
            Command::Jobs(_) => "jobs",
            Command::Url(_) => "url",
            Command::Down(_) => "down",
            Command::Cost(_) => "cost",
        }
    }
}
