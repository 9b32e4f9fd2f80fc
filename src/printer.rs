//! Everything cattube prints. Progress lines go to stderr and only to a terminal; the
//! result goes to stdout, as a short text summary or as exactly one JSON document.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use crate::cli::OutputFormat;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Update,
    None,
    Delete,
    Skip,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Missing,
    Drifted,
    Pending,
}

/// One resource in the result.
#[derive(Debug, Clone, Serialize)]
pub struct ResourceReport {
    pub id: &'static str,
    pub stage: &'static str,
    pub name: String,
    pub arn: String,
    pub action: Action,
    pub status: Status,
    pub drift: Vec<String>,
    /// What happened, for the text summary ("created", "kept: adopted", the error…).
    #[serde(skip)]
    pub note: String,
    /// An optional resource these settings do not want, and absent (the notification topic
    /// without `[notify] email`): `off` in every text summary, not counted as unchanged.
    #[serde(skip)]
    pub off: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ErrorReport {
    pub message: String,
    pub causes: Vec<String>,
}

impl ErrorReport {
    pub fn from_error(err: &anyhow::Error) -> ErrorReport {
        ErrorReport {
            message: err.to_string(),
            causes: err.chain().skip(1).map(|c| c.to_string()).collect(),
        }
    }
}

/// The part of the JSON document every command has; each command's own fields (its
/// `Fields`, [`crate::commands::Verb`]) stand between `outputs` and `warnings`.
#[derive(Debug, Clone)]
pub struct Report {
    pub command: String,
    pub stack: Option<String>,
    pub region: Option<String>,
    pub account: Option<String>,
    pub resources: Vec<ResourceReport>,
    /// Every key the registry declares ([`cattube_stages::Registry::output_keys`]), always present
    /// (null until known).
    pub outputs: BTreeMap<&'static str, Option<String>>,
    /// Things worth knowing that are not errors (a costly job template).
    pub warnings: Vec<String>,
    pub error: Option<ErrorReport>,
    /// The local emulator the commands talk to, if they do (its URL): what the text
    /// summaries say may happen next differs from AWS; not in the JSON document.
    pub emulator: Option<String>,
}

/// The JSON document of the CLI contract: the common part in its order, the command's own
/// fields after `outputs`, then `warnings` and `error`.
#[derive(Serialize)]
struct Document<'a, F> {
    command: &'a str,
    stack: &'a Option<String>,
    region: &'a Option<String>,
    account: &'a Option<String>,
    resources: &'a [ResourceReport],
    outputs: &'a BTreeMap<&'static str, Option<String>>,
    #[serde(flatten)]
    fields: &'a F,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    warnings: &'a [String],
    error: &'a Option<ErrorReport>,
}

impl<'a, F> Document<'a, F> {
    fn new(report: &'a Report, fields: &'a F) -> Self {
        Document {
            command: &report.command,
            stack: &report.stack,
            region: &report.region,
            account: &report.account,
            resources: &report.resources,
            outputs: &report.outputs,
            fields,
            warnings: &report.warnings,
            error: &report.error,
        }
    }
}

/// A command that adds nothing of its own to the JSON document.
#[derive(Debug, Default, Serialize)]
pub struct NoFields {}

impl Report {
    pub fn new(command: impl Into<String>) -> Report {
        Report {
            command: command.into(),
            stack: None,
            region: None,
            account: None,
            resources: Vec::new(),
            outputs: cattube_stages::Registry::standard()
                .output_keys()
                .into_iter()
                .map(|k| (k, None))
                .collect(),
            warnings: Vec::new(),
            error: None,
            emulator: None,
        }
    }

    /// How many resources have `action`.
    pub fn with_action(&self, action: Action) -> usize {
        self.count(|r| r.action == action)
    }

    /// How many resources have `status`.
    pub fn with_status(&self, status: Status) -> usize {
        self.count(|r| r.status == status)
    }

    pub fn count(&self, which: impl Fn(&ResourceReport) -> bool) -> usize {
        self.resources.iter().filter(|r| which(r)).count()
    }

    pub fn set_output(&mut self, key: &'static str, value: String) {
        if let Some(slot) = self.outputs.get_mut(key) {
            *slot = Some(value);
        }
    }
}

