//! One way to wait on AWS: [`poll_until`] for a state that takes time to reach (a
//! distribution deploying, a function updating), and bounded retries for what AWS has not
//! propagated yet: a role a minute old that Lambda
//! cannot assume, an invoke permission S3 cannot see. Exponential backoff from 0.5 s, capped
//! at 8 s, for at most `settings.propagation_timeout` (`CATTUBE_PROPAGATION_TIMEOUT`), after
//! which the last error is returned as it is.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::{StackContext, StepError};

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

/// How often a call refused because a new role has not reached Lambda yet is tried again.
/// Not an exponential backoff: IAM propagation ends at one moment, and every doubling past
/// it is time the whole `up` waits (0.5 s doubling overshoots a 5 s propagation by 2.5 s).
/// Four calls a second stay well within Lambda's control-plane rate quota (15 per second).
pub const PROPAGATION_POLL: Duration = Duration::from_millis(250);

/// Runs `op` every [`PROPAGATION_POLL`] while it fails with an error `retryable` accepts,
/// for at most `settings.propagation_timeout`: for an answer that turns into success at a
/// moment AWS does not announce (a role becoming assumable).
pub async fn retry_propagation<T, E, F, Fut>(
    ctx: &StackContext,
    retryable: impl Fn(&E) -> bool,
    op: F,
) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let bound = ctx.settings.propagation_timeout;
    retry_pacing(bound, PROPAGATION_POLL, |d| d, retryable, op).await
}

/// The one retry policy for what AWS has not settled yet (an ETag just changed, an OAC still
/// in use): `op` again, after the bounded backoff, while it fails with one of `codes`.
/// `waiting` hears each error that is retried.
pub async fn retry_codes<T, F, Fut>(
    bound: Duration,
    codes: &[&str],
    waiting: impl Fn(&StepError),
    op: F,
) -> Result<T, StepError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StepError>>,
{
    let retryable = |err: &StepError| {
        let retry = err.code().is_some_and(|code| codes.contains(&code));
        if retry {
            waiting(err);
        }
        retry
    };
    retry_within(bound, retryable, op).await
}

/// [`retry_while`] with an explicit bound.
pub async fn retry_within<T, E, F, Fut>(
    bound: Duration,
    retryable: impl Fn(&E) -> bool,
    op: F,
) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let backoff = |delay: Duration| (delay * 2).min(MAX_DELAY);
    retry_pacing(bound, FIRST_DELAY, backoff, retryable, op).await
}

/// The retry loop: `op` again `delay` after the failed call was sent, then `next(delay)`
/// after the next…, while it fails with an error `retryable` accepts and the next wait
/// stays within `bound`.
async fn retry_pacing<T, E, F, Fut>(
    bound: Duration,
    first: Duration,
    next: impl Fn(Duration) -> Duration,
    retryable: impl Fn(&E) -> bool,
    mut op: F,
) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let started = Instant::now();
    let mut delay = first;
    loop {
        let sent = Instant::now();
        match op().await {
            Ok(value) => return Ok(value),
            Err(err) if retryable(&err) && started.elapsed() + delay <= bound => {
                // Paced from the send, not the answer: a poll is one call per `delay`
                // whatever the round trip, so the call that succeeds leaves at most one
                // `delay` after AWS is ready (not a round trip more).
                tokio::time::sleep(delay.saturating_sub(sent.elapsed())).await;
                delay = next(delay);
            }
            Err(err) => return Err(err),
        }
    }
}

/// One look at something being waited for.
pub enum Poll<T, P> {
    /// Done waiting: the value to return.
    Ready(T),
    /// Not yet: what to tell the user (a status), kept for the time-out.
    Pending(P),
}

