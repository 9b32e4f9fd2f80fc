//! The state: what cattube created or adopted, per resource id. Versioned JSON that holds
//! names and ARNs, never secrets, kept by a [`StateStore`]: the local file ([`LocalFile`]:
//! written atomically with mode 0600, locked against a second concurrent run) or an S3
//! object shared by runners ([`S3Object`]: conditional writes, a lock object beside it).
//!
//! The store only moves bytes; [`State`] parses and checks the document, so that another
//! store is one more implementation and no change to the commands. A lock that outlives
//! the process is released on the way out by [`release_held`].

mod held;
mod local;
mod remote;

pub use held::release_held;
pub use local::LocalFile;
pub use remote::S3Object;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use cattube_stages::Recorded;
use serde::{Deserialize, Serialize};

use crate::error::UsageError;
use held::HELD;

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

/// Which stored document a write replaces: the version it was read or last written at (an
/// S3 ETag, for `If-Match`). A store whose lock alone keeps writers apart (the local file)
/// may return the same version every time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version(pub String);

/// A stored document: its text and the version it was read at.
#[derive(Debug, Clone)]
pub struct Stored {
    pub text: String,
    pub version: Version,
}

/// Where a stack's state lives. In the spirit of Terraform's remote state client (get, put,
/// delete, lock, unlock): it moves whole documents and never parses them.
///
/// Errors are the messages the user sees: a [`UsageError`] in their chain is exit 2 (bad
/// input: an unreadable store, a lock that cannot be made), anything else exit 1 (a lock
/// held by another run, a failed write).
#[async_trait]
pub trait StateStore: Send + Sync + std::fmt::Debug {
    /// How messages name it: "state file cattube.state.json".
    fn describe(&self) -> String;

    /// The stored document, or `None` when there is none yet.
    async fn load(&self) -> anyhow::Result<Option<Stored>>;

    /// Takes the exclusive lock of this run, at once or not at all: a second run fails
    /// instead of waiting. Held until [`StateStore::unlock`] or the process ends.
    async fn lock(&self) -> anyhow::Result<()>;

    /// Replaces the whole document, atomically: a crash leaves the old or the new one.
    /// `previous` is the version it replaces (`None`: there must be none yet); the result is
    /// the version written.
    async fn save(&self, text: String, previous: Option<Version>) -> anyhow::Result<Version>;

    /// Removes the document once the stack is gone (the lock stays held).
    async fn remove(&self, previous: Version) -> anyhow::Result<()>;

    /// Releases the lock taken by [`StateStore::lock`], if any.
    async fn unlock(&self) -> anyhow::Result<()>;

    /// Whether the lock outlives a process that exits without [`StateStore::unlock`] (an S3
    /// lock object does; a local file's lock goes with the process).
    fn lock_outlives_process(&self) -> bool {
        true
    }
}

/// The state of one stack for one run: the document in memory, saved to its store on every
/// change. Shared by the steps that run at once: reads and edits take a short lock that is
/// never held across an await; saves take turns on an async one, so a step waiting for the
/// disk does not hold up a runtime thread that others need.
#[derive(Debug)]
pub struct State {
    store: Arc<dyn StateStore>,
    doc: Mutex<Edited>,
    saved: tokio::sync::Mutex<Saved>,
}

#[derive(Debug)]
struct Edited {
    doc: StateDoc,
    /// Counts the edits, so that a save knows whether a later one already covered it.
    edits: u64,
    /// Whether the store holds the state (found there, or saved by this run).
    stored: bool,
}

#[derive(Debug)]
struct Saved {
    /// The stored version (`None`: nothing stored, neither found nor written by this run).
    version: Option<Version>,
    edits: u64,
}

impl State {
    /// Reads the stored state if there is one. A document that is not valid state is an
    /// error, and it is never overwritten.
    pub async fn load(store: Arc<dyn StateStore>, stack: &str) -> anyhow::Result<State> {
        let stored = store.load().await?;
        let (doc, version) = match stored {
            None => (
                StateDoc {
                    schema: SCHEMA,
                    stack: stack.to_string(),
                    account: String::new(),
                    region: String::new(),
                    resources: BTreeMap::new(),
                },
                None,
            ),
            Some(stored) => (
                parse(&store.describe(), &stored.text, stack)?,
                Some(stored.version),
            ),
        };
        Ok(State {
            store,
            doc: Mutex::new(Edited {
                doc,
                edits: 0,
                stored: version.is_some(),
            }),
            saved: tokio::sync::Mutex::new(Saved { version, edits: 0 }),
        })
    }