/// Cheap to clone: the clones draw on the same progress lines.
#[derive(Clone)]
pub struct Printer {
    format: OutputFormat,
    quiet: bool,
    verbose: bool,
    /// Progress wanted but stderr is no terminal (a CI log): long waits print plain lines.
    plain_progress: bool,
    progress: MultiProgress,
}

/// One resource's progress line: stage, id, a spinner while working, then the result.
#[derive(Clone)]
pub struct ProgressLine {
    bar: ProgressBar,
    label: String,
}

impl Printer {
    pub fn new(format: OutputFormat, progress: bool, quiet: bool, verbose: bool) -> Printer {
        let visible = progress && std::io::stderr().is_terminal();
        let target = if visible {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        Printer {
            format,
            quiet,
            verbose,
            plain_progress: progress && !visible && !quiet,
            progress: MultiProgress::with_draw_target(target),
        }
    }

    /// The printer of what is said before the command line is parsed (its errors).
    pub fn early() -> Printer {
        Printer::new(OutputFormat::Text, false, false, false)
    }

    pub fn line(&self, stage: &str, id: &str) -> ProgressLine {
        let bar = self.progress.add(ProgressBar::new_spinner());
        bar.set_style(spinner_style());
        let label = format!("[{stage:>2}] {id:<26}");
        bar.set_prefix(label.clone());
        bar.enable_steady_tick(Duration::from_millis(100));
        ProgressLine { bar, label }
    }

    /// A byte-counting bar for an upload: name, bar, bytes, rate and time left.
    pub fn transfer_bar(&self, name: &str, bytes: u64) -> ProgressBar {
        let bar = self.progress.add(ProgressBar::new(bytes));
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix:<32!} [{bar:30}] {bytes:>10}/{total_bytes:<10} {bytes_per_sec:>12} ETA {eta}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar.set_prefix(name.to_string());
        bar
    }

    /// A job's line for `jobs --watch`: percent bar, then status and source key.
    pub fn job_bar(&self) -> ProgressBar {
        let bar = self.progress.add(ProgressBar::new(100));
        bar.set_style(
            // The whole id: `cattube jobs` and the console know a job by it.
            ProgressStyle::with_template("{prefix:<20} [{bar:30}] {pos:>3}% {wide_msg}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar
    }

    /// Whether progress is drawn at all (a terminal, and not --no-progress).
    pub fn progress_visible(&self) -> bool {
        !self.progress.is_hidden()
    }

    /// A detail line for `-v`, on stderr, that does not break the progress lines.
    pub fn verbose(&self, message: impl AsRef<str>) {
        if self.verbose {
            let _ = self.progress.println(message.as_ref());
            if self.progress.is_hidden() {
                eprintln!("{}", message.as_ref());
            }
        }
    }

    /// A note on stderr (unless `-q`) that does not break the progress lines: what the
    /// result on stdout cannot say without breaking its format.
    pub fn note(&self, message: impl AsRef<str>) {
        if !self.quiet {
            if self.progress.is_hidden() {
                eprintln!("{}", message.as_ref());
            } else {
                let _ = self.progress.println(message.as_ref());
            }
        }
    }

    /// A line on stderr now, whatever `-q` says: what the user must see at once (a usage
    /// error, what Ctrl-C does). Written straight to stderr, not through the progress
    /// lines: it may come while a prompt has them suspended.
    pub fn urgent(&self, message: impl AsRef<str>) {
        eprintln!("{}", message.as_ref());
    }

    /// Asks a question on stderr, with the progress lines out of its way, and returns the
    /// line typed on stdin.
    pub fn ask(&self, question: &str) -> std::io::Result<String> {
        self.progress.suspend(|| {
            let mut stderr = std::io::stderr();
            write!(stderr, "{question}")?;
            stderr.flush()?;
            let mut answer = String::new();
            std::io::stdin().lock().read_line(&mut answer)?;
            Ok(answer)
        })
    }

    /// Whether a prompt can be answered: stdin and stderr are a terminal.
    pub fn interactive(&self) -> bool {
        std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
    }

    /// Whether long waits should print plain progress lines on stderr.
    pub fn plain_progress(&self) -> bool {
        self.plain_progress
    }

    pub fn json(&self) -> bool {
        self.format == OutputFormat::Json
    }

    /// Prints the result: the JSON document (the report with the command's own `fields`),
    /// or the text summary built by the command.
    pub fn finish<F: Serialize>(
        &self,
        report: &Report,
        fields: &F,
        text: impl FnOnce(&Report, &F) -> String,
    ) {
        let _ = self.progress.clear();
        if self.json() {
            let document = serde_json::to_string_pretty(&Document::new(report, fields))
                .expect("the report serialises");
            write_stdout(format!("{document}\n").as_bytes());
        } else if !self.quiet {
            write_stdout(text(report, fields).as_bytes());
        }
        if let Some(error) = &report.error {
            eprint!("{}", render_error(error));
        }
    }
}

impl ProgressLine {
    pub fn working(&self, what: &str) {
        self.bar.set_style(spinner_style());
        self.bar.enable_steady_tick(Duration::from_millis(100));
        self.bar.set_message(format!("{what}…"));
    }

    /// Waiting for its turn: what was found, or what it waits for, without a spinner (a
    /// spinning "missing" reads like an error).
    pub fn idle(&self, what: &str) {
        self.bar.disable_steady_tick();
        self.bar.set_style(
            ProgressStyle::with_template("  {prefix} {wide_msg}").expect("valid template"),
        );
        self.bar.set_message(what.to_string());
    }

    pub fn done(&self, symbol: &str, result: &str) {
        self.bar.set_style(
            ProgressStyle::with_template("{prefix} {wide_msg}").expect("valid template"),
        );
        self.bar.finish_with_message(result.to_string());
        self.bar.set_prefix(format!("{symbol} {}", self.label));
    }
}

fn spinner_style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner} {prefix} {wide_msg}").expect("valid template")
}

