//! Entry-name rules: a name must mean the same relative path to every reader on every OS.
//!
//! Contract: [`check_name`] returns every rule a raw name breaks (empty list = the name is
//! safe to extract under a root on Linux, macOS and Windows). A non-ASCII name must be UTF-8
//! and say so: with the 0x800 flag, or with an Info-ZIP Unicode path extra field (0x7075) that
//! agrees with it (the structure reader refuses one that disagrees). Non-ASCII UTF-8 without
//! either reads as UTF-8 in Go and the `zip` crate but as CP437 in Python, so two extractors
//! would write two different names; bytes that are not UTF-8 at all are refused for the same
//! reason. Names holding invisible characters (bidi controls, zero-width and other
//! default-ignorable code points) are refused because they display as another name.
//! [`normalized`] and the keys after it are used for collision checks; [`fold_key`] is full
//! Unicode case folding (`ß` and `ss` collide).

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
pub fn check_name(
    raw: &[u8],
    utf8_flag: bool,
    unicode_extra: bool,
    max_len: usize,
) -> Vec<(ZipCode, String)> {
    if ascii_clean(raw, max_len) {
        return Vec::new();
    }
    all_rules(raw, utf8_flag, unicode_extra, max_len)
}

/// [`check_name`] without the fast path.
#[allow(clippy::too_many_lines)] // the rules, in the order a reader meets them
fn all_rules(
    raw: &[u8],
    utf8_flag: bool,
    unicode_extra: bool,
    max_len: usize,
) -> Vec<(ZipCode, String)> {
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
        if !utf8_flag && !unicode_extra {
            out.push((
                ZipCode::NameEncodingAmbiguous,
                "non-ascii name without the utf-8 flag (0x800) or a unicode path field (0x7075): \
                 python reads it as cp437, go and the zip crate as utf-8"
                    .into(),
            ));
        }
        if let Some(c) = name.chars().find(|&c| is_invisible(c)) {
            out.push((
                ZipCode::NameInvisible,
                format!(
                    "name contains the invisible character `U+{:04X}` (a bidi control, zero-width or \
                     default-ignorable code point) and displays as another name",
                    u32::from(c)
                ),
            ));
        }
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

/// Unicode's `Default_Ignorable_Code_Point` (DerivedCoreProperties.txt, Unicode 16): the
/// characters a renderer draws as nothing. It includes the bidi embeddings and overrides
/// (U+202A–202E), the isolates (U+2066–2069), the marks U+200E/200F and U+061C, zero-width
/// space, joiners and the word joiner (U+200B–200D, U+2060), the BOM, soft hyphen, Hangul
/// fillers, variation selectors and tag characters. The list is short and stable, so it is
/// spelled out here rather than taken from a crate.
pub fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00ad}' | '\u{034f}' | '\u{061c}' | '\u{115f}' | '\u{1160}' | '\u{17b4}' | '\u{17b5}'
        | '\u{180b}'..='\u{180f}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}'
        | '\u{2060}'..='\u{206f}' | '\u{3164}' | '\u{fe00}'..='\u{fe0f}' | '\u{feff}'
        | '\u{ffa0}' | '\u{fff0}'..='\u{fff8}' | '\u{1bca0}'..='\u{1bca3}'
        | '\u{1d173}'..='\u{1d17a}' | '\u{e0000}'..='\u{e0fff}')
}

