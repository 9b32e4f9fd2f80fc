//! cattube: stand up, check and tear down a video-on-demand pipeline on AWS.

mod cli;
mod commands;
mod config;
mod error;
mod interrupt;
mod plan;
mod pricing;
mod printer;
mod state;

use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::Parser;

use crate::cli::{Cli, Command};
use crate::config::Config;
use crate::error::{ExitStatus, StoppedEarly};
use crate::plan::Cancel;
use crate::printer::{ErrorReport, Printer, Report};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return clap_error(err).into(),
    };
    if let Command::Completions(args) = &cli.command {
        // Needs no configuration: a broken cattube.toml must not break the shell.
        let mut command = <Cli as clap::CommandFactory>::command();
        // Into a buffer first: clap_complete panics on a stdout closed early (`| head`).
        let mut script = Vec::new();
        clap_complete::generate(args.shell, &mut command, "cattube", &mut script);
        printer::write_stdout(&script);
        return ExitStatus::Success.into();
    }
    let mut report = Report::new(cli.command.name());
    let printer = Printer::new(
        cli.global.output,
        !cli.global.no_progress,
        cli.global.quiet,
        cli.global.verbose,
    );
    let config = match Config::resolve(&cli.global) {
        Ok(config) => config,
        Err(err) => {
            report.stack = cli.global.stack.clone();
            report.error = Some(ErrorReport {
                message: err.to_string(),
                causes: Vec::new(),
            });
            printer.finish(&report, |_| String::new());
            return ExitStatus::Usage.into();
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let cancel = Cancel::default();
    let result = runtime.block_on(async {
        interrupt::install(cancel.clone(), printer.clone());
        // A Ctrl-C before any walk is armed stops the command where it is (nothing has been
        // written), and the report below is still printed.
        let result = tokio::select! {
            result = run(&cli.command, &config, &printer, &mut report, &cancel) => result,
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
    printer.finish(&report, |report| match &cli.command {
        Command::Plan => commands::plan::text(report),
        Command::Up(_) => commands::up::text(report),
        Command::Status => commands::status::text(report),
        Command::Upload(_) => commands::upload::text(report),
        Command::UploadUrl(_) => commands::upload_url::text(report),
        Command::Jobs(_) => commands::jobs::text(report),
        Command::Url(_) => commands::url::text(report),
        Command::Keys(_) => commands::keys::text(report),
        Command::Videos => commands::videos::text(report),
        Command::Open(_) => commands::open::text(report),
        Command::Down(_) => commands::down::text(report),
        Command::Cost(_) => commands::cost::text(report),
        Command::State(_) => commands::state::text(report),
        Command::Permissions(_) => commands::permissions::text(report),
        Command::Output(args) => commands::output::text(report, args),
        Command::Stacks => commands::stacks::text(report),
        Command::Gc(_) => commands::gc::text(report),
        Command::Adopt(_) => commands::adopt::text(report),
        Command::Completions(_) => String::new(),
    });
    // What a stopped command left in flight (a read) is not waited for.
    runtime.shutdown_background();
    status.into()
}

async fn run(
    command: &Command,
    config: &Config,
    printer: &Printer,
    report: &mut Report,
    cancel: &Cancel,
) -> anyhow::Result<ExitStatus> {
    match command {
        Command::Plan => commands::plan::run(config, printer, report).await,
        Command::Up(args) => commands::up::run(config, args, printer, report, cancel).await,
        Command::Status => commands::status::run(config, printer, report).await,
        Command::Upload(args) => commands::upload::run(config, args, printer, report).await,
        Command::UploadUrl(args) => commands::upload_url::run(config, args, printer, report).await,
        Command::Jobs(args) => commands::jobs::run(config, args, printer, report).await,
        Command::Url(args) => commands::url::run(config, args, printer, report).await,
        Command::Keys(args) => commands::keys::run(config, args, printer, report).await,
        Command::Videos => commands::videos::run(config, report).await,
        Command::Open(args) => commands::open::run(config, args, printer, report).await,
        Command::Down(args) => commands::down::run(config, args, printer, report, cancel).await,
        Command::Cost(args) => commands::cost::run(config, args, report).await,
        Command::State(args) => commands::state::run(config, args, printer, report).await,
        Command::Permissions(args) => commands::permissions::run(config, args, report).await,
        Command::Output(args) => commands::output::run(config, args, printer, report).await,
        Command::Stacks => commands::stacks::run(config, report).await,
        Command::Gc(args) => commands::gc::run(config, args, printer, report, cancel).await,
        Command::Adopt(args) => commands::adopt::run(config, args, printer, report).await,
        Command::Completions(_) => Ok(ExitStatus::Success),
    }
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
