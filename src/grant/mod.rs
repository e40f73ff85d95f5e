//! Single-use build grants: an approval-request record passes ordered gates and becomes one
//! grant row with a deterministic `auth_code` (`GBA-C1-<apr_code>`), consumed at most once by
//! compare-and-swap. Every command answers with exactly one protocol line
//! (`OK | SKIP:<reason> | FAIL:<reason>`). See `docs/grants.md`.

pub mod codes;
pub mod gates;
pub mod policy;
pub mod request;
pub mod service;

pub use codes::GrantCode;
