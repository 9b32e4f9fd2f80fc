//! The state file: what cattube created or adopted, per resource id. Versioned JSON,
//! written atomically (temp file, fsync, rename) with mode 0600, and locked against a
//! second concurrent run. It holds names and ARNs, never secrets.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use cattube_stages::Recorded;
use serde::{Deserialize, Serialize};

use crate::error::UsageError;

pub const SCHEMA: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StateDoc {
    pub schema: u32,
    pub stack: String,
    pub account: String,
    pub region: String,
    #[serde(default)]
    pub resources: BTreeMap<String, Recorded>,
}

/// The state of one stack, loaded once per run.
#[derive(Debug)]
pub struct State {
    path: PathBuf,
    doc: StateDoc,
    /// Whether the file existed or has been written by this run.
    on_disk: bool,
    /// Held for the whole run by commands that write; released when the process exits.
    _lock: Option<File>,
}

impl State {
    /// Reads the state file if there is one. A file that is not valid state is an error,
    /// and it is never overwritten.
    pub fn load(path: &Path, stack: &str) -> Result<State, UsageError> {
        let empty = StateDoc {
            schema: SCHEMA,
            stack: stack.to_string(),
            account: String::new(),
            region: String::new(),
            resources: BTreeMap::new(),
        };
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(State {
                    path: path.to_path_buf(),
                    doc: empty,
                    on_disk: false,
                    _lock: None,
                })
            }
            Err(e) => {
                return Err(UsageError::new(format!(
                    "state file {}: cannot read it: {e}",
                    path.display()
                )))
            }
        };
        let probe: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
            UsageError::new(format!(
                "state file {} is not valid JSON ({e}); it was left untouched",
                path.display()
            ))
        })?;
        if let Some(schema) = probe
            .get("schema")
            .and_then(|s| s.as_u64())
            .filter(|s| *s > SCHEMA as u64)
        {
            return Err(UsageError::new(format!(
                "state file {} has schema {schema}, written by a newer cattube (this one reads schema {SCHEMA})",
                path.display()
            )));
        }
        let doc: StateDoc = serde_json::from_value(probe).map_err(|e| {
            UsageError::new(format!(
                "state file {} is not cattube state ({e}); it was left untouched",
                path.display()
            ))
        })?;
        if doc.stack != stack {
            return Err(UsageError::new(format!(
                "state file {} belongs to stack '{}', not '{stack}': pass --stack {} or another --state",
                path.display(),
                doc.stack,
                doc.stack
            )));
        }
        Ok(State {
            path: path.to_path_buf(),
            doc,
            on_disk: true,
            _lock: None,
        })
    }

    /// Takes the exclusive lock (a `.lock` file beside the state, since the state file
    /// itself is replaced on every write). A second run fails at once instead of waiting.
    ///
    /// A held lock is exit 1, not 2: nothing is wrong with the command line or the input,
    /// the same command succeeds once the other run ends (as Terraform's "Error acquiring
    /// the state lock"), and a script may retry it. Nothing has been sent to AWS by then.
    /// A lock file that cannot be created (a `--state` in a read-only place) is exit 2.
    pub fn lock(&mut self) -> anyhow::Result<()> {
        let lock_path = lock_path(&self.path);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| {
                UsageError::new(format!(
                    "cannot create the lock file {}: {e}",
                    lock_path.display()
                ))
            })?;
        match file.try_lock() {
            Ok(()) => {
                self._lock = Some(file);
                Ok(())
            }
            Err(std::fs::TryLockError::WouldBlock) => Err(anyhow::anyhow!(
                "another cattube is working on {} (lock {} is held); nothing was done: run this again once it has finished",
                self.path.display(),
                lock_path.display()
            )),
            Err(std::fs::TryLockError::Error(e)) => Err(UsageError::new(format!(
                "cannot lock {}: {e}",
                lock_path.display()
            ))
            .into()),
        }
    }

    /// The account of a state file written before for `region`: a run may start its reads
    /// with it while STS confirms the credentials belong to it.
    pub fn recorded_account(&self, region: &str) -> Option<&str> {
        (self.on_disk && !self.doc.account.is_empty() && self.doc.region == region)
            .then_some(self.doc.account.as_str())
    }

    /// Refuses a state file of another account or region: its resources are not the ones
    /// these credentials and this region would touch.
    pub fn check_identity(&mut self, account: &str, region: &str) -> Result<(), UsageError> {
        if self.on_disk
            && !self.doc.account.is_empty()
            && (self.doc.account != account || self.doc.region != region)
        {
            return Err(UsageError::new(format!(
                "state file {} is for account {} in {}, but this run is account {account} in {region}: \
                 use the matching credentials and --region, or another --state",
                self.path.display(),
                self.doc.account,
                self.doc.region
            )));
        }
        self.doc.account = account.to_string();
        self.doc.region = region.to_string();
        Ok(())
    }

    pub fn get(&self, id: &str) -> Option<&Recorded> {
        self.doc.resources.get(id)
    }

    pub fn resources(&self) -> &BTreeMap<String, Recorded> {
        &self.doc.resources
    }

    /// Records (or forgets, with `None`) one resource and writes the file.
    pub fn set(&mut self, id: &str, record: Option<Recorded>) -> anyhow::Result<()> {
        let changed = match record {
            Some(record) => {
                self.doc
                    .resources
                    .insert(id.to_string(), record.clone())
                    .as_ref()
                    != Some(&record)
            }
            None => self.doc.resources.remove(id).is_some(),
        };
        if changed || !self.on_disk {
            self.save()?;
        }
        Ok(())
    }

    /// Writes the whole document atomically: a crash leaves either the old or the new file.
    pub fn save(&mut self) -> anyhow::Result<()> {
        let dir = match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let mut file = tempfile::Builder::new()
            .prefix(".cattube-state")
            .tempfile_in(&dir)
            .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
        let mut text = serde_json::to_string_pretty(&self.doc)?;
        text.push('\n');
        file.write_all(text.as_bytes())?;
        file.as_file().sync_all()?;
        // tempfile creates files with mode 0600 already; the rename keeps it.
        file.persist(&self.path)
            .with_context(|| format!("writing the state file {}", self.path.display()))?;
        if let Ok(dir) = File::open(&dir) {
            let _ = dir.sync_all();
        }
        self.on_disk = true;
        Ok(())
    }

    /// Removes the state file once the stack is gone. The lock file stays: unlinking it
    /// while held would let a run that opened it just before lock the orphaned file, and
    /// the next run lock a new one, so that two runs would work at once.
    pub fn remove_file(&mut self) -> anyhow::Result<()> {
        if self.on_disk {
            std::fs::remove_file(&self.path)
                .with_context(|| format!("removing {}", self.path.display()))?;
            self.on_disk = false;
        }
        Ok(())
    }
}

