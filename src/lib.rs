//! vaultgate: a fail-closed spine for release pipelines and autonomous build agents.
//!
//! Layers (arrows point down only): [`cli`] maps argv to typed calls into the families
//! ([`manifest`], …), which use the shared modules ([`exit`], [`output`], [`report`], [`clock`],
//! [`fsutil`], [`hash`], [`paths`], [`walk`]). The core never prints; every report goes through
//! [`output::Printer`].

pub mod agent;
pub mod bundle;
pub mod canon;
pub mod cli;
pub mod clock;
pub mod envelope;
pub mod exit;
pub mod fsutil;
pub mod gate;
pub mod grant;
pub mod hash;
pub mod journal;
pub mod junit;
pub mod lease;
pub mod manifest;
pub mod output;
pub mod paths;
pub mod report;
pub mod sarif;
pub mod vault;
pub mod walk;
