//! The default stack's names as cattube derives them in the emulators' account, in
//! eu-west-1 (the region most tests run in): what a test expects `up` to have made.

/// The region most tests run in.
pub const REGION: &str = "eu-west-1";
/// moto's account, the one every emulated call runs in.
pub const ACCOUNT: &str = "123456789012";
/// The default stack's source bucket in eu-west-1.
pub const SOURCE: &str = "cattube-source-123456789012-eu-west-1";
/// The default stack's destination bucket in eu-west-1.
pub const DESTINATION: &str = "cattube-destination-123456789012-eu-west-1";
