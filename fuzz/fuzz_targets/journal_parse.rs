//! The journal's strict JSON parser and verifier on arbitrary bytes: neither may panic; the
//! canonical bytes of any value the parser accepts must parse, and re-serialize to exactly the
//! same bytes (canonical form is a fixed point); and verifying the bytes as a journal must give
//! the same verdict twice.
//!
//! Values are compared through their canonical bytes, not with `==`: with `arbitrary_precision`
//! a number keeps its source text, so `1.7976931348623156e+308` and its canonical spelling
//! `1.7976931348623155e+308` (the same double, as Python's `repr` writes it) are unequal
//! `Value`s (regression `fuzz/regressions/journal_parse/number-text-vs-canonical-repr`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    vaultgate::canon::fuzz_check(data);
    let first = vaultgate::journal::verify_bytes(data);
    let second = vaultgate::journal::verify_bytes(data);
    assert_eq!(first.0, second.0);
    assert_eq!(first.1, second.1);
    assert_eq!(first.2.len(), second.2.len());
});
