//! Test support: the project virtualenv, moto's server on a free loopback port, a recording
//! proxy that counts the requests cattube sends, and a way to run the built binary against
//! them with no real AWS configuration in reach.
//!
//! One concept per file, each re-exported here so that a test names `support::what` whatever
//! file holds it:
//! - `emulators`: moto and the MediaConvert stand-in behind their recording proxies (`proxy`,
//!   whose exact AWS errors are `aws_errors`);
//! - `sandbox` and `run`: where cattube runs, and the `Run` builder that runs it;
//! - `output`: readers and checks of what it printed and the state file it wrote;
//! - `aws`, `drift`, `distribution`: the tests' own AWS reads and writes, drift by hand;
//! - `stack` and `inventory`: the registry's resources, a stack's clients and context, and
//!   the leak checks;
//! - `programs`: the browser drivers, the converter's handler and Python, run for real;
//! - `names`, `clips`, `tally`, `targets`: fixtures, counting, and the round targets.

pub mod aws;
pub mod aws_errors;
pub mod clips;
pub mod distribution;
pub mod drift;
pub mod emulators;
pub mod inventory;
pub mod names;
pub mod output;
pub mod programs;
pub mod proxy;
pub mod run;
pub mod sandbox;
pub mod stack;
pub mod tally;
pub mod targets;

pub use aws::*;
pub use clips::video_bytes;
pub use drift::*;
pub use emulators::*;
pub use inventory::*;
pub use output::*;
pub use programs::*;
pub use proxy::{FaultPlan, RecordingProxy};
pub use run::*;
pub use sandbox::*;
pub use stack::*;
