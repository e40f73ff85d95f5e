//! The ZIP structure reader, every audit rule and the deep data check on arbitrary bytes:
//! whatever the input, `vaultgate::bundle::parse` must return a report, never panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = vaultgate::bundle::parse(data);
});
