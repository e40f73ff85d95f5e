//! ZIP bundles: the raw structure reader, audit rules, streaming decompression, safe
//! extraction and reproducible packing. Named `bundle`, not `zip`, so `use zip::…` stays the crate.
//!
//! Public surface: [`audit_file`] (with [`AuditOptions`], [`AuditReport`], [`Entry`]) and
//! [`copy_entry_data`] for streaming one entry's data with every declared value checked.

pub mod audit;
pub mod codes;
pub mod error;
pub mod extract;
mod inflate_check;
pub mod names;
pub mod pack;
mod render;
pub mod seekbuf;
pub mod stream;
pub mod structure;

pub use audit::{AuditOptions, AuditReport, audit_bytes, audit_file, audit_reader};
pub use codes::ZipCode;
pub use error::{BundleError, StreamError};
pub use stream::copy_entry_data;
pub use structure::{Entry, Layout};

/// Audit an in-memory archive with the default limits and `deep` on (the fuzz entry point:
/// it must never panic, whatever the bytes).
pub fn parse(data: &[u8]) -> AuditReport {
    let opts = AuditOptions {
        deep: true,
        ..AuditOptions::default()
    };
    audit_bytes(data, &opts)
}

#[cfg(test)]
pub(crate) mod testkit;
