//! The manifest text format: GNU `sha256sum` lines, rendered canonically and parsed strictly.
//!
//! Rendered: `<64 lowercase hex>␠␠<path>\n`, sorted by path bytes. A path containing `\`, LF or
//! CR is written in `sha256sum`'s escaped form (the line starts with `\`; `\\`, `\n`, `\r` in
//! the name), and a file named `-` is written `./-` so `sha256sum -c` does not read stdin.
//!
//! Parsed: our lines plus everything GNU `sha256sum` writes — text (`␠␠`) and binary (`␠*`)
//! markers, escaped names, `--tag` lines `SHA256 (path) = hex` — and from other tools `#`
//! comments, CRLF endings and upper-case hex. Anything else is an error naming the line: GNU
//! `-c` skips malformed lines and can still exit 0; we never do.

use std::collections::HashMap;

use crate::hash::Sha256Digest;

/// One `digest  path` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestEntry {
    /// Relative path, `/` separators, normalised (no leading `./`).
    pub path: String,
    /// The file's SHA-256.
    pub digest: Sha256Digest,
}

/// A parsed line with its 1-based line number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedLine {
    /// Line number in the manifest (1-based).
    pub line: usize,
    /// The entry.
    pub entry: ManifestEntry,
}

/// Why a manifest line was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    /// Line number (1-based).
    pub line: usize,
    /// What is wrong, lowercase.
    pub reason: String,
}

/// Render sorted entries as manifest bytes. Callers pass entries sorted by path bytes (the
/// generator sorts; this function sorts again so the output is canonical whatever it is given).
pub fn render(entries: &[ManifestEntry]) -> Vec<u8> {
    let mut sorted: Vec<&ManifestEntry> = entries.iter().collect();
    sorted.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
    let mut out = Vec::with_capacity(entries.len() * 100);
    for e in sorted {
        render_line(&mut out, e);
    }
    out
}

fn render_line(out: &mut Vec<u8>, e: &ManifestEntry) {
    let needs_escape = e.path.contains(['\\', '\n', '\r']);
    if needs_escape {
        out.push(b'\\');
    }
    out.extend_from_slice(e.digest.to_hex().as_bytes());
    out.extend_from_slice(b"  ");
    if e.path == "-" {
        out.extend_from_slice(b"./-");
    } else if needs_escape {
        for c in e.path.bytes() {
            match c {
                b'\\' => out.extend_from_slice(b"\\\\"),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                c => out.push(c),
            }
        }
    } else {
        out.extend_from_slice(e.path.as_bytes());
    }
    out.push(b'\n');
}

/// Parse manifest bytes strictly. Returns every entry in file order, or the first error.
pub fn parse(bytes: &[u8]) -> Result<Vec<ParsedLine>, LineError> {
    let mut out = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    if body.is_empty() {
        return Ok(out);
    }
    for (i, raw) in body.split(|&b| b == b'\n').enumerate() {
        let line = i + 1;
        let err = |reason: String| LineError { line, reason };
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let text = std::str::from_utf8(raw).map_err(|_| err("line is not valid UTF-8".into()))?;
        if text.is_empty() {
            return Err(err("empty line".into()));
        }
        if text.starts_with('#') {
            continue;
        }
        let (digest, raw_path, escaped) = split_line(text).map_err(err)?;
        let path = if escaped {
            unescape(raw_path).map_err(err)?
        } else {
            raw_path.to_owned()
        };
        if !escaped && path.contains('\\') {
            return Err(err(format!(
                "backslash in path `{}` (a Windows separator?); help: use `/` separators",
                crate::report::escape_for_display(&path)
            )));
        }
        let path = normalise(&path).map_err(err)?;
        if let Some(first) = seen.insert(path.clone(), line) {
            return Err(err(format!(
                "duplicate path `{}` (first listed on line {first})",
                crate::report::escape_for_display(&path)
            )));
        }
        out.push(ParsedLine {
            line,
            entry: ManifestEntry { path, digest },
        });
    }
    Ok(out)
}

/// Split a line into (digest, raw name, escaped?).
fn split_line(text: &str) -> Result<(Sha256Digest, &str, bool), String> {
    let (escaped, rest) = match text.strip_prefix('\\') {
        Some(r) => (true, r),
        None => (false, text),
    };
    if let Some(tagged) = rest.strip_prefix("SHA256 (") {
        let (name, hex) = tagged
            .rsplit_once(") = ")
            .ok_or_else(|| "malformed `--tag` line (expected `SHA256 (path) = hex`)".to_owned())?;
        return Ok((parse_digest(hex)?, name, escaped));
    }
    if let Some((algo, _)) = rest.split_once(" (")
        && !algo.is_empty()
        && algo.len() < 16
        && algo.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(format!(
            "unsupported algorithm `{algo}` (only SHA256 manifests are read)"
        ));
    }
    let hex = rest
        .get(..64)
        .ok_or_else(|| "line too short for a SHA-256 digest and a path".to_owned())?;
    let digest = parse_digest(hex)?;
    let after = &rest[64..];
    let name = after
        .strip_prefix("  ")
        .or_else(|| after.strip_prefix(" *"))
        .ok_or_else(|| {
            "expected two spaces (or ` *`) between the digest and the path".to_owned()
        })?;
    if name.is_empty() {
        return Err("empty path".into());
    }
    Ok((digest, name, escaped))
}

