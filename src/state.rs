//! The state: what cattube created or adopted, per resource id. Versioned JSON that holds
//! names and ARNs, never secrets, kept by a [`StateStore`]: today the local file
//! ([`LocalFile`]: written atomically with mode 0600, locked against a second concurrent run).
//!
//! The store only moves bytes; [`State`] parses and checks the document, so that another
//! store (an S3 object written with conditional requests) is one more implementation and
//! no change to the commands.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use async_trait::async_trait;
use cattube_stages::remote_state::{Expect, LockHolder, RemoteObject, WriteError};
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

/// The state file on the local disk: replaced by a rename of a complete, fsynced temporary
/// file (mode 0600), locked with a `.lock` file beside it (the state file itself is replaced
/// on every write). Its exclusive lock keeps other writers out, so it needs no versions.
#[derive(Debug)]
pub struct LocalFile {
    path: PathBuf,
    lock: Mutex<Option<File>>,
}

/// The local file's version: the lock, not the version, keeps writers apart.
const LOCAL_VERSION: &str = "local";

impl LocalFile {
    pub fn new(path: &Path) -> LocalFile {
        LocalFile {
            path: path.to_path_buf(),
            lock: Mutex::new(None),
        }
    }

    fn lock_path(&self) -> PathBuf {
        let mut name = self.path.file_name().unwrap_or_default().to_os_string();
        name.push(".lock");
        self.path.with_file_name(name)
    }

    fn write(path: &Path, text: &str) -> anyhow::Result<()> {
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let mut file = tempfile::Builder::new()
            .prefix(".cattube-state")
            .tempfile_in(&dir)
            .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
        file.write_all(text.as_bytes())?;
        file.as_file().sync_all()?;
        // tempfile creates files with mode 0600 already; the rename keeps it.
        file.persist(path)
            .with_context(|| format!("writing the state file {}", path.display()))?;
        // The rename is durable only once the directory is synced: say so if it cannot be.
        File::open(&dir)
            .and_then(|dir| dir.sync_all())
            .with_context(|| {
                format!(
                    "the state file {} was written, but syncing its folder {} failed (a crash \
                     now could lose the new state)",
                    path.display(),
                    dir.display()
                )
            })?;
        Ok(())
    }
}

/// Runs file work (an fsync can take a while) off the runtime's threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .context("the state file task")?
}

#[async_trait]
impl StateStore for LocalFile {
    fn describe(&self) -> String {
        format!("state file {}", self.path.display())
    }

    async fn load(&self) -> anyhow::Result<Option<Stored>> {
        let path = self.path.clone();
        blocking(move || match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Some(Stored {
                text,
                version: Version(LOCAL_VERSION.into()),
            })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(UsageError::new(format!(
                "state file {}: cannot read it: {e}",
                path.display()
            ))
            .into()),
        })
        .await
    }

    async fn lock(&self) -> anyhow::Result<()> {
        let lock_path = self.lock_path();
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
                *self.lock.lock().expect("lock file") = Some(file);
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

    async fn save(&self, text: String, _previous: Option<Version>) -> anyhow::Result<Version> {
        let path = self.path.clone();
        blocking(move || LocalFile::write(&path, &text)).await?;
        Ok(Version(LOCAL_VERSION.into()))
    }

    /// The lock file stays: unlinking it while held would let a run that opened it just
    /// before lock the orphaned file, and the next run lock a new one, so that two runs
    /// would work at once.
    async fn remove(&self, _previous: Version) -> anyhow::Result<()> {
        let path = self.path.clone();
        blocking(move || {
            std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))
        })
        .await
    }

    async fn unlock(&self) -> anyhow::Result<()> {
        // Closing the file releases the lock.
        self.lock.lock().expect("lock file").take();
        Ok(())
    }

    fn lock_outlives_process(&self) -> bool {
        false
    }
}

/// The state as an S3 object shared by every runner, locked by a `<key>.lock` object beside
/// it. Every write is conditional on the ETag this run read or last wrote, so a run whose
/// state changed under it (its lock was cleared and another run wrote) stops instead of
/// overwriting; the lock is created with `If-None-Match: *`, so exactly one run gets it.
#[derive(Debug)]
pub struct S3Object {
    state: RemoteObject,
    lock: RemoteObject,
    /// Where the state bucket is created when missing.
    region: String,
    command: String,
    /// The lock object this run wrote or may have written.
    ours: Mutex<Option<OwnLock>>,
}

