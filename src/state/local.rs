//! The state file on the local disk.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::Context;
use async_trait::async_trait;

use super::{StateStore, Stored, Version};
use crate::error::UsageError;

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

#[cfg(test)]
mod tests {
    use super::super::tests::record;
    use super::super::State;
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::sync::Arc;

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