/// Looks with `check` every `interval` until it is ready, for at most `bound`. Before each
/// pause `waiting` hears what is pending and how long it has been; past the bound the last
/// pending state is returned as `Err`.
pub async fn poll_until<T, P, E, F, Fut>(
    bound: Duration,
    interval: Duration,
    mut check: F,
    mut waiting: impl FnMut(&P, Duration),
) -> Result<Result<T, P>, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Poll<T, P>, E>>,
{
    let started = Instant::now();
    loop {
        match check().await? {
            Poll::Ready(value) => return Ok(Ok(value)),
            Poll::Pending(state) if started.elapsed() >= bound => return Ok(Err(state)),
            Poll::Pending(state) => waiting(&state, started.elapsed()),
        }
        tokio::time::sleep(interval).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// `retry_within(bound)` of a call that answers `answer(n)` on its `n`th call (from 0),
    /// "not yet" being the one retryable error: what it returned, and how many calls it made.
    async fn retried(
        bound: Duration,
        answer: impl Fn(u32) -> Result<u32, &'static str>,
    ) -> (Result<u32, &'static str>, u32) {
        let calls = AtomicU32::new(0);
        let result = retry_within(
            bound,
            |e| *e == "not yet",
            || async { answer(calls.fetch_add(1, Ordering::SeqCst)) },
        )
        .await;
        (result, calls.load(Ordering::SeqCst))
    }

    #[tokio::test]
    async fn retries_until_success_within_the_bound() {
        let third_succeeds = |n| if n < 2 { Err("not yet") } else { Ok(n) };
        assert_eq!(
            retried(Duration::from_secs(3), third_succeeds).await,
            (Ok(2), 3)
        );
    }

    #[tokio::test]
    async fn gives_up_after_the_bound_and_never_retries_other_errors() {
        // A 0.5 s wait fits in 1 s; the next (1 s more) would not.
        let never = retried(Duration::from_secs(1), |_| Err("not yet")).await;
        assert_eq!(never, (Err("not yet"), 2));
        let denied = retried(Duration::from_secs(60), |_| Err("denied")).await;
        assert_eq!(denied, (Err("denied"), 1));
    }

    #[tokio::test]
    async fn a_poll_is_paced_from_each_send_not_from_each_answer() {
        // Each call takes 100 ms to fail. Paced from the send, calls leave every 250 ms:
        // 8 fit in 2 s (the last at 1.75 s). Paced from the answer (one every 350 ms), 6.
        let calls = AtomicU32::new(0);
        let result: Result<(), &str> = retry_pacing(
            Duration::from_secs(2),
            Duration::from_millis(250),
            |d| d,
            |e| *e == "not yet",
            || async {
                calls.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(100)).await;
                Err("not yet")
            },
        )
        .await;
        assert_eq!(result, Err("not yet"));
        let calls = calls.load(Ordering::SeqCst);
        assert!((7..=8).contains(&calls), "{calls} calls in 2 s");
    }

    #[tokio::test]
    async fn polls_until_ready_and_reports_each_wait() {
        let calls = AtomicU32::new(0);
        let mut waits = Vec::new();
        let result: Result<Result<u32, u32>, ()> = poll_until(
            Duration::from_secs(5),
            Duration::from_millis(1),
            || async {
                let n = calls.fetch_add(1, Ordering::SeqCst);
                Ok(if n < 3 {
                    Poll::Pending(n)
                } else {
                    Poll::Ready(n)
                })
            },
            |pending, _| waits.push(*pending),
        )
        .await;
        assert_eq!(result, Ok(Ok(3)));
        assert_eq!(waits, [0, 1, 2]);
    }

    #[tokio::test]
    async fn a_poll_past_its_bound_returns_the_last_pending_state() {
        let calls = AtomicU32::new(0);
        let result: Result<Result<(), u32>, ()> = poll_until(
            Duration::from_millis(30),
            Duration::from_millis(10),
            || async { Ok(Poll::Pending(calls.fetch_add(1, Ordering::SeqCst))) },
            |_, _| {},
        )
        .await;
        let last = result.unwrap().unwrap_err();
        assert!(last >= 2, "looked {} times", last + 1);
        assert_eq!(last + 1, calls.load(Ordering::SeqCst));
    }
}