    /// Takes the store's exclusive lock.
    ///
    /// A held lock is exit 1, not 2: nothing is wrong with the command line or the input,
    /// the same command succeeds once the other run ends (as Terraform's "Error acquiring
    /// the state lock"), and a script may retry it. Nothing has been sent to AWS by then.
    /// A lock that cannot be made (a `--state` in a read-only place) is exit 2.
    ///
    /// A lock that outlives the process is registered for [`release_held`] before it is
    /// requested: a run stopped while the request is in flight may hold it already.
    pub async fn lock(&self) -> anyhow::Result<()> {
        if self.store.lock_outlives_process() {
            *HELD.lock().await = Some(self.store.clone());
        }
        self.store.lock().await
    }

    /// Releases the lock (a command that wrote, once it is done).
    pub async fn release(&self) -> anyhow::Result<()> {
        HELD.lock().await.take();
        self.store.unlock().await
    }

    fn edited(&self) -> std::sync::MutexGuard<'_, Edited> {
        self.doc.lock().expect("state lock")
    }

    /// The account of a state written before for `region`: a run may start its reads with
    /// it while STS confirms the credentials belong to it.
    pub fn recorded_account(&self, region: &str) -> Option<String> {
        let edited = self.edited();
        let doc = &edited.doc;
        (edited.stored && !doc.account.is_empty() && doc.region == region)
            .then(|| doc.account.clone())
    }

    /// Refuses a state of another account or region: its resources are not the ones these
    /// credentials and this region would touch.
    pub fn check_identity(&self, account: &str, region: &str) -> Result<(), UsageError> {
        let mut edited = self.edited();
        let stored = edited.stored;
        let doc = &mut edited.doc;
        if stored && !doc.account.is_empty() && (doc.account != account || doc.region != region) {
            return Err(UsageError::new(format!(
                "{} is for account {} in {}, but this run is account {account} in {region}: \
                 use the matching credentials and --region, or another --state",
                self.store.describe(),
                doc.account,
                doc.region
            )));
        }
        if doc.account != account || doc.region != region {
            doc.account = account.to_string();
            doc.region = region.to_string();
            edited.edits += 1;
        }
        Ok(())
    }

    pub fn get(&self, id: &str) -> Option<Recorded> {
        self.edited().doc.resources.get(id).cloned()
    }

    pub fn resources(&self) -> BTreeMap<String, Recorded> {
        self.edited().doc.resources.clone()
    }

    /// Records (or forgets, with `None`) one resource and saves the state: when it returns,
    /// the change is stored.
    pub async fn set(&self, id: &str, record: Option<Recorded>) -> anyhow::Result<()> {
        let (changed, stored) = {
            let mut edited = self.edited();
            let resources = &mut edited.doc.resources;
            let changed = match record {
                Some(record) => {
                    resources.insert(id.to_string(), record.clone()).as_ref() != Some(&record)
                }
                None => resources.remove(id).is_some(),
            };
            if changed {
                edited.edits += 1;
            }
            (changed, edited.stored)
        };
        if changed || !stored {
            self.save().await?;
        }
        Ok(())
    }

    /// Stores the document as it is now. Saves take turns, each writing the latest
    /// document, so that an older one never replaces a newer one.
    pub async fn save(&self) -> anyhow::Result<()> {
        let mut saved = self.saved.lock().await;
        let (text, edits) = {
            let edited = self.edited();
            let mut text = serde_json::to_string_pretty(&edited.doc)?;
            text.push('\n');
            (text, edited.edits)
        };
        if saved.version.is_some() && saved.edits == edits {
            // A save that started while this one waited stored this very document.
            return Ok(());
        }
        let version = self.store.save(text, saved.version.clone()).await?;
        *saved = Saved {
            version: Some(version),
            edits,
        };
        self.edited().stored = true;
        Ok(())
    }

    /// Makes `into` hold this state's document, and stores it (`state push`).
    pub async fn copy_into(&self, into: &State) -> anyhow::Result<()> {
        let doc = self.edited().doc.clone();
        {
            let mut edited = into.edited();
            edited.doc = doc;
            edited.edits += 1;
        }
        into.save().await
    }

    /// Removes the stored state once the stack is gone; the lock stays held.
    pub async fn remove(&self) -> anyhow::Result<()> {
        let mut saved = self.saved.lock().await;
        if let Some(version) = saved.version.take() {
            self.store.remove(version).await?;
            self.edited().stored = false;
        }
        Ok(())
    }
}

