//! The lock a run still holds when it ends without its own release.

use std::sync::Arc;

use super::StateStore;

/// The store whose lock this process holds, released by [`release_held`] when a run ends
/// without reaching its own release (an error before the walk, a Ctrl-C before it, a
/// second Ctrl-C, one at a prompt). Only a lock that outlives the process is kept here: a
/// local file's lock goes with the process, or with its `State` when that is dropped.
/// An async lock, held while releasing: a second Ctrl-C during the release after the first
/// waits for it instead of exiting with the lock still there.
pub(super) static HELD: tokio::sync::Mutex<Option<Arc<dyn StateStore>>> =
    tokio::sync::Mutex::const_new(None);

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

#[cfg(test)]
mod tests {
    use super::super::{State, Stored, Version};
    use super::*;
    use async_trait::async_trait;

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
