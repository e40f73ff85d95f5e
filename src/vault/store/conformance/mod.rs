//! The store conformance suite: the invariants every [`Store`] implementation must keep,
//! written against the trait only, so SQLite today and PostgreSQL later run the same checks.
//!
//! Each check returns `Err(description)` instead of panicking, so a backend's test can report
//! which invariant broke. A backend provides a [`Harness`]: fresh migrated stores, a second
//! handle on the same database, and a way to make audit inserts fail inside the database
//! itself (SQLite: a trigger installed through an independent connection) — never a hook in
//! the store's code.
//!
//! Families add `conformance/<family>.rs` with a `run_all(&mut dyn Harness)`; the SQLite tests
//! already call each family's `run_all`.

pub mod agent;
pub mod core;
pub mod grant;
pub mod lease;
pub mod registry;

use super::Store;

/// What a backend provides to the suite.
pub trait Harness {
    /// A new, empty, fully migrated store.
    fn fresh(&mut self) -> Box<dyn Store>;
    /// Another handle (another connection) on the database of the last `fresh` store.
    fn reopen(&mut self) -> Box<dyn Store>;
    /// Make every later audit insert of `event_type` into the last `fresh` store's database
    /// fail inside the database.
    fn fail_audit_inserts_of(&mut self, event_type: &str);
}

/// `Err(msg)` unless `cond`.
pub fn ensure(cond: bool, msg: impl Into<String>) -> Result<(), String> {
    if cond { Ok(()) } else { Err(msg.into()) }
}
