//! The hash-chained, append-only step journal.
