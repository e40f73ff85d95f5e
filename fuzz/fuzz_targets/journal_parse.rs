//! The journal's strict JSON parser and verifier on arbitrary bytes: neither may panic; any
//! value the parser accepts must re-serialize to canonical bytes that parse back to the same
//! value and serialize identically (canonical form is a fixed point); and verification of the
//! bytes as a journal must give the same verdict twice.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(value) = vaultgate::canon::parse(data) {
        if let Ok(bytes) = vaultgate::canon::to_bytes(&value) {
            let back = vaultgate::canon::parse(&bytes).expect("canonical bytes must parse");
            assert_eq!(back, value, "canonical bytes parse to another value");
            let again = vaultgate::canon::to_bytes(&back).expect("a parsed value must serialize");
            assert_eq!(again, bytes, "canonical form is not a fixed point");
        }
    }
    let first = vaultgate::journal::verify_bytes(data);
    let second = vaultgate::journal::verify_bytes(data);
    assert_eq!(first.0, second.0);
    assert_eq!(first.1, second.1);
    assert_eq!(first.2.len(), second.2.len());
});
