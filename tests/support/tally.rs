//! Outcomes counted as they happen, apart from the assertions that guard them: each case
//! runs to its end or to its first failed assertion, which is recorded, not propagated. A
//! test prints its figures from the tally and only then asserts that every case held, so a
//! printed "N of M" is what was observed, never N/N by construction.

use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;

#[derive(Default)]
pub struct Tally {
    /// Cases that ran to their end.
    pub held: usize,
    /// One line per case that did not: what it was and its first failed assertion.
    pub failures: Vec<String>,
}

impl Tally {
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs one synchronous case; whether it held is returned and counted.
    pub fn check(&mut self, what: &str, case: impl FnOnce()) -> bool {
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(case));
        self.record(what, outcome)
    }

    /// Runs one asynchronous case; whether it held is returned and counted.
    pub async fn case(&mut self, what: &str, case: impl Future<Output = ()>) -> bool {
        let outcome = AssertUnwindSafe(case).catch_unwind().await;
        self.record(what, outcome)
    }

    fn record(&mut self, what: &str, outcome: std::thread::Result<()>) -> bool {
        match outcome {
            Ok(()) => {
                self.held += 1;
                true
            }
            Err(panic) => {
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "a panic without a message".into());
                self.failures.push(format!("{what}: {message}"));
                false
            }
        }
    }

    pub fn total(&self) -> usize {
        self.held + self.failures.len()
    }

    /// Fails the test listing every case that did not hold (after the figures are printed).
    #[track_caller]
    pub fn assert_all_held(&self, what: &str) {
        assert!(
            self.failures.is_empty(),
            "{what}: {} of {} cases failed:\n{}",
            self.failures.len(),
            self.total(),
            self.failures.join("\n")
        );
    }
}
