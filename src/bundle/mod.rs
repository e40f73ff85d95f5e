//! ZIP bundles: the raw structure reader, audit rules, streaming decompression, safe
//! extraction and reproducible packing. Named `bundle`, not `zip`, so `use zip::…` stays the crate.

pub mod audit;
pub mod extract;
pub mod pack;
pub mod stream;
pub mod structure;
