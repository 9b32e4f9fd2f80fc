//! A private stack's signing resources name each other: the secret names each key it holds
//! after the public keys' resource, which reads the secret. Their ids live here, below those
//! modules, so neither imports the other.

use crate::naming::ResourceId;

/// CloudFront's copies of the public halves ([`super::public_keys`]).
pub const PUBLIC_KEYS: ResourceId = ResourceId::new("public-keys");