/// This run's lock object: its body, unique to the run ([`LockHolder::run`]), recorded
/// before the PutObject is sent, and its ETag once S3 has answered. A run stopped between
/// S3 storing the lock and the answer arriving still knows what it may have written.
#[derive(Debug)]
struct OwnLock {
    body: String,
    etag: Option<String>,
}

impl S3Object {
    pub fn new(state: RemoteObject, region: &str, command: &str) -> S3Object {
        let lock = state.sibling(&format!("{}.lock", state.key));
        S3Object {
            state,
            lock,
            region: region.to_string(),
            command: command.to_string(),
            ours: Mutex::new(None),
        }
    }

    pub fn object(&self) -> &RemoteObject {
        &self.state
    }

    /// Who holds the lock, if anyone (an unreadable lock document is shown as it is).
    pub async fn holder(&self) -> anyhow::Result<Option<String>> {
        Ok(self.lock.get().await?.map(|lock| {
            match serde_json::from_str::<LockHolder>(&lock.text) {
                Ok(holder) => holder.describe(),
                Err(_) => format!("an unreadable lock ({})", lock.text.trim()),
            }
        }))
    }

    /// Removes whoever's lock there is (`cattube state unlock`).
    pub async fn break_lock(&self) -> anyhow::Result<()> {
        self.lock.delete(None).await?;
        Ok(())
    }

    fn holding(&self, etag: String) {
        if let Some(ours) = self.ours.lock().expect("own lock").as_mut() {
            ours.etag = Some(etag);
        }
    }

    /// The ETag of the lock object if its body is the one this run wrote, else `None`.
    async fn own_lock_etag(&self) -> anyhow::Result<Option<String>> {
        let Some(body) = self
            .ours
            .lock()
            .expect("own lock")
            .as_ref()
            .map(|ours| ours.body.clone())
        else {
            return Ok(None);
        };
        let found = self
            .lock
            .get()
            .await
            .with_context(|| format!("reading the lock {}", self.lock.url()))?;
        Ok(found.filter(|lock| lock.text == body).map(|lock| lock.etag))
    }

    fn changed(&self, err: WriteError) -> anyhow::Error {
        match err {
            WriteError::Changed { code, .. } => anyhow::anyhow!(
                "the state {} changed since this run read it ({code}): another run wrote it, \
                 so this run stopped and overwrote nothing; check `cattube state pull` and run \
                 the command again",
                self.state.url()
            ),
            WriteError::Aws(err) => err.into(),
        }
    }
}

/// The store whose lock this process holds, released by [`release_held`] when a run ends
/// without reaching its own release (an error before the walk, a Ctrl-C before it, a
/// second Ctrl-C, one at a prompt). Only a lock that outlives the process is kept here: a
/// local file's lock goes with the process, or with its `State` when that is dropped.
/// An async lock, held while releasing: a second Ctrl-C during the release after the first
/// waits for it instead of exiting with the lock still there.
static HELD: tokio::sync::Mutex<Option<Arc<dyn StateStore>>> = tokio::sync::Mutex::const_new(None);

/// Releases the lock this process still holds, if any, within a few seconds. What went
/// wrong, for the caller to print: a lock left behind blocks every later run until
/// `cattube state unlock`.
pub async fn release_held() -> Option<String> {
    let mut held = HELD.lock().await;
    let store = held.take()?;
    let failed = match tokio::time::timeout(RELEASE_WAIT, store.unlock()).await {
        Ok(Ok(())) => return None,
        Ok(Err(err)) => format!("{err:#}"),
        Err(_) => format!("no answer within {} s", RELEASE_WAIT.as_secs()),
    };
    Some(format!(
        "releasing the lock of {} failed ({failed}): `cattube state unlock` clears it",
        store.describe()
    ))
}

/// How long [`release_held`] waits for the lock's release.
const RELEASE_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

#[async_trait]
impl StateStore for S3Object {
    fn describe(&self) -> String {
        format!("state {}", self.state.url())
    }

    async fn load(&self) -> anyhow::Result<Option<Stored>> {
        Ok(self.state.get().await?.map(|fetched| Stored {
            text: fetched.text,
            version: Version(fetched.etag),
        }))
    }

