//! The step ids a scan has seen, keyed by a 128-bit secret-keyed digest of their text so a
//! million ids cost no allocation: the table and its hasher.
//!
//! Contract: [`StepIds::first_or_insert`] never misses a duplicate (equal ids have equal
//! digests); a collision of two different ids (probability about n²/2¹²⁹, with keys an attacker
//! cannot know) could only report a duplicate that is not one, a refusal.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher, RandomState};

/// The step ids seen so far, each with the line (and its byte offset) that first used it.
///
/// Keyed by a 128-bit digest of the id's text (two SipHash-1-3 runs with independent random
/// keys, fresh per process) instead of the owned `String`: a million ids cost a 32-byte
/// table entry each and no allocation. Why this stays fail-closed: equal ids always have equal
/// digests, so no duplicate is ever missed; two *different* ids share a digest with
/// probability about n²/2¹²⁹ (10⁻²⁶ for a million ids), and the keys are secret and random, so
/// they cannot be chosen to collide — and a collision would only report a duplicate that is
/// not one (a refusal), never accept anything.
#[derive(Debug, Default)]
pub struct StepIds {
    pub(super) keys: StepKeys,
    first: HashMap<u128, (usize, u64), DigestBuild>,
}

impl StepIds {
    /// The line and byte offset of the record that uses `id`, if any.
    pub fn get(&self, id: &str) -> Option<(usize, u64)> {
        self.first.get(&self.keys.key(id.as_bytes())).copied()
    }

    /// Remember `key` for `line`, or return the line that already has it.
    pub(super) fn first_or_insert(&mut self, key: u128, line: usize, offset: u64) -> Option<usize> {
        match self.first.entry(key) {
            std::collections::hash_map::Entry::Occupied(e) => Some(e.get().0),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert((line, offset));
                None
            }
        }
    }
}

/// The two secret keys of the step-id digest (cloned into the checking threads).
#[derive(Debug, Clone, Default)]
pub(super) struct StepKeys(RandomState, RandomState);

impl StepKeys {
    /// The digest of a step id's text (its UTF-8 bytes, escapes resolved).
    pub(super) fn key(&self, id: &[u8]) -> u128 {
        (u128::from(self.0.hash_one(id)) << 64) | u128::from(self.1.hash_one(id))
    }
}

/// The table's own hasher: the key already is a keyed random digest, so its low 64 bits are
/// a good hash (no second SipHash run per lookup).
#[derive(Debug, Clone, Copy, Default)]
struct DigestBuild;

#[derive(Debug, Default)]
struct DigestHasher(u64);

impl BuildHasher for DigestBuild {
    type Hasher = DigestHasher;
    fn build_hasher(&self) -> DigestHasher {
        DigestHasher(0)
    }
}

impl Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only `u128` keys reach this table (see `write_u128`); a generic fold for completeness.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u128(&mut self, v: u128) {
        let b = v.to_le_bytes();
        let mut low = [0u8; 8];
        low.copy_from_slice(&b[..8]);
        self.0 = u64::from_le_bytes(low);
    }
}
