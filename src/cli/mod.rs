//! The command line, as the design's CLI contract gives it: the commands and the global
//! options here, each command's own arguments in `args`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

mod args;

pub use args::*;

#[derive(Debug, Parser)]
#[command(
    name = "cattube",
    version,
    about = "Stand up, check and tear down a video-on-demand pipeline on AWS",
    long_about = "Stand up, check and tear down a video-on-demand pipeline on AWS: an S3 source bucket \
                  whose uploads are converted by MediaConvert into a destination bucket served through \
                  CloudFront.\n\nCredentials and region come from the AWS SDK's usual chain; \
                  AWS_ENDPOINT_URL points every client at a local emulator. scripts/local-cloud \
                  runs the whole pipeline on this machine and writes the variables to set, \
                  CATTUBE_CDN_ENDPOINT among them: with it, every playback and player URL \
                  cattube prints is on the local CloudFront.",
    after_help = AFTER_HELP
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Examples and exit codes, after the options of `cattube --help`.
const AFTER_HELP: &str = "\
Examples:
  cattube plan                                  what `up` would do, and why
  cattube up                                    create the stack (stages 1-8)
  cattube upload --prefix cats \"tabby cat.mp4\"  put a video in the source bucket
  cattube upload-url \"cats/tabby cat.mp4\"       let someone else upload it (a curl line)
  cattube jobs --watch                          follow its conversion
  cattube url \"cats/tabby cat.mp4\"              where to watch the outputs
  cattube down                                  delete the stack (asks first)
  cattube permissions > policy.json             the IAM policy a CI role needs
  cattube completions bash > ~/.local/share/bash-completion/completions/cattube

Exit codes:
  0    done
  1    an operation failed
  2    bad usage, configuration or input: nothing was changed
  3    `status` found something missing or drifted; `plan` found changes
  130  interrupted (Ctrl-C): the state is saved, run the command again";

