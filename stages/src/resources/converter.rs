//! The converter's resources name each other: the function runs as the role, the role may
//! write the function's logs, and the log group is named after the function, which waits
//! for it. Their ids live here, below those modules, so none of them imports another.

use crate::naming::ResourceId;

/// The converter Lambda function ([`super::converter_function`]).
pub const FUNCTION: ResourceId = ResourceId::new("converter-function");

/// The role the converter function runs as ([`super::converter_role`]).
pub const ROLE: ResourceId = ResourceId::new("converter-role");
