//! A private stack's signing resources name each other: the secret names each key it holds
//! after the public keys' resource, which reads the secret. Their ids live here, below those
//! modules, so neither imports the other.

use crate::naming::ResourceId;

/// CloudFront's copies of the public halves ([`super::public_keys`]).
pub const PUBLIC_KEYS: ResourceId = ResourceId::new("public-keys");

/// The `wanted` and `unwanted_reason` of each of them: wanted only with `[delivery]
/// private` (turned off, `up` deletes them).
macro_rules! wanted_when_private {
    () => {
        fn wanted(&self, settings: &crate::Settings) -> bool {
            settings.private
        }

        fn unwanted_reason(&self) -> &'static str {
            "not configured ([delivery] private is off)"
        }
    };
}
pub(crate) use wanted_when_private;
