//! Ctrl-C. While `up` or `down` is walking the stack (the [`Cancel`] is armed), the first
//! SIGINT stops new steps from starting and lets the calls in flight finish, so that each
//! finished resource is recorded; the command then exits 130 with the state saved. A second
//! SIGINT exits 130 at once. Before a walk is armed (and for the commands that only read),
//! nothing is half-done: the first SIGINT stops the command, which exits 130 with its report
//! (the JSON document with `--output json`). At `down`'s confirmation prompt, which blocks
//! reading the terminal, it exits 130 at once.
//!
//! Exiting at once is safe for the state: a local file is only ever replaced by a rename of
//! a complete, fsynced file, and its lock is released by the operating system when the
//! process ends; an S3 state is replaced by whole conditional writes, and its lock object
//! is deleted before the exit (within 5 s). A SIGKILL, a crash or a lost network leaves
//! an S3 lock behind: `cattube state unlock` clears it.

use tokio::signal::unix::{signal, SignalKind};

use crate::error::ExitStatus;
use crate::plan::{Cancel, FirstInterrupt};
use crate::printer::Printer;

/// Spawns the handler on the current runtime.
pub fn install(cancel: Cancel, printer: Printer) {
    let Ok(mut sigint) = signal(SignalKind::interrupt()) else {
        return;
    };
    tokio::spawn(async move {
        sigint.recv().await;
        match cancel.interrupt() {
            FirstInterrupt::AtPrompt => {
                printer.urgent("\ninterrupted: nothing was deleted");
                if let Some(failed) = crate::state::release_held().await {
                    printer.urgent(format!("error: {failed}"));
                }
                ExitStatus::Interrupted.exit_now();
            }
            FirstInterrupt::Stopped => {}
            FirstInterrupt::Cancelled => printer.urgent(
                "interrupt: finishing the calls in flight and saving the state (Ctrl-C again to stop at once)",
            ),
        }
        sigint.recv().await;
        printer.urgent("interrupted again: stopping now; the state file is intact, run the command again to continue");
        if let Some(failed) = crate::state::release_held().await {
            printer.urgent(format!("error: {failed}"));
        }
        ExitStatus::Interrupted.exit_now();
    });
}
