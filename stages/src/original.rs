//! What an adopted resource was like before cattube changed it, and the one way it is kept.
//!
//! A resource cattube adopts (it existed without the stack's tags) is someone else's: every
//! setting cattube changes on it is recorded first and put back by `down`. `observe` reads
//! each setting it would change as it is ([`Originals::keep`]), the engine records what it
//! read in the state (the [`Recorded::extra`] entries `original:<setting>`) before it calls
//! `apply`, and keeps the first recording of each setting from then on: what a later `up`
//! reads is cattube's own value. `down` hands the record to [`crate::Step::restore`], which
//! writes each setting back as recorded ([`Originals::of`]).
//!
//! A value is JSON text; `null` means the setting was absent (no policy, no public access
//! block), and restoring it deletes it.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::step::Recorded;

/// The prefix of an original setting's key among a record's `extra` entries.
pub const PREFIX: &str = "original:";

/// What `plan` says beside a change to an adopted resource.
pub const NOTE: &str = "changed on an adopted resource, restored by `down`";

/// Original settings, by setting name (without [`PREFIX`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Originals(BTreeMap<String, Value>);

impl Originals {
    /// Notes a setting as it is now; `None`: it is absent.
    pub fn keep(&mut self, setting: &str, value: Option<Value>) {
        self.0
            .insert(setting.to_string(), value.unwrap_or(Value::Null));
    }

    /// Adds `other`'s settings (a setting noted twice keeps its first value).
    pub fn extend(&mut self, other: &Originals) {
        for (setting, value) in &other.0 {
            self.0
                .entry(setting.clone())
                .or_insert_with(|| value.clone());
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The settings recorded in a state record.
    pub fn of(recorded: &Recorded) -> Originals {
        Originals(
            recorded
                .extra
                .iter()
                .filter_map(|(key, text)| {
                    let setting = key.strip_prefix(PREFIX)?;
                    Some((setting.to_string(), serde_json::from_str(text).ok()?))
                })
                .collect(),
        )
    }

    /// Whether `setting` was recorded; `Some(None)`: it was absent.
    pub fn get(&self, setting: &str) -> Option<Option<&Value>> {
        self.0.get(setting).map(|v| (!v.is_null()).then_some(v))
    }

    /// Puts one recorded setting back: `remove` when it was absent, `put` with its recorded
    /// value otherwise (`put` says what it restored). What was done, for `down`'s report;
    /// `None` when the setting was never recorded (cattube did not change it).
    pub async fn put_back<R, P>(
        &self,
        setting: &str,
        what: &str,
        remove: impl FnOnce() -> R,
        put: impl FnOnce(Value) -> P,
    ) -> Result<Option<String>, crate::StepError>
    where
        R: std::future::Future<Output = Result<(), crate::StepError>>,
        P: std::future::Future<Output = Result<String, crate::StepError>>,
    {
        Ok(match self.get(setting) {
            None => None,
            Some(None) => {
                remove().await?;
                Some(format!("{what} (none)"))
            }
            Some(Some(was)) => Some(put(was.clone()).await?),
        })
    }

    /// Adds these settings to a record's `extra`, keeping any setting already recorded (the
    /// first reading is the owner's; a later one may be cattube's own). Whether it added any.
    pub fn record_into(&self, extra: &mut BTreeMap<String, String>) -> bool {
        let mut added = false;
        for (setting, value) in &self.0 {
            if let std::collections::btree_map::Entry::Vacant(entry) =
                extra.entry(format!("{PREFIX}{setting}"))
            {
                entry.insert(value.to_string());
                added = true;
            }
        }
        added
    }

    /// The `original:` entries of `from`, copied into `into` (a record rewritten from what
    /// `apply` returned keeps them).
    pub fn carry(from: &BTreeMap<String, String>, into: &mut BTreeMap<String, String>) {
        for (key, value) in from {
            if key.starts_with(PREFIX) {
                into.entry(key.clone()).or_insert_with(|| value.clone());
            }
        }
    }

    /// Whether a record holds anything for `down` to put back.
    pub fn recorded_in(recorded: &Recorded) -> bool {
        recorded.extra.keys().any(|k| k.starts_with(PREFIX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::step::Ownership;
    use serde_json::json;

    #[test]
    fn the_first_reading_of_a_setting_is_kept() {
        let mut extra = BTreeMap::new();
        let mut owner = Originals::default();
        owner.keep("policy", Some(json!({"Statement": []})));
        owner.keep("public-access-block", None);
        assert!(owner.record_into(&mut extra));
        let mut later = Originals::default();
        later.keep("policy", Some(json!("cattube's")));
        assert!(!later.record_into(&mut extra));
        let recorded = Recorded {
            name: "b".into(),
            arn: String::new(),
            ownership: Ownership::Adopted,
            extra,
        };
        let read = Originals::of(&recorded);
        assert_eq!(read, owner);
        assert_eq!(read.get("public-access-block"), Some(None));
        assert_eq!(read.get("policy"), Some(Some(&json!({"Statement": []}))));
        assert_eq!(read.get("encryption"), None);
    }
}