/// A name escaped for display: [`crate::report::escape_bytes_for_display`], and every
/// [`is_invisible`] character spelled `\u{…}` too, so a name that hides a character on screen
/// shows it in every report.
pub fn display(raw: &[u8]) -> String {
    let shown = crate::report::escape_bytes_for_display(raw);
    if shown.is_ascii() {
        return shown;
    }
    let mut out = String::with_capacity(shown.len());
    for c in shown.chars() {
        if is_invisible(c) {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

/// The subject of a finding about entry `index`: its name for display, or `entry #N (empty
/// name)` when the name is empty, so that no finding has an empty subject.
pub fn entry_subject(index: usize, raw: &[u8]) -> String {
    if raw.is_empty() {
        format!("entry #{index} (empty name)")
    } else {
        display(raw)
    }
}

/// One pass over an ASCII name that answers `true` only when [`check_name`] would find nothing
/// (most names in a real bundle): non-empty, within the limit, not absolute, no control
/// character, `\\` or `:`, and every component non-empty, not `.` or `..`, at most 255 bytes,
/// without a space or a trailing dot, and with a stem that cannot be a device name. Anything
/// else goes through every rule; a test checks the two agree.
fn ascii_clean(raw: &[u8], max_len: usize) -> bool {
    if raw.is_empty() || raw.len() > max_len || raw[0] == b'/' || !raw.is_ascii() {
        return false;
    }
    let body = raw.strip_suffix(b"/").unwrap_or(raw);
    body.split(|&b| b == b'/').all(|comp| {
        let stem = comp.iter().position(|&b| b == b'.').unwrap_or(comp.len());
        !comp.is_empty()
            && comp.len() <= MAX_COMPONENT
            && comp.last() != Some(&b'.')
            && !comp
                .iter()
                .any(|&b| b < 0x21 || b == 0x7f || b == b'\\' || b == b':')
            && !(matches!(stem, 3..=7) && std::str::from_utf8(comp).is_ok_and(is_reserved))
    })
}

fn esc(s: &str) -> String {
    crate::report::escape_for_display(s)
}

/// `CON`, `aux.txt`, `com1.tar.gz`, `NUL .txt`: the part before the first dot, trailing spaces
/// removed, compared case-insensitively.
fn is_reserved(comp: &str) -> bool {
    let stem = comp.split('.').next().unwrap_or(comp).trim_end_matches(' ');
    if stem.is_ascii() {
        // The ASCII entries of `RESERVED`, matched without a scan of the list or an allocation
        // (a test checks the two agree).
        let b = stem.as_bytes();
        if !(3..=7).contains(&b.len()) {
            return false;
        }
        let mut low = [0u8; 7];
        for (l, c) in low.iter_mut().zip(b) {
            *l = c.to_ascii_lowercase();
        }
        let s = &low[..b.len()];
        return matches!(
            s,
            b"con" | b"prn" | b"aux" | b"nul" | b"conin$" | b"conout$"
        ) || (s.len() == 4
            && matches!(&s[..3], b"com" | b"lpt")
            && matches!(s[3], b'1'..=b'9'));
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

/// [`nfc_key`], then full Unicode case folding (CaseFolding.txt statuses C and F, through
/// `unicase`: `ß` folds to `ss`, `ﬁ` to `fi`, the Kelvin sign to `k`), then NFC again, since
/// folding can decompose. `str::to_lowercase` is not folding: it keeps `ß` and `ss` apart.
pub fn fold_key(nfc: &str) -> String {
    unicase::UniCase::new(nfc).to_folded_case().nfc().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(name: &[u8]) -> Vec<ZipCode> {
        check_name(name, true, false, 1024)
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
        let f = check_name(b"\xff", true, false, 100);
        assert_eq!(f[0].0, ZipCode::NameEncoding);
        assert!(f[0].1.contains("flagged"), "{}", f[0].1);
    }

    #[test]
    fn length_caps() {
        assert!(codes(&[b'a'; 300]).contains(&ZipCode::NameTooLong));
        let f = check_name(b"abcdef", false, false, 5);
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
        assert_eq!(fold_key("stra\u{df}e"), fold_key("STRASSE"));
        assert_eq!(fold_key("\u{fb01}le"), fold_key("FILE"));
        assert_eq!(fold_key("\u{212a}"), "k");
    }

    proptest::proptest! {
        /// The one-pass ASCII answer never hides a finding the full rules would report.
        #[test]
        fn the_ascii_fast_path_agrees_with_every_rule(
            name in "[a-zA-Z0-9 ./:\\\\\\x00-\\x1f\\x7f$]{0,12}",
            max_len in 1usize..16,
        ) {
            if ascii_clean(name.as_bytes(), max_len) {
                let full = all_rules(name.as_bytes(), true, false, max_len);
                proptest::prop_assert!(full.is_empty(), "{name:?}: {full:?}");
            }
        }
    }

    #[test]
    fn ascii_device_names_match_the_list() {
        for r in RESERVED.iter().filter(|r| r.is_ascii()) {
            assert!(is_reserved(r) && is_reserved(&r.to_uppercase()), "{r}");
            assert!(
                is_reserved(&format!("{r}.txt")) && is_reserved(&format!("{r}  .tar.gz")),
                "{r}"
            );
        }
        for n in [
            "co", "conx", "com0", "lpt", "comm1", "nul1", "conin", "conout$x", "pkg", "mod00",
        ] {
            assert!(!is_reserved(n), "{n}");
        }
    }

    #[test]
    fn the_fast_path_takes_ordinary_names_only() {
        for n in ["pkg/mod00/file00000.py", "a/", "README", "x.tar.gz"] {
            assert!(ascii_clean(n.as_bytes(), 100), "{n}");
        }
        for n in [
            "", "/a", "a//b", "a/./b", "../a", "a.", "a b", "con", "aux.txt", "a:b", "a\\b",
            "CONIN$",
        ] {
            assert!(!ascii_clean(n.as_bytes(), 100), "{n}");
        }
    }

    #[test]
    fn non_ascii_must_declare_its_encoding() {
        let ambiguous = |flag, extra| {
            check_name("caf\u{e9}".as_bytes(), flag, extra, 100)
                .iter()
                .any(|(c, _)| *c == ZipCode::NameEncodingAmbiguous)
        };
        assert!(ambiguous(false, false));
        assert!(!ambiguous(true, false));
        assert!(!ambiguous(false, true));
        // ASCII is read the same by every code page reader.
        assert!(check_name(b"plain.txt", false, false, 100).is_empty());
    }

    #[test]
    fn invisible_characters_are_refused() {
        for c in [
            '\u{202e}', '\u{2066}', '\u{200b}', '\u{200d}', '\u{feff}', '\u{2060}', '\u{ad}',
        ] {
            let name = format!("invoice{c}fdp.exe");
            assert!(
                codes(name.as_bytes()).contains(&ZipCode::NameInvisible),
                "{c:?}"
            );
        }
        assert!(!codes("na\u{ef}ve.txt".as_bytes()).contains(&ZipCode::NameInvisible));
    }
}
