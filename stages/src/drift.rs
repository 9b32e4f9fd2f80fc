//! How a live resource differs from what the stack wants ([`Drift`]), and what repairing it
//! would change on an adopted resource, as found ([`crate::original`]).

use crate::original::Originals;

/// One way a live resource differs from what the stack wants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Drift {
    /// Stable key the step's `apply` uses to know what to repair.
    pub key: &'static str,
    /// What a person reads in `status` and `plan`.
    pub detail: String,
    /// The live values of the settings repairing it changes, as found: on an adopted
    /// resource the engine records them before `apply`, and `down` puts them back
    /// ([`crate::original`]).
    pub originals: Originals,
}

impl Drift {
    pub fn new(key: &'static str, detail: impl Into<String>) -> Self {
        Drift {
            key,
            detail: detail.into(),
            originals: Originals::default(),
        }
    }

    /// This drift, noting `setting` as it is now (`None`: absent) for `down` to restore.
    pub fn was(mut self, setting: &str, value: Option<serde_json::Value>) -> Self {
        self.originals.keep(setting, value);
        self
    }
}
