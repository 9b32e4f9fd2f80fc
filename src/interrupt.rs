//! Ctrl-C. While `up` or `down` is walking the stack (the [`Cancel`] is armed), the first
//! SIGINT stops new steps from starting and lets the calls in flight finish, so that each
//! finished resource is recorded; the command then exits 130 with the state saved. A second
//! SIGINT exits 130 at once. Before a walk is armed (and for the commands that only read),
//! nothing is half-done, so the first SIGINT exits 130 at once.
//!
//! Exiting at once is safe for the state: it is only ever replaced by a rename of a complete,
//! fsynced file, and the lock is released by the operating system when the process ends.

use std::sync::atomic::{AtomicBool, Ordering};

use tokio::signal::unix::{signal, SignalKind};

use crate::error::exit;
use crate::plan::Cancel;

/// Whether a prompt waits for an answer: the cursor is then after the question, and an
/// interrupt must end that line before it says anything.
static PROMPTING: AtomicBool = AtomicBool::new(false);

pub fn prompting(on: bool) {
    PROMPTING.store(on, Ordering::SeqCst);
}

/// Spawns the handler on the current runtime.
pub fn install(cancel: Cancel) {
    let Ok(mut sigint) = signal(SignalKind::interrupt()) else {
        return;
    };
    tokio::spawn(async move {
        sigint.recv().await;
        if !cancel.is_armed() {
            if PROMPTING.load(Ordering::SeqCst) {
                eprintln!();
            }
            eprintln!("interrupted");
            std::process::exit(exit::INTERRUPTED.into());
        }
        cancel.cancel();
        eprintln!(
            "interrupt: finishing the calls in flight and saving the state (Ctrl-C again to stop at once)"
        );
        sigint.recv().await;
        eprintln!("interrupted again: stopping now; the state file is intact, run the command again to continue");
        std::process::exit(exit::INTERRUPTED.into());
    });
}
