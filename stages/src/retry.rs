//! Bounded retries for what AWS has not propagated yet: a role a minute old that Lambda
//! cannot assume, an invoke permission S3 cannot see. Exponential backoff from 0.5 s, capped
//! at 8 s, for at most `settings.propagation_timeout` (`CATTUBE_PROPAGATION_TIMEOUT`), after
//! which the last error is returned as it is.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::StackContext;

const FIRST_DELAY: Duration = Duration::from_millis(500);
const MAX_DELAY: Duration = Duration::from_secs(8);

/// Runs `op` until it succeeds, fails with an error `retryable` refuses, or the propagation
/// timeout would be exceeded by the next wait.
pub async fn retry_while<T, E, F, Fut>(
    ctx: &StackContext,
    retryable: impl Fn(&E) -> bool,
    op: F,
) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    retry_within(ctx.settings.propagation_timeout, retryable, op).await
}

/// [`retry_while`] with an explicit bound.
pub async fn retry_within<T, E, F, Fut>(
    bound: Duration,
    retryable: impl Fn(&E) -> bool,
    mut op: F,
) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let started = Instant::now();
    let mut delay = FIRST_DELAY;
    loop {
        match op().await {
            Ok(value) => return Ok(value),
            Err(err) if retryable(&err) && started.elapsed() + delay <= bound => {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(MAX_DELAY);
            }
            Err(err) => return Err(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn retries_until_success_within_the_bound() {
        let calls = AtomicU32::new(0);
        let result: Result<u32, &str> = retry_within(
            Duration::from_secs(3),
            |e| *e == "not yet",
            || async {
                let n = calls.fetch_add(1, Ordering::SeqCst);
                if n < 2 {
                    Err("not yet")
                } else {
                    Ok(n)
                }
            },
        )
        .await;
        assert_eq!(result, Ok(2));
    }

    #[tokio::test]
    async fn gives_up_after_the_bound_and_never_retries_other_errors() {
        let calls = AtomicU32::new(0);
        let result: Result<(), &str> = retry_within(
            Duration::from_secs(1),
            |e| *e == "not yet",
            || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err("not yet")
            },
        )
        .await;
        assert_eq!(result, Err("not yet"));
        // A 0.5 s wait fits in 1 s; the next (1 s more) would not.
        assert_eq!(calls.load(Ordering::SeqCst), 2);

        calls.store(0, Ordering::SeqCst);
        let result: Result<(), &str> = retry_within(
            Duration::from_secs(60),
            |e| *e == "not yet",
            || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err("denied")
            },
        )
        .await;
        assert_eq!(result, Err("denied"));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
