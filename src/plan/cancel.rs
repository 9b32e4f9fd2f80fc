//! Ctrl-C during a command: before a walk is armed it stops the command, during one it
//! lets the steps in flight finish.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Set once when the user asks the walk to stop (the first Ctrl-C): steps already running
/// finish (and save the state), steps not yet started are skipped. Before a walk that
/// writes is armed, a Ctrl-C stops the command instead: [`Cancel::stopped`] wakes `main`,
/// which reports the run as interrupted (and prints its JSON document). Arming and that
/// early stop exclude each other, so a walk never starts after an early Ctrl-C.
#[derive(Clone, Default)]
pub struct Cancel {
    cancelled: Arc<AtomicBool>,
    phase: Arc<Mutex<Phase>>,
    stopped: Arc<tokio::sync::Notify>,
    /// A prompt is reading the terminal (it blocks its thread): Ctrl-C ends the process.
    prompting: Arc<AtomicBool>,
}

#[derive(Clone, Copy, Default, PartialEq, Eq)]
enum Phase {
    #[default]
    Idle,
    Armed,
    Stopped,
}

/// What the first Ctrl-C did.
#[derive(Debug, PartialEq, Eq)]
pub enum FirstInterrupt {
    /// A walk is under way: it finishes the calls in flight.
    Cancelled,
    /// Before the walk: the command is stopped.
    Stopped,
    /// A prompt is waiting on the terminal, which blocks its thread: exit at once.
    AtPrompt,
}

impl Cancel {
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }

    /// A command is about to write: from now on a Ctrl-C lets it finish what is in flight.
    /// Fails when a Ctrl-C came first: the command must then stop without writing.
    pub fn arm(&self) -> Result<(), crate::error::StoppedEarly> {
        let mut phase = self.phase.lock().expect("phase lock");
        match *phase {
            Phase::Stopped => Err(crate::error::StoppedEarly),
            _ => {
                *phase = Phase::Armed;
                Ok(())
            }
        }
    }

    /// The first Ctrl-C.
    pub fn interrupt(&self) -> FirstInterrupt {
        let mut phase = self.phase.lock().expect("phase lock");
        match *phase {
            Phase::Armed => {
                self.cancel();
                FirstInterrupt::Cancelled
            }
            _ if self.prompting.load(Ordering::SeqCst) => FirstInterrupt::AtPrompt,
            _ => {
                *phase = Phase::Stopped;
                self.stopped.notify_one();
                FirstInterrupt::Stopped
            }
        }
    }

    /// Resolves once a Ctrl-C has stopped the command before any walk was armed.
    pub async fn stopped(&self) {
        self.stopped.notified().await
    }

    /// Runs `f`, a prompt that blocks its thread reading the terminal.
    pub fn prompt<R>(&self, f: impl FnOnce() -> R) -> R {
        self.prompting.store(true, Ordering::SeqCst);
        let result = f();
        self.prompting.store(false, Ordering::SeqCst);
        result
    }
}
