//! The state as an S3 object shared by runners, with its lock object.

use std::sync::Mutex;

use anyhow::Context;
use async_trait::async_trait;
use cattube_stages::remote_state::{Expect, LockHolder, RemoteObject, WriteError};

use super::{StateStore, Stored, Version};

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
