//! Secret leases and the registry they stand on: providers and assets, ingest scans of a
//! project folder, bind contracts with an eligibility verdict, and leases minted under a
//! contract: bounded in time and scope, stored only encrypted, used only through
//! `lease exec`, and audited at every step (issuance, use, revocation, expiry, refusal).
//! See `docs/leases.md`.

pub mod codes;
pub mod exec;
pub mod ingest;
pub mod registry;
pub mod report;
pub mod rules;
pub mod service;
pub mod sweep;

pub use codes::LeaseCode;
