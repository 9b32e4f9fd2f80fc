//! The converter's two resources name each other: the function runs as the role, and the
//! role may write the function's logs. Their ids live here, below both modules, so neither
//! module imports the other.

use crate::naming::ResourceId;

/// The converter Lambda function ([`super::converter_function`]).
pub const FUNCTION: ResourceId = ResourceId::new("converter-function");

/// The role the converter function runs as ([`super::converter_role`]).
pub const ROLE: ResourceId = ResourceId::new("converter-role");