/// Writes the result on stdout. A reader that stopped reading (`cattube … | head`) is a
/// normal end, not a panic as `print!` would make it.
pub fn write_stdout(bytes: &[u8]) {
    let mut stdout = std::io::stdout().lock();
    if let Err(err) = stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        if err.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("error: writing the result to stdout: {err}");
        }
    }
}

/// `error: …` then one `Caused by: …` line per cause, as uv prints its errors.
pub fn render_error(error: &ErrorReport) -> String {
    let mut out = format!("error: {}\n", error.message);
    for cause in &error.causes {
        out.push_str(&format!("  Caused by: {cause}\n"));
    }
    out
}

/// The one word for an optional resource that is not wanted ([`ResourceReport::off`]).
pub const OFF: &str = "off";

/// `, N off` for a summary line's counts (nothing when none is off).
pub fn off_count(report: &Report) -> String {
    match report.count(|r| r.off) {
        0 => String::new(),
        n => format!(", {n} {OFF}"),
    }
}

/// The width a result row may take: a terminal's default, which a longer row wraps in.
pub const ROW_WIDTH: usize = 80;

/// The common part of every text summary: one line per resource, by stage, in columns:
/// what happened, stage, id, name, then the note. When a row would be wider than
/// [`ROW_WIDTH`] (default names carry the account and the region, 45 characters and more),
/// every name goes on a line of its own below its id, so the columns stay aligned.
pub fn resource_lines(report: &Report, word: impl Fn(&ResourceReport) -> String) -> String {
    let mut rows: Vec<&ResourceReport> = report.resources.iter().collect();
    // Stable: within a stage, the dependency order the resources were reported in.
    rows.sort_by_key(|r| crate::plan::stage_order(r.stage));
    let shown = |r: &ResourceReport| {
        if r.name.is_empty() {
            "-".to_string()
        } else {
            r.name.clone()
        }
    };
    let width = rows
        .iter()
        .map(|r| shown(r).chars().count())
        .max()
        .unwrap_or(0);
    let word_of = |r: &ResourceReport| if r.off { OFF.to_string() } else { word(r) };
    let one_line = |r: &ResourceReport| {
        let row = format!(
            "  {:<9} [{:>2}] {:<26} {:<width$}  {}",
            word_of(r),
            r.stage,
            r.id,
            shown(r),
            r.note
        );
        row.trim_end().to_string()
    };
    let wide = rows.iter().any(|r| one_line(r).chars().count() > ROW_WIDTH);
    let mut out = String::new();
    for r in rows {
        if wide {
            let row = format!(
                "  {:<9} [{:>2}] {:<26} {}",
                word_of(r),
                r.stage,
                r.id,
                r.note
            );
            out.push_str(row.trim_end());
            out.push('\n');
            if !r.name.is_empty() {
                // Below the id: two, the word (9), a space, the stage (4), a space.
                out.push_str(&format!("{:17}{}\n", "", r.name));
            }
        } else {
            out.push_str(&one_line(r));
            out.push('\n');
        }
        for drift in &r.drift {
            out.push_str(&format!("{:>18}- {drift}\n", ""));
        }
    }
    out
}