    async fn lock(&self) -> anyhow::Result<()> {
        // A bucket made here belongs to no stack: `down` never deletes it.
        self.state.ensure_bucket(&self.region).await?;
        let holder = LockHolder::this_process(&self.command, env!("CARGO_PKG_VERSION"));
        let text = serde_json::to_string_pretty(&holder)? + "\n";
        *self.ours.lock().expect("own lock") = Some(OwnLock {
            body: text.clone(),
            etag: None,
        });
        match self.lock.put(text, &Expect::Absent).await {
            Ok(etag) => {
                self.holding(etag);
                Ok(())
            }
            Err(WriteError::Changed { .. }) => {
                // The SDK's retry of a PutObject whose answer was lost finds this run's own
                // lock: that is the lock taken, not a lock held by another run.
                if let Some(etag) = self.own_lock_etag().await? {
                    self.holding(etag);
                    return Ok(());
                }
                self.ours.lock().expect("own lock").take();
                let holder = self
                    .holder()
                    .await
                    .ok()
                    .flatten()
                    .unwrap_or_else(|| "another run".into());
                Err(anyhow::anyhow!(
                    "{} is locked by {holder}; nothing was done: run this again once it has \
                     finished, or, if that run is gone, clear the lock with `cattube state unlock`",
                    self.state.url()
                ))
            }
            Err(WriteError::Aws(err)) => {
                Err(anyhow::Error::new(err).context(format!("locking {}", self.state.url())))
            }
        }
    }

    async fn save(&self, text: String, previous: Option<Version>) -> anyhow::Result<Version> {
        let expect = match previous {
            None => Expect::Absent,
            Some(Version(etag)) => Expect::Etag(etag),
        };
        let etag = self
            .state
            .put(text, &expect)
            .await
            .map_err(|e| self.changed(e))?;
        Ok(Version(etag))
    }

    async fn remove(&self, previous: Version) -> anyhow::Result<()> {
        self.state
            .delete(Some(&previous.0))
            .await
            .map_err(|e| self.changed(e))
    }

    /// Deletes the lock only if it is still the one this run created: by the ETag S3
    /// answered, or, when no answer came, by the ETag of a lock object whose body is this
    /// run's.
    async fn unlock(&self) -> anyhow::Result<()> {
        let answered = match self.ours.lock().expect("own lock").as_ref() {
            None => return Ok(()),
            Some(ours) => ours.etag.clone(),
        };
        let etag = match answered {
            Some(etag) => Some(etag),
            None => self.own_lock_etag().await?,
        };
        self.ours.lock().expect("own lock").take();
        if let Some(etag) = etag {
            match self.lock.delete(Some(&etag)).await {
                Ok(()) | Err(WriteError::Changed { .. }) => {}
                Err(WriteError::Aws(err)) => {
                    return Err(anyhow::Error::new(err).context(format!(
                        "releasing the lock {}: clear it with `cattube state unlock`",
                        self.lock.url()
                    )))
                }
            }
        }
        Ok(())
    }
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

    async fn load(path: &Path) -> anyhow::Result<State> {
        State::load(Arc::new(LocalFile::new(path)), "cattube").await
    }

