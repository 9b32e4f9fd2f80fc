//! What the state file keeps of one resource ([`Recorded`]) and who brought it in
//! ([`Ownership`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Who brought a resource into the stack. Only `Created` resources are ever deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ownership {
    /// cattube is about to create it (recorded before the create call, so a crash between
    /// "created" and "recorded" is never mistaken for adopting someone else's resource).
    Creating,
    Created,
    /// It existed before cattube; it gets the secure settings but is never deleted.
    Adopted,
}

impl Ownership {
    pub fn is_ours(self) -> bool {
        matches!(self, Ownership::Creating | Ownership::Created)
    }
}

/// What the state file remembers of one resource.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recorded {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub arn: String,
    pub ownership: Ownership,
    /// Step-specific facts worth keeping between runs (a distribution id, a pending wait).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, String>,
}
