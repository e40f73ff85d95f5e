//! Entry-name rules: a name must mean the same relative path to every reader on every OS.
//!
//! Contract: [`check_name`] returns every rule a raw name breaks (empty list = the name is
//! safe to extract under a root on Linux, macOS and Windows). Valid UTF-8 is accepted with or
//! without the 0x800 flag (macOS Archive Utility omits it); bytes that are not UTF-8 are
//! refused, because readers decode them with different code pages. [`normalized`] gives the
//! key used for collision checks.

use std::borrow::Cow;

use unicode_normalization::UnicodeNormalization;

use super::codes::ZipCode;

/// Windows device names, reserved with any extension and in any case.
const RESERVED: &[&str] = &[
    "con", "prn", "aux", "nul", "com1", "com2", "com3", "com4", "com5", "com6", "com7", "com8",
    "com9", "com¹", "com²", "com³", "lpt1", "lpt2", "lpt3", "lpt4", "lpt5", "lpt6", "lpt7", "lpt8",
    "lpt9", "lpt¹", "lpt²", "lpt³", "conin$", "conout$",
];

/// Longest component most file systems accept (bytes).
const MAX_COMPONENT: usize = 255;

/// Every rule `raw` breaks, as `(code, message)`.
#[allow(clippy::too_many_lines)] // the rules, in the order a reader meets them
pub fn check_name(raw: &[u8], utf8_flag: bool, max_len: usize) -> Vec<(ZipCode, String)> {
    let mut out = Vec::new();
    if raw.is_empty() {
        out.push((ZipCode::NameEmpty, "entry has an empty name".into()));
        return out;
    }
    if raw.len() > max_len {
        out.push((
            ZipCode::NameTooLong,
            format!("name is {} bytes, over the limit of {max_len}", raw.len()),
        ));
    }
    let Ok(name) = std::str::from_utf8(raw) else {
        let why = if utf8_flag {
            "name is flagged utf-8 (0x800) but is not valid utf-8"
        } else {
            "name is neither ascii nor utf-8 (a legacy code page that readers decode differently)"
        };
        out.push((ZipCode::NameEncoding, why.into()));
        return out;
    };
    // ASCII names (most) need no char decoding: their control characters are < 0x20 and 0x7f.
    let control = if name.is_ascii() {
        name.bytes().any(|b| b < 0x20 || b == 0x7f)
    } else {
        name.chars()
            .any(|c| c.is_control() || c == '\u{2028}' || c == '\u{2029}')
    };
    if control {
        out.push((
            ZipCode::NameControlChar,
            "name contains nul, control characters or line breaks".into(),
        ));
    }
    if name.contains('\\') {
        out.push((
            ZipCode::NameBackslash,
            "name contains `\\`, a path separator on windows".into(),
        ));
    }
    if name.starts_with("//") {
        out.push((
            ZipCode::NameAbsolute,
            "name is a unc path (starts with `//`)".into(),
        ));
    } else if name.starts_with('/') {
        out.push((
            ZipCode::NameAbsolute,
            "name is absolute (starts with `/`)".into(),
        ));
    }
    let bytes = name.as_bytes();
    let drive = bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':';
    if drive {
        out.push((ZipCode::NameDrive, "name starts with a drive letter".into()));
    }
    if name.contains(':') && !(drive && name[2..].find(':').is_none()) {
        out.push((
            ZipCode::NameColon,
            "name contains `:` (an ntfs alternate data stream or drive-relative path)".into(),
        ));
    }
    // A directory name ends with exactly one `/`; that slash is not an empty component.
    let body = name.strip_suffix('/').unwrap_or(name);
    let body = body.strip_prefix('/').unwrap_or(body);
    let mut dot = false;
    let mut traversal = false;
    let mut reserved = Vec::new();
    let mut trailing = Vec::new();
    let mut long = false;
    for comp in body.split('/') {
        match comp {
            ".." => traversal = true,
            "" | "." => dot = true,
            _ => {
                if is_reserved(comp) {
                    reserved.push(comp);
                }
                if comp.ends_with('.') || comp.ends_with(' ') {
                    trailing.push(comp);
                }
                long |= comp.len() > MAX_COMPONENT;
            }
        }
    }
    if traversal {
        out.push((
            ZipCode::PathTraversal,
            "name has a `..` component that escapes the extraction root".into(),
        ));
    }
    if dot {
        out.push((
            ZipCode::NameDotComponent,
            "name has an empty or `.` component".into(),
        ));
    }
    for comp in reserved {
        out.push((
            ZipCode::NameWindowsReserved,
            format!("component `{}` is a windows device name", esc(comp)),
        ));
    }
    for comp in trailing {
        out.push((
            ZipCode::NameTrailingDotSpace,
            format!(
                "component `{}` ends in a dot or a space (windows drops it)",
                esc(comp)
            ),
        ));
    }
    if long {
        out.push((
            ZipCode::NameTooLong,
            format!("a component is longer than {MAX_COMPONENT} bytes"),
        ));
    }
    out
}

fn esc(s: &str) -> String {
    crate::report::escape_for_display(s)
}

