//! The stages crate's tests against `aws-smithy-mocks`: one binary, one module per area.
//! `cargo test -p cattube-stages --test stages NAME::` runs one area. Every file here must
//! be a module below (`autotests = false`): the root crate's `tests/main.rs` checks it.

mod common;

mod buckets;
mod classification;
mod conversion;
mod delivery;
mod find_owned;
mod job_template;
mod tags;
