//! The round targets of issue 17, shared by `tests/rounds.rs` and the benchmark's `--check`
//! (which CI runs): a fresh `up` is the chain STS → observe → CreateRole → PutRolePolicy →
//! CreateFunction → AddPermission → PutBucketNotification, plus one round of slack.

/// Sequential rounds a fresh `up` may take.
pub const MAX_UP_ROUNDS: usize = 8;
/// Sequential rounds a `down --yes` of a full stack may take.
pub const MAX_DOWN_ROUNDS: usize = 10;
/// Sequential rounds a converged `up`, `status` or `plan` may take.
pub const MAX_CONVERGED_ROUNDS: usize = 2;