fn parse_digest(hex: &str) -> Result<Sha256Digest, String> {
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        let shown: String = hex.chars().take(70).collect();
        return Err(format!(
            "`{}` is not 64 hex digits",
            crate::report::escape_for_display(&shown)
        ));
    }
    hex.parse()
        .map_err(|e: crate::hash::BadDigest| e.to_string())
}

fn unescape(s: &str) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some(other) => return Err(format!("invalid escape `\\{other}` in path")),
            None => return Err("path ends with a lone `\\`".into()),
        }
    }
    Ok(out)
}

/// `./x` equals `x`; then every component must be a normal name.
fn normalise(path: &str) -> Result<String, String> {
    let p = path.strip_prefix("./").unwrap_or(path);
    let shown = || crate::report::escape_for_display(path);
    if p.is_empty() {
        return Err("empty path".into());
    }
    if p.starts_with('/') {
        return Err(format!("absolute path `{}`", shown()));
    }
    if p.contains('\0') {
        return Err(format!("NUL byte in path `{}`", shown()));
    }
    for c in p.split('/') {
        match c {
            "" => return Err(format!("empty component in path `{}`", shown())),
            "." | ".." => return Err(format!("`{c}` component in path `{}`", shown())),
            _ => {}
        }
    }
    Ok(p.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::sha256_bytes;
    use proptest::prelude::*;

    fn entry(path: &str) -> ManifestEntry {
        ManifestEntry {
            path: path.into(),
            digest: sha256_bytes(path.as_bytes()),
        }
    }

    #[test]
    fn renders_sorted_escaped_and_dash() {
        let out = render(&[entry("b"), entry("a\\b"), entry("-"), entry("n\nl")]);
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].ends_with("  ./-"));
        assert!(lines[1].starts_with('\\') && lines[1].ends_with("  a\\\\b"));
        assert!(lines[2].ends_with("  b"));
        assert!(lines[3].starts_with('\\') && lines[3].ends_with("  n\\nl"));
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn reads_gnu_forms() {
        let h = sha256_bytes(b"x").to_hex();
        let up = h.to_uppercase();
        let text = format!(
            "# comment\r\n{h}  a\r\n{h} *b\nSHA256 (c d) = {h}\n\\{h}  e\\\\f\\ng\n\\SHA256 (h\\rk) = {up}\n{h}  ./-\n"
        );
        let got: Vec<String> = parse(text.as_bytes())
            .unwrap()
            .into_iter()
            .map(|l| l.entry.path)
            .collect();
        assert_eq!(got, ["a", "b", "c d", "e\\f\ng", "h\rk", "-"]);
    }

    #[test]
    fn refuses_every_malformed_form_with_its_line() {
        let h = sha256_bytes(b"x").to_hex();
        let cases = [
            (format!("{h}  a\n\n"), 2, "empty line"),
            (format!("{h} a\n"), 1, "two spaces"),
            (format!("{}  a\n", &h[..63]), 1, "64 hex"),
            (format!("{}g  a\n", &h[..63]), 1, "64 hex"),
            (format!("{h}  /etc/passwd\n"), 1, "absolute"),
            (format!("{h}  a\\b\n"), 1, "backslash"),
            (format!("{h}  a/../b\n"), 1, "`..`"),
            (format!("{h}  a//b\n"), 1, "empty component"),
            (format!("{h}  a/./b\n"), 1, "`.`"),
            (format!("{h}  a\n{h}  ./a\n"), 2, "duplicate"),
            (
                format!("MD5 (a) = {}\n", &h[..32]),
                1,
                "unsupported algorithm",
            ),
            (format!("\\{h}  a\\tb\n"), 1, "invalid escape"),
            (format!("{h}  \n"), 1, "empty path"),
        ];
        for (text, line, want) in cases {
            let e = parse(text.as_bytes()).unwrap_err();
            assert_eq!(e.line, line, "{text:?}: {e:?}");
            assert!(e.reason.contains(want), "{text:?}: {}", e.reason);
        }
        assert!(parse(b"\xff\xfe").is_err());
    }

    proptest! {
        /// render → parse round-trips for arbitrary safe paths (including `\`, LF, CR, `-`, spaces).
        #[test]
        fn render_parse_round_trip(paths in proptest::collection::btree_set(
            "[a-zA-Z0-9 ._\\-\\\\\n\r\u{e9}\u{4e2d}]{1,6}(/[a-zA-Z0-9 ._\\-\\\\\n\r]{1,6}){0,3}", 1..20)) {
            let entries: Vec<ManifestEntry> = paths.iter()
                .filter(|p| p.split('/').all(|c| c != "." && c != ".." && !c.is_empty()))
                .map(|p| entry(p)).collect();
            let parsed: Vec<ManifestEntry> = parse(&render(&entries)).unwrap().into_iter().map(|l| l.entry).collect();
            let mut want = entries.clone();
            want.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
            prop_assert_eq!(parsed, want);
        }
    }
}
