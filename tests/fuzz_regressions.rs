//! Replays every minimised fuzz input under `fuzz/regressions/<target>/` with plain
//! `cargo test`, so a crash found once stays fixed (no fuzz tooling needed), and checks with
//! proptest that random mutations of a valid archive never panic the reader.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "../src/bundle/testkit.rs"]
mod testkit;

use proptest::prelude::*;

#[test]
fn bundle_parse_regressions_never_panic() {
    let dir = common::repo_root().join("fuzz/regressions/bundle_parse");
    let Ok(read) = std::fs::read_dir(&dir) else {
        #[allow(clippy::disallowed_macros)]
        {
            eprintln!(
                "SKIPPED: `{}` is absent; no fuzz regression was replayed",
                dir.display()
            );
        }
        return;
    };
    let mut replayed = 0;
    for f in read {
        let path = f.unwrap().path();
        if path.file_name().is_some_and(|n| n == "README.md") {
            continue;
        }
        let data = std::fs::read(&path).unwrap();
        let result = std::panic::catch_unwind(|| vaultgate::bundle::parse(&data));
        assert!(result.is_ok(), "`{}` panics the reader", path.display());
        replayed += 1;
    }
    assert!(
        replayed > 0,
        "`{}` holds no regression input",
        dir.display()
    );
}

/// Every file under `fuzz/regressions/<target>/` except its README, or `None` (said loudly)
/// when the folder is absent.
fn regressions(target: &str) -> Option<Vec<std::path::PathBuf>> {
    let dir = common::repo_root().join("fuzz/regressions").join(target);
    let Ok(read) = std::fs::read_dir(&dir) else {
        #[allow(clippy::disallowed_macros)]
        {
            eprintln!(
                "SKIPPED: `{}` is absent; no fuzz regression was replayed",
                dir.display()
            );
        }
        return None;
    };
    let mut files: Vec<_> = read
        .map(|f| f.unwrap().path())
        .filter(|p| p.file_name().is_some_and(|n| n != "README.md"))
        .collect();
    files.sort();
    Some(files)
}

/// Replays `journal_parse` inputs through the same oracle as the fuzz target.
#[test]
fn journal_parse_regressions_hold_the_canonical_fixed_point() {
    let Some(files) = regressions("journal_parse") else {
        return;
    };
    assert!(
        !files.is_empty(),
        "fuzz/regressions/journal_parse holds no input"
    );
    for path in files {
        let data = std::fs::read(&path).unwrap();
        let result = std::panic::catch_unwind(|| {
            vaultgate::canon::fuzz_check(&data);
            vaultgate::journal::verify_bytes(&data)
        });
        assert!(
            result.is_ok(),
            "`{}` breaks the journal_parse oracle",
            path.display()
        );
    }
}

/// Replays `manifest_parse` inputs (none found yet) through the same oracle as the fuzz target.
#[test]
fn manifest_parse_regressions_round_trip() {
    let Some(files) = regressions("manifest_parse") else {
        return;
    };
    for path in files {
        let data = std::fs::read(&path).unwrap();
        let result = std::panic::catch_unwind(|| vaultgate::manifest::fuzz_check(&data));
        assert!(
            result.is_ok(),
            "`{}` breaks the manifest_parse oracle",
            path.display()
        );
    }
}

fn valid_archive() -> Vec<u8> {
    use testkit::E;
    let mut dd = E::deflated("lib/b.txt", b"deflated deflated deflated".repeat(20));
    dd.descriptor = true;
    dd.flags = 8;
    testkit::build(&[
        E::dir("lib/"),
        E::stored("lib/a.txt", b"stored"),
        dd,
        E::deflated("README.md", b"# readme\n".repeat(10)),
    ])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Any set of byte changes, a truncation or an extension of a valid archive yields a report.
    #[test]
    fn mutations_never_panic(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in proptest::option::of(any::<prop::sample::Index>()),
        tail in proptest::collection::vec(any::<u8>(), 0..4),
    ) {
        let mut data = valid_archive();
        for (at, byte) in edits {
            let i = at.index(data.len());
            data[i] = byte;
        }
        if let Some(c) = cut {
            let n = c.index(data.len());
            data.truncate(n);
        }
        data.extend_from_slice(&tail);
        let report = vaultgate::bundle::parse(&data);
        // A mutated archive may still be valid, but every finding says what it is about.
        prop_assert!(report.findings.iter().all(|f| !f.subject.is_empty() && !f.message.is_empty()));
    }

    /// Every single-byte change inside the structure (not the stored/compressed data) is either
    /// harmless or found; never a panic.
    #[test]
    fn single_byte_changes_never_panic(at in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut data = valid_archive();
        let i = at.index(data.len());
        data[i] = byte;
        let _ = vaultgate::bundle::parse(&data);
    }
}
