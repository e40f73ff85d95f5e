//! ZIP bundles: the raw structure reader, audit rules, streaming decompression, safe
//! extraction and reproducible packing. Named `bundle`, not `zip`, so `use zip::…` stays the crate.
//!
//! Public surface (the re-exports below; the submodules are private to the crate): [`audit_file`]
//! (with [`AuditOptions`], [`Nested`], [`AuditReport`], [`Entry`]), [`copy_entry_data`] for
//! streaming one entry's data with every declared value checked, [`extract_entries`] for the
//! gate's staged extraction, and [`pack`] for reproducible bundles.

pub(crate) mod audit;
pub(crate) mod codes;
pub(crate) mod error;
pub(crate) mod extract;
mod inflate_check;
pub(crate) mod names;
pub(crate) mod pack;
mod render;
pub(crate) mod seekbuf;
pub(crate) mod stream;
pub(crate) mod structure;

pub use audit::{AuditOptions, AuditReport, Nested, audit_bytes, audit_file, audit_reader};
pub use codes::ZipCode;
pub use error::{BundleError, StreamError};
pub use extract::{ExtractCode, ExtractError, Extracted, extract_entries};
pub use pack::{
    LeftOut, PackError, PackOptions, PackReport, PackedEntry, pack, parse_source_date_epoch,
};
pub use render::SCHEMA;
pub use stream::copy_entry_data;
pub use structure::{Entry, Layout};

/// Audit an in-memory archive with the default options (data checked, nested archives
/// audited): the fuzz entry point, which must never panic, whatever the bytes.
pub fn parse(data: &[u8]) -> AuditReport {
    audit_bytes(data, &AuditOptions::default())
}

#[cfg(test)]
pub(crate) mod testkit;
