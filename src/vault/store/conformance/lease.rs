//! Conformance tests of the lease family's invariants, written against [`crate::vault::store::Store`].

use super::Harness;

/// Run every lease conformance check (none yet).
pub fn run_all(_harness: &mut dyn Harness) -> Result<(), String> {
    Ok(())
}
