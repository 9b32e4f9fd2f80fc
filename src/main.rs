//! cattube: stand up, check and tear down a video-on-demand pipeline on AWS.

mod cli;
mod commands;
mod config;
mod error;
mod interrupt;
mod limits;
mod plan;
mod pricing;
mod printer;
mod state;

use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::{CommandFactory, FromArgMatches};

use crate::cli::{Cli, Command, GlobalArgs};
use crate::commands::{Invocation, Verb};
use crate::config::Config;
use crate::error::{ExitStatus, StoppedEarly};
use crate::plan::Cancel;
use crate::printer::{ErrorReport, Printer, Report};

fn main() -> ExitCode {
    let (cli, name) = match parse() {
        Ok(parsed) => parsed,
        Err(err) => return clap_error(err).into(),
    };
    // The one place a subcommand meets its implementation: each is a `Verb` in
    // src/commands/<verb>.rs, with its JSON fields and its text summary.
    let status = match &cli.command {
        Command::Plan => execute(&commands::plan::PlanArgs, name, &cli.global),
        Command::Up(args) => execute(args, name, &cli.global),
        Command::Status => execute(&commands::status::StatusArgs, name, &cli.global),
        Command::Upload(args) => execute(args, name, &cli.global),
        Command::UploadUrl(args) => execute(args, name, &cli.global),
        Command::Jobs(args) => execute(args, name, &cli.global),
        Command::Url(args) => execute(args, name, &cli.global),
        Command::Keys(args) => execute(args, name, &cli.global),
        Command::Videos => execute(&commands::videos::VideosArgs, name, &cli.global),
        Command::Open(args) => execute(args, name, &cli.global),
        Command::Down(args) => execute(args, name, &cli.global),
        Command::Cost(args) => execute(args, name, &cli.global),
        Command::State(args) => execute(args, name, &cli.global),
        Command::Permissions(args) => execute(args, name, &cli.global),
        Command::Output(args) => execute(args, name, &cli.global),
        Command::Stacks => execute(&commands::stacks::StacksArgs, name, &cli.global),
        Command::Gc(args) => execute(args, name, &cli.global),
        Command::Adopt(args) => execute(args, name, &cli.global),
        Command::Completions(args) => completions(args),
    };
    status.into()
}

/// The command line, and the subcommand's name as typed (clap's, the document's `command`).
fn parse() -> Result<(Cli, String), clap::Error> {
    let mut matches = Cli::command().try_get_matches()?;
    let name = matches.subcommand_name().unwrap_or_default().to_string();
    let cli =
        Cli::from_arg_matches_mut(&mut matches).map_err(|err| err.format(&mut Cli::command()))?;
    Ok((cli, name))
}

/// Needs no configuration: a broken cattube.toml must not break the shell.
fn completions(args: &cli::CompletionsArgs) -> ExitStatus {
    let mut command = Cli::command();
    // Into a buffer first: clap_complete panics on a stdout closed early (`| head`).
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "cattube", &mut script);
    printer::write_stdout(&script);
    ExitStatus::Success
}

/// Runs one command: configuration, the runtime, Ctrl-C, then the result on stdout (the
/// JSON document or the command's text summary) and its exit status.
fn execute<V: Verb>(verb: &V, name: String, global: &GlobalArgs) -> ExitStatus {
    let mut report = Report::new(name);
    let mut fields = V::Fields::default();
    let printer = Printer::new(
        global.output,
        !global.no_progress,
        global.quiet,
        global.verbose,
    );
    let config = match Config::resolve(global) {
        Ok(config) => config,
        Err(err) => {
            report.stack = global.stack.clone();
            report.error = Some(ErrorReport {
                message: err.to_string(),
                causes: Vec::new(),
            });
            printer.finish(&report, &fields, |_, _| String::new());
            return ExitStatus::Usage;
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let cancel = Cancel::default();
    let result = runtime.block_on(async {
        interrupt::install(cancel.clone(), printer.clone());
        let mut at = Invocation {
            config: &config,
            printer: &printer,
            cancel: &cancel,
            report: &mut report,
            fields: &mut fields,
        };
        // A Ctrl-C before any walk is armed stops the command where it is (nothing has been
        // written), and the report below is still printed.
        let result = tokio::select! {
            result = verb.run(&mut at) => result,
            () = cancel.stopped() => Err(StoppedEarly.into()),
        };
        // A run that failed or was stopped before its own release still holds the lock of
        // a shared state (a local file's lock goes with the process).
        if let Some(failed) = state::release_held().await {
            report.warnings.push(failed);
        }
        result
    });
    let status = match result {
        Ok(status) => status,
        Err(err) => {
            report.error = Some(ErrorReport::from_error(&err));
            ExitStatus::of_error(&err)
        }
    };
    printer.finish(&report, &fields, |report, fields| verb.text(report, fields));
    // What a stopped command left in flight (a read) is not waited for.
    runtime.shutdown_background();
    status
}

/// Help and version go to stdout with exit 0; a usage error is one line on stderr, exit 2.
fn clap_error(err: clap::Error) -> ExitStatus {
    match err.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = err.print();
            ExitStatus::Success
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = err.print();
            ExitStatus::Usage
        }
        _ => {
            let rendered = err.render().to_string();
            let line: Vec<&str> = rendered
                .lines()
                .map(str::trim)
                .filter(|l| {
                    !l.is_empty()
                        && !l.starts_with("For more information")
                        && !l.starts_with("Usage:")
                })
                .collect();
            Printer::early().urgent(line.join(" "));
            ExitStatus::Usage
        }
    }
}
