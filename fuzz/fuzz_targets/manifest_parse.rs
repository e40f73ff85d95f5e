//! The manifest parser on arbitrary bytes: it must never panic, and whatever it accepts must
//! survive render → parse unchanged (the canonical form is a fixed point).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    vaultgate::manifest::fuzz_check(data);
});