/// `CON`, `aux.txt`, `com1.tar.gz`, `NUL .txt`: the part before the first dot, trailing spaces
/// removed, compared case-insensitively.
fn is_reserved(comp: &str) -> bool {
    let stem = comp.split('.').next().unwrap_or(comp).trim_end_matches(' ');
    if stem.is_ascii() {
        // Same answer as below without allocating: ASCII lower-casing is `to_ascii_lowercase`.
        return RESERVED.iter().any(|r| stem.eq_ignore_ascii_case(r));
    }
    let lower = stem.to_lowercase();
    RESERVED.contains(&lower.as_str())
}

/// The path a name denotes: empty and `.` components dropped, no trailing `/`.
pub fn normalized(name: &str) -> String {
    name.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect::<Vec<_>>()
        .join("/")
}

/// [`normalized`], borrowed from `name` when nothing is dropped but a trailing `/` (the common
/// case), so the collision check does not allocate per entry.
pub fn normalized_cow(name: &str) -> Cow<'_, str> {
    let body = name.strip_suffix('/').unwrap_or(name);
    if body.split('/').all(|c| !c.is_empty() && c != ".") {
        Cow::Borrowed(body)
    } else {
        Cow::Owned(normalized(name))
    }
}

/// [`normalized`], then Unicode NFC.
pub fn nfc_key(norm: &str) -> String {
    norm.nfc().collect()
}

/// [`nfc_key`], then lower-cased (an approximation of full case folding: `ß`/`ss` are not
/// folded together).
pub fn fold_key(nfc: &str) -> String {
    nfc.to_lowercase().nfc().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(name: &[u8]) -> Vec<ZipCode> {
        check_name(name, false, 1024)
            .into_iter()
            .map(|(c, _)| c)
            .collect()
    }

    #[test]
    fn honest_names_pass() {
        for n in [
            "a..b.txt",
            "..data.txt",
            "dir/",
            "a/b/c.rs",
            "世界.txt",
            "café/ñ.md",
            ".hidden",
            "console.log",
        ] {
            assert!(
                codes(n.as_bytes()).is_empty(),
                "{n}: {:?}",
                codes(n.as_bytes())
            );
        }
    }

    #[test]
    fn one_rule_per_hostile_name() {
        let cases: &[(&[u8], ZipCode)] = &[
            (b"", ZipCode::NameEmpty),
            (b"/etc/passwd", ZipCode::NameAbsolute),
            (b"//srv/share/x", ZipCode::NameAbsolute),
            (b"C:x", ZipCode::NameDrive),
            (b"C:/x", ZipCode::NameDrive),
            (b"a\\b", ZipCode::NameBackslash),
            (b"../x", ZipCode::PathTraversal),
            (b"a/../../x", ZipCode::PathTraversal),
            (b"a/./b", ZipCode::NameDotComponent),
            (b"a//b", ZipCode::NameDotComponent),
            (b"./", ZipCode::NameDotComponent),
            (b"a\0b", ZipCode::NameControlChar),
            (b"a\nb", ZipCode::NameControlChar),
            (b"a\x1bb", ZipCode::NameControlChar),
            ("a\u{85}b".as_bytes(), ZipCode::NameControlChar),
            (b"caf\xe9", ZipCode::NameEncoding),
            (b"CON", ZipCode::NameWindowsReserved),
            (b"dir/aux.txt", ZipCode::NameWindowsReserved),
            (b"COM1/x", ZipCode::NameWindowsReserved),
            (b"lpt9.tar.gz", ZipCode::NameWindowsReserved),
            (b"a./b", ZipCode::NameTrailingDotSpace),
            (b"a /b", ZipCode::NameTrailingDotSpace),
            (b"ab:c", ZipCode::NameColon),
            (b"file.txt:stream", ZipCode::NameColon),
        ];
        for (name, code) in cases {
            assert!(
                codes(name).contains(code),
                "{:?} should break {code:?}, got {:?}",
                String::from_utf8_lossy(name),
                codes(name)
            );
        }
    }

    #[test]
    fn invalid_utf8_with_the_flag_says_so() {
        let f = check_name(b"\xff", true, 100);
        assert_eq!(f[0].0, ZipCode::NameEncoding);
        assert!(f[0].1.contains("flagged"), "{}", f[0].1);
    }

    #[test]
    fn length_caps() {
        assert!(codes(&[b'a'; 300]).contains(&ZipCode::NameTooLong));
        let f = check_name(b"abcdef", false, 5);
        assert_eq!(f[0].0, ZipCode::NameTooLong);
    }

    #[test]
    fn keys_normalise_fold_and_compose() {
        assert_eq!(normalized("lib//./x"), "lib/x");
        assert_eq!(normalized("a/b/"), "a/b");
        for name in [
            "", "/", "a", "a/b/", "a//b", "./a", "a/.", "/a/b", "a/b//", "..", "a/../b", ".a/b.",
        ] {
            assert_eq!(normalized_cow(name), normalized(name), "{name}");
        }
        assert!(matches!(normalized_cow("pkg/mod/f.py"), Cow::Borrowed(_)));
        assert_eq!(nfc_key("e\u{301}"), "\u{e9}");
        assert_eq!(fold_key("README.md"), fold_key("readme.MD"));
    }
}
