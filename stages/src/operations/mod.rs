//! What the commands run besides the walk over the registry: the videos of a stack
//! (upload, list, delete), every stack of the account, the catalog, the cost estimate, the
//! remote state's bucket. They use the resources' facts and shapes; no resource uses them.

pub mod catalog;
pub mod cost;
pub mod failures;
pub mod remote_state;
pub mod signed;
pub mod stacks;
pub mod tutorial;
pub mod upload_grant;
pub mod videos;
