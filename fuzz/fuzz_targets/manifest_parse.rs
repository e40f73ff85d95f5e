//! The manifest parser on arbitrary bytes: it must never panic, and whatever it accepts must
//! survive render → parse unchanged (the canonical form is a fixed point).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(lines) = vaultgate::manifest::parse(data) else {
        return;
    };
    let mut entries: Vec<_> = lines.into_iter().map(|l| l.entry).collect();
    let rendered = vaultgate::manifest::render(&entries);
    let again: Vec<_> = vaultgate::manifest::parse(&rendered)
        .expect("a rendered manifest must parse")
        .into_iter()
        .map(|l| l.entry)
        .collect();
    entries.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
    assert_eq!(entries, again, "render → parse changed the entries");
});
