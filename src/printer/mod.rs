//! Everything cattube prints. Progress lines go to stderr and only to a terminal; the
//! result goes to stdout, as a short text summary or as exactly one JSON document.

mod report;
mod summary;

use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use crate::cli::OutputFormat;
use report::Document;
pub use report::*;
pub use summary::*;

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

#[cfg(test)]
mod tests {
    use super::*;

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