/// The options every command takes, shown under their own heading in each command's help.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
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
    /// State: a file, or s3://BUCKET[/KEY] for a state shared through S3 and locked while a
    /// command writes [default: [state] in cattube.toml, else cattube.state.json]
    #[arg(long, global = true, env = "CATTUBE_STATE", value_name = "FILE|S3URL")]
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
    #[command(
        after_help = "Examples:\n  cattube plan\n  cattube --output json plan\n\n\
        Exit codes: 0 nothing to change, 3 `up` would change something, 1 a check failed, 2 bad input"
    )]
    Plan,
    /// Create the stack or converge it to the wanted configuration (stages 1-8)
    #[command(
        after_help = "Examples:\n  cattube up\n  cattube up --wait\n  cattube up --ttl 48h\n  cattube --stack demo --region eu-west-1 up\n\n\
        Exit codes: 0 done, 1 a resource failed (the state keeps what was done), 2 bad input, \
        130 interrupted"
    )]
    Up(UpArgs),
    /// Check every resource: ok, missing, drifted or pending (exit 3 unless all ok)
    #[command(
        after_help = "Examples:\n  cattube status\n  cattube --output json status\n\n\
        Exit codes: 0 all ok or pending, 3 something missing or drifted, 1 a check failed, 2 bad input"
    )]
    Status,
    /// Put videos in the source bucket to be converted (stage 8)
    #[command(after_help = "Examples:\n  cattube upload \"tabby cat.mp4\"\n  \
        cattube upload --prefix cats videos/\n  cattube upload --dry-run videos/\n\n\
        Exit codes: 0 done, 1 an upload failed (a re-run sends only what is missing), \
        2 bad input or the stack is not up")]
    Upload(UploadArgs),
    /// Print an upload grant: a presigned POST (or multipart upload) that lets someone
    /// without AWS credentials put one video in the source bucket (stage 8)
    #[command(
        after_help = "Examples:\n  cattube upload-url \"cats/tabby cat.mp4\"\n  \
        cattube upload-url --expires 1h --max-mb 500\n  \
        cattube --output json upload-url \"cats/tabby cat.mp4\"\n  \
        cattube upload-url --multipart --size 734003200 \"cats/long cat.mp4\"\n  \
        cattube upload-url --page --expires 1h\n\n\
        A POST grant's policy, signed with your credentials, pins the key (without KEY: any \
        file name below incoming/<grant id>/), the size (1 byte to --max-mb), the content type and \
        the expiry; S3 refuses an upload that breaks any of them. The text output is a curl \
        command line (replace FILE); --output json gives the URL and form fields. A multipart \
        grant starts the upload and prints a presigned URL per part and one to complete it: \
        parts go up in parallel and a failed part is sent again; each part's URL is signed for \
        its exact length (--size), so nothing larger goes up. --page prints a link to the \
        upload page beside the player instead, the grant in its fragment. A grant lasts at \
        most as long as the credentials that signed it.\n\n\
        Exit codes: 0 printed, 1 a call failed, 2 bad input or the stack is not up"
    )]
    UploadUrl(UploadUrlArgs),
    /// The stack queue's MediaConvert jobs, newest first: status, percent, source key (stage 8)
    #[command(after_help = "Examples:\n  cattube jobs\n  cattube jobs --watch\n  \
        cattube jobs --wait \"cats/tabby cat.mp4\"\n  cattube jobs --retry-failed --wait\n\n\
        Failed deliveries (uploads or job events the converter function failed on after \
        Lambda's two retries) are kept in the stack's failures bucket and listed below the \
        jobs; --retry-failed replays them.\n\n\
        Exit codes: 0 done (with --wait/--watch: every waited job COMPLETE), 1 a waited job \
        ended in ERROR or CANCELED (named) or a call failed, 2 bad input or the stack is not up")]
    Jobs(JobsArgs),
    /// The converted videos, from the catalog the converter function keeps (catalog.json in
    /// the destination bucket): key, status, duration and playback URLs (stage 8)
    #[command(
        after_help = "Examples:\n  cattube videos\n  cattube --output json videos\n\n\
        Exit codes: 0 done, 1 a call failed, 2 bad input or the stack is not up"
    )]
    Videos,
    /// Print the player page's URL (https://<distribution domain>/, with #<key> for one
    /// video) and open it in a browser when run on a terminal that has one (stage 8)
    #[command(
        after_help = "Examples:\n  cattube open\n  cattube open \"cats/tabby cat.mp4\"\n\n\
        A browser is started only when stdout is a terminal and xdg-open (or $BROWSER) \
        exists, never in CI (CI set) or with --output json.\n\n\
        Exit codes: 0 done, 1 a call failed, 2 bad input or the stack is not up"
    )]
    Open(OpenArgs),
    /// The CloudFront URLs of a source key's outputs, and which already exist (stage 8);
    /// on a private stack, signed URLs or the signed cookies that play them
    #[command(after_help = "Examples:\n  cattube url \"cats/tabby cat.mp4\"\n  \
        cattube url \"cats/tabby cat.mp4\" --signed --expires 1h\n  \
        curl -H \"$(cattube url cats/tabby.mp4 --cookies | head -1)\" \"$(cattube url cats/tabby.mp4 --cookies | sed -n 2p)\"\n\n\
        --signed signs each URL with a canned policy (for MP4 outputs); --cookies prints the \
        three CloudFront signed cookies of a custom policy over the video's outputs in its \
        folder (HLS playlists and every segment) as a Cookie: header line, then the URLs. \
        Both need [delivery] private = true (docs/private-videos.md).\n\n\
        Exit codes: 0 done, 1 a call failed or the stack cannot sign, 2 bad input or the stack is not up")]
    Url(UrlArgs),
    /// The signing keys of a private stack ([delivery] private = true)
    #[command(
        after_help = "Examples:\n  cattube keys rotate\n  cattube keys rotate --grace 0s\n\n\
        Exit codes: 0 done, 1 a call failed or the key group is full, 2 bad input or the stack is not up"
    )]
    Keys(KeysArgs),
    /// Delete everything the stack created, in reverse order (stage 9)
    #[command(
        after_help = "Examples:\n  cattube down\n  cattube down --keep-buckets\n  \
        cattube down --yes --no-wait\n\n\
        Exit codes: 0 done (or nothing to delete), 1 a deletion failed, 2 bad input, \
        no terminal without --yes, or the confirmation did not match, 130 interrupted"
    )]
    Down(DownArgs),
    /// What the stack's finished MediaConvert jobs cost (their output minutes priced from the
    /// price table: not AWS's invoice), month to date and in total, and the estimate per
    /// minute of uploaded video
    #[command(
        after_help = "Examples:\n  cattube cost\n  cattube cost --since 30d\n  cattube --output json cost\n\n\
        Exit codes: 0 done, 1 a call failed, 2 bad input or the stack is not up"
    )]
    Cost(CostArgs),
    /// The shared state (an S3 object): clear a stale lock, print the document, or move a
    /// local state file into it
    #[command(
        after_help = "The shared state is chosen by --state s3://BUCKET/KEY, CATTUBE_STATE=s3://BUCKET/KEY \
        or [state] backend = \"s3\", bucket, key in cattube.toml (default key: cattube/<stack>/<region>.json). \
        Every run that writes takes the lock object <key>.lock first and deletes it when it ends, \
        also after an error or Ctrl-C; a killed run (SIGKILL, a lost runner) leaves it behind.\n\n\
        Examples:\n  cattube --state s3://my-state/ci.json state pull\n  \
        cattube --state s3://my-state/ci.json state push cattube.state.json\n  \
        cattube --state s3://my-state/ci.json state unlock --yes\n\n\
        Exit codes: 0 done, 1 a call failed, 2 bad input, no state yet (pull), no terminal without --yes (unlock), \
        or a remote state that exists already (push)"
    )]
    State(StateArgs),
    /// Print the least-privilege IAM policy a CI role needs to run `up`, `down`, `status`,
    /// `upload`, `upload-url`, `stacks`, `gc`, `state` or `adopt` for this stack (its names, account
    /// and region), generated from the calls each resource makes
    #[command(after_help = "Examples:\n  cattube permissions > policy.json\n  \
        cattube --stack pr-42 permissions --for up --account 123456789012\n  \
        cattube permissions --stacks 'pr-*' --account 123456789012\n  \
        cattube permissions --for gc --stacks 'pr-*'\n  \
        cattube permissions --for upload-url\n\n\
        The policy is scoped to the stack's bucket, role, function, queue and job template \
        ARNs; CloudFront's generated ids make it name every distribution and origin access \
        control of the account, and actions AWS accepts only on \"*\" are on \"*\". \
        With a remote state (--state s3://…, CATTUBE_STATE or [state]) the state bucket's calls \
        are included. `status` covers `plan`; `jobs`, `url` and `cost` are not included. \
        `--for gc` is `down` for this stack and, with default names, for every stack of \
        --stacks (default: any stack), since gc deletes other stacks too. \
        Only the account id is asked of AWS (STS), and nothing with --account.\n\n\
        Exit codes: 0 printed, 1 STS failed, 2 bad input")]
    Permissions(PermissionsArgs),
    /// List every cattube stack in the account and region, found by its resources' tags
    #[command(
        after_help = "Examples:\n  cattube stacks\n  cattube --output json stacks\n\n\
        Found with the Resource Groups Tagging API (tags managed-by=cattube and cattube:stack): \
        TAGGED counts what that API reports, not the stack's size (on AWS not the IAM roles), EXPIRES AT is the \
        cattube:expires-at tag `up --ttl` sets, STATE is the state file when it is this \
        configuration's stack. Never writes.\n\n\
        Exit codes: 0 done, 1 a call failed, 2 bad input"
    )]
    Stacks,
    /// Delete every stack of the account and region whose cattube:expires-at has passed
    #[command(
        after_help = "Examples:\n  cattube gc --dry-run\n  cattube gc --yes\n\n\
        Each expired stack (found as `cattube stacks` finds it) is deleted as `down --yes --no-wait` \
        would, with no state file: by its resources' tags and default names. The CloudFront \
        distribution is disabled and left; a later gc deletes it. A stack without the expiry \
        tag is never touched, nor anything not created by the stack.\n\n\
        Exit codes: 0 done (or nothing expired), 1 a deletion failed, 2 bad input, \
        no terminal without --yes, or the confirmation did not match"
    )]
    Gc(GcArgs),
    /// Print the stack's outputs, read live: one raw value, or every known one as KEY=value
    #[command(after_help = "Examples:\n  cattube output distribution_domain\n  \
        cattube output >> \"$GITHUB_OUTPUT\"\n  cattube --output json output\n\n\
        Without NAME: one KEY=value line per known output. With --output json: the JSON \
        document, whose `outputs` object holds every output (null when not known). \
        Never writes.\n\n\
        Exit codes: 0 done, 1 a check failed, 2 bad input or the output is not known (the stack is not up)")]
    Output(OutputArgs),
    /// Take over the console tutorial's hand-built stack: find its resources, show what is
    /// kept, changed (and why) and replaced, and record them in the state as adopted; `up`
    /// then converges them, and `down` puts back what it changed
    #[command(after_help = "Examples:\n  cattube adopt --from-tutorial\n  \
        cattube --region ap-southeast-2 adopt --from-tutorial --yes\n  \
        cattube adopt --from-tutorial --source my-uploads --destination my-videos\n\n\
        Names: the tutorial's (examples/tutorial.toml), then [names] in cattube.toml, then \
        these flags. The distribution is found by its origin (the destination bucket), the \
        origin access control by the origin it is attached to. Nothing is written but the \
        state file; with --output json the plan is the JSON document.\n\n\
        Exit codes: 0 adopted (or shown, without --yes and without a terminal: 3), \
        1 a call failed, 2 bad input, no tutorial stack or two candidates for one resource \
        (named), or the confirmation did not match")]
    Adopt(AdoptArgs),
    /// Print a shell completion script for bash, zsh, fish, elvish or powershell
    #[command(after_help = "Examples:\n  \
        cattube completions bash > ~/.local/share/bash-completion/completions/cattube\n  \
        cattube completions zsh > \"${fpath[1]}/_cattube\"\n  \
        cattube completions fish > ~/.config/fish/completions/cattube.fish\n\n\
        Exit codes: 0 printed (also when the reader stops early, as `| head` does), 2 bad input")]
    Completions(CompletionsArgs),
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    /// The README says every command's `--help` has examples and exit codes: each
    /// subcommand's, nested ones (`state unlock`) included, as `--help` prints it.
    #[test]
    fn every_help_has_examples_and_exit_codes() {
        fn walk(command: &mut clap::Command, path: &str, missing: &mut Vec<String>) {
            let help = command.render_long_help().to_string();
            for wanted in ["Examples:", "Exit codes:"] {
                if !help.contains(wanted) {
                    missing.push(format!("`{path} --help` has no {wanted}"));
                }
            }
            for sub in command.get_subcommands_mut() {
                let name = sub.get_name().to_string();
                if name != "help" {
                    walk(sub, &format!("{path} {name}"), missing);
                }
            }
        }
        let mut missing = Vec::new();
        let mut cli = Cli::command();
        cli.build();
        walk(&mut cli, "cattube", &mut missing);
        assert!(missing.is_empty(), "{missing:#?}");
    }

    /// The man pages, generated from this very definition into `target/<profile>/man/`:
    /// `cargo test -p cattube --bin cattube man_pages`, then `man target/debug/man/cattube.1`.
    #[test]
    fn man_pages() {
        let exe = std::env::current_exe().unwrap();
        // target/<profile>/deps/cattube-<hash> → target/<profile>/man
        let dir = exe.parent().unwrap().parent().unwrap().join("man");
        std::fs::create_dir_all(&dir).unwrap();
        clap_mangen::generate_to(Cli::command(), &dir).unwrap();
        let page = std::fs::read_to_string(dir.join("cattube.1")).unwrap();
        assert!(page.contains("Exit codes"), "{page}");
        for sub in Cli::command().get_subcommands() {
            let name = sub.get_name();
            if name == "help" {
                continue;
            }
            // roff writes a hyphen as `\-` (upload-url).
            assert!(
                page.contains(&name.replace('-', "\\-")),
                "cattube.1 does not name {name}"
            );
            let own = dir.join(format!("cattube-{name}.1"));
            assert!(own.exists(), "{} was not written", own.display());
        }
    }
}
