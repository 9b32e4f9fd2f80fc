//! The dependency graph of the stack's steps and its walk: independent steps run in
//! parallel, a step starts once everything it waits on has finished, and a failure skips
//! its dependents (transitively) with the root cause named. `down` walks it in reverse.
//! Modelled on Terraform's `internal/dag/walk.go`.

mod cancel;
mod graph;
#[cfg(test)]
mod test_steps;
mod walk;

pub use cancel::{Cancel, FirstInterrupt};
pub use graph::{stage_order, Graph};
pub use walk::{walk, Direction, NodeResult, INTERRUPTED};