    #[tokio::test]
    async fn round_trip_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let state = load(&path).await.unwrap();
        state.check_identity("111111111111", "eu-west-1").unwrap();
        state.set("source-bucket", Some(record("b"))).await.unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let again = load(&path).await.unwrap();
        assert_eq!(again.get("source-bucket"), Some(record("b")));
        assert_eq!(
            again.recorded_account("eu-west-1").as_deref(),
            Some("111111111111")
        );
    }

    #[tokio::test]
    async fn corrupt_file_is_refused_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        std::fs::write(&path, "{not json").unwrap();
        let err = load(&path).await.unwrap_err();
        assert!(err.to_string().contains("not valid JSON"), "{err}");
        assert!(err.is::<UsageError>());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{not json");
    }

    #[tokio::test]
    async fn other_account_or_region_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let state = load(&path).await.unwrap();
        state.check_identity("111111111111", "eu-west-1").unwrap();
        state.save().await.unwrap();
        let again = load(&path).await.unwrap();
        assert!(again.check_identity("222222222222", "eu-west-1").is_err());
        assert!(again.check_identity("111111111111", "us-east-1").is_err());
        assert!(again.check_identity("111111111111", "eu-west-1").is_ok());
    }

    /// Steps record at once from many tasks: every record is stored, none lost to an older
    /// document written last, and no task blocks a runtime thread while the disk syncs.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_records_are_all_stored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let state = Arc::new(load(&path).await.unwrap());
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..24 {
            let (state, path) = (state.clone(), path.clone());
            tasks.spawn(async move {
                let id = format!("r{i}");
                state.set(&id, Some(record(&id))).await.unwrap();
                // When `set` returns, its record is on disk.
                let on_disk = std::fs::read_to_string(&path).unwrap();
                assert!(on_disk.contains(&format!("\"r{i}\"")), "r{i} not saved");
            });
        }
        while let Some(done) = tasks.join_next().await {
            done.unwrap();
        }
        let again = load(&path).await.unwrap();
        assert_eq!(again.resources().len(), 24);
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

    #[tokio::test]
    async fn second_lock_fails_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let first = load(&path).await.unwrap();
        first.lock().await.unwrap();
        let second = load(&path).await.unwrap();
        let err = second.lock().await.unwrap_err();
        assert!(err.to_string().contains("another cattube"), "{err}");
        // Not bad usage (exit 2) but a failed run (exit 1): the same command works later.
        assert!(!err.is::<UsageError>());
        first.release().await.unwrap();
        second.lock().await.expect("the lock is free once released");
    }

    /// Three runs: while the first holds the lock (also after it removed the state file at
    /// the end of a `down`), neither of the others gets it; once it ends, exactly one does.
    #[tokio::test]
    async fn the_lock_excludes_every_concurrent_run() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let first = load(&path).await.unwrap();
        first.lock().await.unwrap();
        first.check_identity("111111111111", "eu-west-1").unwrap();
        first.save().await.unwrap();
        // The second run opened the lock file before the first removed the stack's files.
        let second = load(&path).await.unwrap();
        assert!(
            second.lock().await.is_err(),
            "the second run locked a held lock"
        );
        first.remove().await.unwrap();
        assert!(!path.exists(), "the state file outlived remove");
        let third = load(&path).await.unwrap();
        assert!(
            third.lock().await.is_err(),
            "the third run locked while the first held it"
        );
        assert!(
            second.lock().await.is_err(),
            "the second run locked while the first held it"
        );
        drop(first);
        second
            .lock()
            .await
            .expect("the lock is free once the first run ended");
        let third = load(&path).await.unwrap();
        let err = third
            .lock()
            .await
            .expect_err("the third run locked while the second held it");
        assert!(err.to_string().contains("another cattube"), "{err}");
    }
}

#[cfg(test)]
mod release_tests {
    use super::*;

    /// A shared store whose lock cannot be released (the network is gone).
    #[derive(Debug)]
    struct Unreleasable;

    #[async_trait]
    impl StateStore for Unreleasable {
        fn describe(&self) -> String {
            "state s3://b/cattube.state.json".into()
        }
        async fn load(&self) -> anyhow::Result<Option<Stored>> {
            Ok(None)
        }
        async fn lock(&self) -> anyhow::Result<()> {
            Ok(())
        }
        async fn save(&self, _: String, _: Option<Version>) -> anyhow::Result<Version> {
            anyhow::bail!("not in this test")
        }
        async fn remove(&self, _: Version) -> anyhow::Result<()> {
            Ok(())
        }
        async fn unlock(&self) -> anyhow::Result<()> {
            anyhow::bail!("AccessDenied: injected")
        }
        fn lock_outlives_process(&self) -> bool {
            true
        }
    }

    #[tokio::test]
    async fn a_failed_release_is_reported_naming_the_store_and_the_way_out() {
        let state = State::load(Arc::new(Unreleasable), "cattube")
            .await
            .unwrap();
        state.lock().await.unwrap();
        let failed = release_held().await.expect("the failure is reported");
        assert!(
            failed.contains("state s3://b/cattube.state.json")
                && failed.contains("AccessDenied: injected")
                && failed.contains("cattube state unlock"),
            "{failed}"
        );
        // Nothing held any more: a second call has nothing to say.
        assert_eq!(release_held().await, None);
    }
}