fn lock_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cattube_stages::Ownership;
    use std::os::unix::fs::PermissionsExt;

    fn record(name: &str) -> Recorded {
        Recorded {
            name: name.into(),
            arn: format!("arn:aws:s3:::{name}"),
            ownership: Ownership::Created,
            extra: BTreeMap::new(),
        }
    }

    #[test]
    fn round_trip_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let mut state = State::load(&path, "cattube").unwrap();
        state.check_identity("111111111111", "eu-west-1").unwrap();
        state.set("source-bucket", Some(record("b"))).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let again = State::load(&path, "cattube").unwrap();
        assert_eq!(again.get("source-bucket"), Some(&record("b")));
        assert_eq!(again.doc.account, "111111111111");
    }

    #[test]
    fn corrupt_file_is_refused_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        std::fs::write(&path, "{not json").unwrap();
        let err = State::load(&path, "cattube").unwrap_err();
        assert!(err.to_string().contains("not valid JSON"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{not json");
    }

    #[test]
    fn other_account_or_region_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let mut state = State::load(&path, "cattube").unwrap();
        state.check_identity("111111111111", "eu-west-1").unwrap();
        state.save().unwrap();
        let mut again = State::load(&path, "cattube").unwrap();
        assert!(again.check_identity("222222222222", "eu-west-1").is_err());
        assert!(again.check_identity("111111111111", "us-east-1").is_err());
        assert!(again.check_identity("111111111111", "eu-west-1").is_ok());
    }

    #[test]
    fn second_lock_fails_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let mut first = State::load(&path, "cattube").unwrap();
        first.lock().unwrap();
        let mut second = State::load(&path, "cattube").unwrap();
        let err = second.lock().unwrap_err();
        assert!(err.to_string().contains("another cattube"), "{err}");
        // Not bad usage (exit 2) but a failed run (exit 1): the same command works later.
        assert!(!err.is::<UsageError>());
    }

    /// Three runs: while the first holds the lock (also after it removed the state file at
    /// the end of a `down`), neither of the others gets it; once it ends, exactly one does.
    #[test]
    fn the_lock_excludes_every_concurrent_run() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let mut first = State::load(&path, "cattube").unwrap();
        first.lock().unwrap();
        first.check_identity("111111111111", "eu-west-1").unwrap();
        first.save().unwrap();
        // The second run opened the lock file before the first removed the stack's files.
        let mut second = State::load(&path, "cattube").unwrap();
        assert!(second.lock().is_err(), "the second run locked a held lock");
        first.remove_file().unwrap();
        let mut third = State::load(&path, "cattube").unwrap();
        assert!(
            third.lock().is_err(),
            "the third run locked while the first held it"
        );
        assert!(
            second.lock().is_err(),
            "the second run locked while the first held it"
        );
        drop(first);
        second
            .lock()
            .expect("the lock is free once the first run ended");
        let mut third = State::load(&path, "cattube").unwrap();
        let err = third
            .lock()
            .expect_err("the third run locked while the second held it");
        assert!(err.to_string().contains("another cattube"), "{err}");
    }
}