/// Parses a stored document: what is not valid state is refused, naming the store.
fn parse(place: &str, text: &str, stack: &str) -> Result<StateDoc, UsageError> {
    let probe: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        UsageError::new(format!(
            "{place} is not valid JSON ({e}); it was left untouched"
        ))
    })?;
    if let Some(schema) = probe
        .get("schema")
        .and_then(|s| s.as_u64())
        .filter(|s| *s > SCHEMA as u64)
    {
        return Err(UsageError::new(format!(
            "{place} has schema {schema}, written by a newer cattube (this one reads schema {SCHEMA})"
        )));
    }
    let doc: StateDoc = serde_json::from_value(probe).map_err(|e| {
        UsageError::new(format!(
            "{place} is not cattube state ({e}); it was left untouched"
        ))
    })?;
    if doc.stack != stack {
        return Err(UsageError::new(format!(
            "{place} belongs to stack '{}', not '{stack}': pass --stack {} or another --state",
            doc.stack, doc.stack
        )));
    }
    Ok(doc)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use cattube_stages::Ownership;

    pub(crate) fn record(name: &str) -> Recorded {
        Recorded {
            name: name.into(),
            arn: format!("arn:aws:s3:::{name}"),
            ownership: Ownership::Created,
            extra: BTreeMap::new(),
        }
    }

    /// A store that refuses a write naming another version than the stored one, as S3's
    /// `If-Match` (or `If-None-Match: *` for the first) does.
    #[derive(Debug, Default)]
    struct Conditional {
        stored: Mutex<Option<(String, u64)>>,
    }

    #[async_trait]
    impl StateStore for Conditional {
        fn describe(&self) -> String {
            "state object".into()
        }
        async fn load(&self) -> anyhow::Result<Option<Stored>> {
            Ok(self.stored.lock().unwrap().clone().map(|(text, n)| Stored {
                text,
                version: Version(n.to_string()),
            }))
        }
        async fn lock(&self) -> anyhow::Result<()> {
            Ok(())
        }
        async fn save(&self, text: String, previous: Option<Version>) -> anyhow::Result<Version> {
            tokio::task::yield_now().await;
            let mut stored = self.stored.lock().unwrap();
            let current = stored.as_ref().map(|(_, n)| Version(n.to_string()));
            anyhow::ensure!(
                previous == current,
                "precondition failed: {previous:?} is not {current:?}"
            );
            let next = stored.as_ref().map_or(1, |(_, n)| n + 1);
            *stored = Some((text, next));
            Ok(Version(next.to_string()))
        }
        async fn remove(&self, previous: Version) -> anyhow::Result<()> {
            let mut stored = self.stored.lock().unwrap();
            let current = stored.as_ref().map(|(_, n)| Version(n.to_string()));
            anyhow::ensure!(Some(&previous) == current.as_ref(), "precondition failed");
            *stored = None;
            Ok(())
        }
        async fn unlock(&self) -> anyhow::Result<()> {
            Ok(())
        }
    }

    /// Every save names the version it replaces, so a store with conditional writes (S3)
    /// accepts each of a run's saves, however many steps record at once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_save_names_the_version_it_replaces() {
        let store = Arc::new(Conditional::default());
        let state = Arc::new(State::load(store.clone(), "cattube").await.unwrap());
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..16 {
            let state = state.clone();
            tasks.spawn(async move {
                let id = format!("r{i}");
                state.set(&id, Some(record(&id))).await
            });
        }
        while let Some(done) = tasks.join_next().await {
            done.unwrap().unwrap();
        }
        let again = State::load(store.clone(), "cattube").await.unwrap();
        assert_eq!(again.resources().len(), 16);
        for i in 0..16 {
            again.set(&format!("r{i}"), None).await.unwrap();
        }
        again.remove().await.unwrap();
        assert!(store.stored.lock().unwrap().is_none());
    }
}