/// The header line of a text summary (nothing when the run stopped before AWS was reached).
pub fn header(report: &Report) -> String {
    if report.account.is_none() {
        return String::new();
    }
    format!(
        "stack {} in {} (account {})\n",
        report.stack.as_deref().unwrap_or("?"),
        report.region.as_deref().unwrap_or("?"),
        report.account.as_deref().unwrap_or("?")
    )
}

/// The estimate line and the warnings of a text summary (`plan`, `up`).
pub fn cost_lines(
    report: &Report,
    cost: Option<&crate::pricing::Estimate>,
    limits: Option<&crate::limits::Limits>,
) -> String {
    let mut out = String::new();
    if let Some(estimate) = cost {
        out.push_str(&estimate.line());
        out.push('\n');
    }
    if let Some(limits) = limits {
        out.push_str(&limits.line());
        out.push('\n');
    }
    for warning in &report.warnings {
        out.push_str(&format!("warning: {warning}\n"));
    }
    out
}

#[cfg(test)]
mod stage8_tests {
    use super::*;

    fn resource(id: &'static str, stage: &'static str, name: &str, note: &str) -> ResourceReport {
        ResourceReport {
            id,
            stage,
            name: name.to_string(),
            arn: String::new(),
            action: Action::Create,
            status: Status::Ok,
            drift: Vec::new(),
            note: note.to_string(),
            off: false,
        }
    }

    #[test]
    fn rows_with_default_names_fit_80_columns() {
        let mut report = Report::new("up");
        report.resources = vec![
            resource(
                "source-bucket",
                "1",
                "cattube-source-123456789012-ap-southeast-2",
                "created",
            ),
            resource(
                "destination-bucket",
                "2",
                "cattube-destination-123456789012-ap-southeast-2",
                "created",
            ),
            resource("destination-bucket-policy", "6", "", "created"),
        ];
        let text = resource_lines(&report, |_| "created".to_string());
        assert_eq!(
            text,
            "  created   [ 1] source-bucket              created\n\
             \x20                cattube-source-123456789012-ap-southeast-2\n\
             \x20 created   [ 2] destination-bucket         created\n\
             \x20                cattube-destination-123456789012-ap-southeast-2\n\
             \x20 created   [ 6] destination-bucket-policy  created\n"
        );
        assert!(
            text.lines().all(|l| l.chars().count() <= ROW_WIDTH),
            "{text}"
        );
    }

    #[test]
    fn rows_with_short_names_keep_one_line_each() {
        let mut report = Report::new("status");
        report.resources = vec![
            resource("source-bucket", "1", "cats-in", "adopted"),
            resource("queue", "3", "cattube-queue", ""),
        ];
        let text = resource_lines(&report, |_| "ok".to_string());
        assert_eq!(
            text,
            "  ok        [ 1] source-bucket              cats-in        adopted\n\
             \x20 ok        [ 3] queue                      cattube-queue\n"
        );
    }

    #[test]
    fn the_transfer_and_job_bar_templates_parse() {
        let printer = Printer::new(OutputFormat::Text, false, false, false);
        let bar = printer.transfer_bar("cats/tabby cat.mp4", 1024);
        bar.inc(512);
        let job = printer.job_bar();
        job.set_position(40);
        assert!(!printer.progress_visible());
    }
}

/// One signing key of a private stack (`status`, `keys rotate`).
#[derive(Debug, Clone, Serialize)]
pub struct KeyReport {
    pub name: String,
    /// CloudFront's public key id (the `Key-Pair-Id` of what it signed).
    pub id: Option<String>,
    /// RFC 3339, UTC.
    pub created: String,
    pub age_s: u64,
    /// URLs and cookies are signed with it.
    pub signing: bool,
    /// When it stops verifying (superseded keys only), RFC 3339.
    pub retires: Option<String>,
}
