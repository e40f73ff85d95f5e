//! The envelope's glob dialect and the two ways globs match.
//!
//! Dialect (globset, with `literal_separator`): `*` and `?` never cross `/`; `**` as a whole
//! component crosses any number of folders (`a/**` is everything under `a`, `**/x` is `x` in
//! any folder); `[abc]`, `[!a-z]` classes; `{a,b}` alternatives; `\` escapes the next
//! character. Globs are matched against the path relative to `--root`, `/`-separated, with
//! no leading `./` or trailing `/`; the root folder itself is `.`. Therefore a glob that is
//! empty, absolute, ends with `/`, or has an empty, `.` or `..` component (other than the
//! whole glob `.`) could never match and is refused.
//!
//! * [`ExactGlobs`] (allow): byte-exact, case-sensitive. Anything in doubt is *not* allowed.
//! * [`FuzzyGlobs`] (deny, protected): a path matches when it matches exactly **or** when its
//!   NFC form matches the NFC form of the glob case-insensitively, and a glob that matches a
//!   folder covers everything beneath it. Case and Unicode spelling never dodge a deny.

use std::sync::OnceLock;

use globset::{Glob, GlobBuilder, GlobMatcher};
use unicode_normalization::UnicodeNormalization;

/// Why a glob was refused: its index in the list, the glob, and the reason (which may carry
/// a `help:` line).
pub(crate) type GlobRefusal = (usize, String, String);

fn check_shape(glob: &str) -> Result<(), String> {
    if glob.is_empty() {
        return Err("empty glob\nhelp: write `.` for the root folder itself".to_owned());
    }
    if glob == "." {
        return Ok(());
    }
    if glob.contains('\0') {
        return Err("NUL byte in glob".to_owned());
    }
    if glob.starts_with('/') {
        return Err("absolute glob can never match: globs match paths relative to `--root`\nhelp: write it relative to the root, e.g. `secrets/**`".to_owned());
    }
    if glob.ends_with('/') {
        return Err("a trailing `/` can never match: paths are compared without one\nhelp: write `dir` (which covers everything beneath it for deny and protected) or `dir/**`".to_owned());
    }
    if let Some(c) = glob
        .split('/')
        .find(|c| c.is_empty() || *c == "." || *c == "..")
    {
        return Err(format!(
            "a `{c}` component can never match: paths are normalised before matching\nhelp: write the path relative to the root without `.`, `..` or `//`"
        ));
    }
    Ok(())
}

/// One glob, its regex compiled only when a path passes the literal prefilter (compiling
/// 1,000 regexes up front costs more than a whole check). Every glob is parsed (and so
/// validated) at load, except a folded glob identical to its already-parsed original, whose
/// validity is known; it is parsed on first use.
#[derive(Debug, Clone)]
struct LazyGlob {
    pattern: String,
    case_insensitive: bool,
    /// Literal text every match must start with (sound: see [`literal_ends`]).
    prefix: String,
    /// Literal text every match must end with.
    suffix: String,
    glob: OnceLock<Option<Glob>>,
    matcher: OnceLock<Option<GlobMatcher>>,
}

impl LazyGlob {
    fn builder(pattern: &str, case_insensitive: bool) -> Result<Glob, String> {
        GlobBuilder::new(pattern)
            .literal_separator(true)
            .backslash_escape(true)
            .case_insensitive(case_insensitive)
            .build()
            .map_err(|e| e.kind().to_string())
    }

    fn new(pattern: &str, case_insensitive: bool, parse_now: bool) -> Result<Self, String> {
        let glob = OnceLock::new();
        if parse_now {
            let _ = glob.set(Some(Self::builder(pattern, case_insensitive)?));
        }
        let (prefix, suffix) = literal_ends(pattern, case_insensitive);
        Ok(Self {
            pattern: pattern.to_owned(),
            case_insensitive,
            prefix,
            suffix,
            glob,
            matcher: OnceLock::new(),
        })
    }

    fn is_match(&self, path: &str) -> bool {
        if !path.starts_with(&self.prefix) || !path.ends_with(&self.suffix) {
            return false;
        }
        let matcher = self.matcher.get_or_init(|| {
            self.glob
                .get_or_init(|| Self::builder(&self.pattern, self.case_insensitive).ok())
                .as_ref()
                .map(Glob::compile_matcher)
        });
        // `None` is impossible (a lazily parsed glob is a case-insensitive copy of one that
        // parsed); should it happen, the glob matches, which fails closed for deny and
        // protected globs, the only ones parsed lazily.
        matcher.as_ref().is_none_or(|m| m.is_match(path))
    }
}

/// The literal text before the first and after the last glob metacharacter. Everything
/// outside the metacharacters is matched literally, so a path that does not start with the
/// prefix and end with the suffix cannot match. For case-insensitive globs (which are
/// matched against [`fold`]ed paths) only ASCII is kept: after folding, an ASCII character in
/// the path matches only itself, which is not true of every non-ASCII character.
fn literal_ends(pattern: &str, ascii_only: bool) -> (String, String) {
    let is_meta = |c: char| matches!(c, '*' | '?' | '[' | ']' | '{' | '}' | ',' | '\\');
    let keep = |c: &char| !is_meta(*c) && (!ascii_only || c.is_ascii());
    let prefix: String = pattern.chars().take_while(keep).collect();
    if prefix.len() == pattern.len() {
        // No metacharacter: the whole glob is literal; the prefix says it all.
        return (prefix, String::new());
    }
    let mut suffix: Vec<char> = pattern.chars().rev().take_while(keep).collect();
    suffix.reverse();
    let suffix: String = suffix.into_iter().collect();
    // A `/` next to `**` is optional (`**/a` matches `a`), so it is not required.
    (
        prefix.trim_end_matches('/').to_owned(),
        suffix.trim_start_matches('/').to_owned(),
    )
}

fn compile(patterns: &[String], case_insensitive: bool) -> Result<Vec<LazyGlob>, GlobRefusal> {
    patterns
        .iter()
        .enumerate()
        .map(|(i, p)| {
            LazyGlob::new(p, case_insensitive, true).map_err(|reason| (i, p.clone(), reason))
        })
        .collect()
}

fn validate(patterns: &[String]) -> Result<(), GlobRefusal> {
    for (i, p) in patterns.iter().enumerate() {
        check_shape(p).map_err(|reason| (i, p.clone(), reason))?;
    }
    Ok(())
}

/// NFC, Unicode lower case, `ſ` → `s` (the one lower-case letter whose case fold is ASCII
/// but which lower-casing keeps), NFC again (lower-casing can decompose, e.g. `İ`). Applied
/// to both the glob and the path, so neither spelling nor case decides a deny.
pub(crate) fn fold(s: &str) -> String {
    if s.bytes().all(|b| b.is_ascii() && !b.is_ascii_uppercase()) {
        return s.to_owned();
    }
    let nfc: String = s.nfc().collect();
    let lower: String = nfc
        .to_lowercase()
        .chars()
        .map(|c| if c == '\u{17f}' { 's' } else { c })
        .collect();
    lower.nfc().collect()
}

fn first(globs: &[LazyGlob], path: &str) -> Option<usize> {
    globs.iter().position(|g| g.is_match(path))
}

/// Globs matched exactly (allow list).
#[derive(Debug, Clone)]
pub(crate) struct ExactGlobs {
    patterns: Vec<String>,
    globs: Vec<LazyGlob>,
}

impl ExactGlobs {
    pub(crate) fn new(patterns: Vec<String>) -> Result<Self, GlobRefusal> {
        validate(&patterns)?;
        let globs = compile(&patterns, false)?;
        Ok(Self { patterns, globs })
    }

    /// The first glob matching `path` exactly.
    pub(crate) fn first_match(&self, path: &str) -> Option<&str> {
        first(&self.globs, path).map(|i| self.patterns[i].as_str())
    }

    pub(crate) fn patterns(&self) -> &[String] {
        &self.patterns
    }
}

/// Globs that also match case-insensitively after NFC, and cover folders (deny, protected).
#[derive(Debug, Clone)]
pub(crate) struct FuzzyGlobs {
    patterns: Vec<String>,
    exact: Vec<LazyGlob>,
    folded: Vec<LazyGlob>,
}

/// What a fuzzy match found: the matched path (the path itself or a parent folder) and the glob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FuzzyMatch<'a> {
    pub(crate) matched: String,
    pub(crate) glob: &'a str,
}

impl FuzzyGlobs {
    pub(crate) fn new(patterns: Vec<String>) -> Result<Self, GlobRefusal> {
        validate(&patterns)?;
        let exact = compile(&patterns, false)?;
        let folded = patterns
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let f = fold(p);
                // Same text as the original, which parsed: parse on first use.
                let parse_now = f != *p;
                LazyGlob::new(&f, true, parse_now).map_err(|reason| (i, p.clone(), reason))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            patterns,
            exact,
            folded,
        })
    }

    fn matches_one(&self, path: &str) -> Option<&str> {
        let i = first(&self.exact, path).or_else(|| first(&self.folded, &fold(path)))?;
        Some(self.patterns[i].as_str())
    }

    /// The first match for `path` or, failing that, for its nearest parent folder.
    pub(crate) fn covering(&self, path: &str) -> Option<FuzzyMatch<'_>> {
        if self.patterns.is_empty() {
            return None;
        }
        let mut candidate = path;
        loop {
            if let Some(glob) = self.matches_one(candidate) {
                return Some(FuzzyMatch {
                    matched: candidate.to_owned(),
                    glob,
                });
            }
            match candidate.rfind('/') {
                Some(i) => candidate = &candidate[..i],
                // Every path lies under the root folder, `.`.
                None if candidate != "." => candidate = ".",
                None => return None,
            }
        }
    }

    pub(crate) fn patterns(&self) -> &[String] {
        &self.patterns
    }

    /// The first glob that may match something strictly beneath the folder `dir` (`.` for
    /// the root), compared case-insensitively after NFC as [`Self::covering`] does. A folder
    /// holding a protected path is one a mutating op must not touch: changing its mode, or
    /// replacing it, changes what lies beneath. Decided from the glob's text, not from the
    /// files that exist now, so a folder that does not hold a match *yet* is judged too.
    /// Fails closed: a component that cannot be judged on its own (a `{…}` spanning a `/`)
    /// counts as matching.
    pub(crate) fn beneath(&self, dir: &str) -> Option<&str> {
        let folded_dir = fold(dir);
        let dir_parts: Vec<&str> = if dir.is_empty() || dir == "." {
            Vec::new()
        } else {
            folded_dir.split('/').collect()
        };
        self.patterns.iter().map(String::as_str).find(|p| {
            *p != "." && {
                let folded = fold(p);
                let parts: Vec<&str> = folded.split('/').collect();
                prefix_may_match(&parts, &dir_parts)
            }
        })
    }
}

/// `true` when a path made of `dir` followed by at least one more component can match the
/// glob made of `glob` components.
fn prefix_may_match(glob: &[&str], dir: &[&str]) -> bool {
    match (glob.split_first(), dir.split_first()) {
        // `**` absorbs the rest of the folder and whatever lies beneath it; or the folder is
        // used up and the glob wants more: something beneath can match.
        (Some((&"**", _)), _) | (Some(_), None) => true,
        (None, _) => false,
        (Some((g, g_rest)), Some((d, d_rest))) => {
            component_matches(g, d) && prefix_may_match(g_rest, d_rest)
        }
    }
}

/// One folded glob component against one folded path component.
fn component_matches(glob: &str, name: &str) -> bool {
    let is_meta = |c: char| matches!(c, '*' | '?' | '[' | ']' | '{' | '}' | '\\');
    if !glob.contains(is_meta) {
        return glob == name;
    }
    LazyGlob::builder(glob, true).map_or(true, |g| g.compile_matcher().is_match(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(globs: &[&str]) -> Vec<String> {
        globs.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn star_does_not_cross_slash_but_double_star_does() {
        let g = ExactGlobs::new(v(&["src/*.rs", "docs/**"])).unwrap();
        assert_eq!(g.first_match("src/a.rs"), Some("src/*.rs"));
        assert_eq!(g.first_match("src/sub/a.rs"), None);
        assert_eq!(g.first_match("docs/a/b/c.md"), Some("docs/**"));
        assert_eq!(g.first_match("SRC/a.rs"), None, "allow is case-sensitive");
    }

    #[test]
    fn never_matching_and_malformed_globs_are_refused() {
        for bad in [
            "", "/etc/**", "dir/", "a/../b", "./a", "a//b", "a/[b", "{a,b",
        ] {
            let err = ExactGlobs::new(v(&[bad])).unwrap_err();
            assert_eq!((err.0, err.1.as_str()), (0, bad));
            assert!(FuzzyGlobs::new(v(&[bad])).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn fuzzy_ignores_case_and_unicode_form() {
        let g = FuzzyGlobs::new(v(&["secrets/**", "caf\u{e9}/*"])).unwrap();
        assert!(g.covering("SECRETS/x").is_some());
        assert!(g.covering("Secrets/a/b").is_some());
        assert!(g.covering("cafe\u{301}/menu").is_some(), "decomposed é");
        assert!(g.covering("CAF\u{c9}/menu").is_some(), "upper-case É");
        assert!(g.covering("\u{17f}ecrets/x").is_some(), "long s folds to s");
        assert!(g.covering("public/x").is_none());
        let decomposed = FuzzyGlobs::new(v(&["cafe\u{301}/*"])).unwrap();
        assert!(decomposed.covering("caf\u{e9}/menu").is_some());
    }

    #[test]
    fn literal_ends_are_sound_prefilters() {
        assert_eq!(
            literal_ends("src/*.rs", false),
            ("src".into(), ".rs".into())
        );
        assert_eq!(literal_ends("a/{b,c}/d", false), ("a".into(), "d".into()));
        assert_eq!(literal_ends("x\\*y", false), ("x".into(), "y".into()));
        assert_eq!(
            literal_ends("plain/file", false),
            ("plain/file".into(), String::new())
        );
        assert_eq!(
            literal_ends("caf\u{e9}/*", true),
            ("caf".into(), String::new())
        );
        let g = ExactGlobs::new(v(&["a/{b,c}/d", "x\\*y", "**"])).unwrap();
        assert_eq!(g.first_match("a/c/d"), Some("a/{b,c}/d"));
        assert_eq!(g.first_match("x*y"), Some("x\\*y"));
        assert_eq!(g.first_match("xzy"), Some("**"));
    }

    /// The prefilter never changes globset's answer, on tricky globs and paths.
    #[test]
    fn prefilter_agrees_with_globset() {
        let globs = [
            "a/**",
            "**/a",
            "a/**/b",
            "**",
            "*",
            "a*",
            "*a",
            "a?c",
            "[ab]/x",
            "{a,b}/y",
            "a/{b,c}",
            "x\\*",
            ".",
            "a/*/",
            "**/*.rs",
            "src/**/*.rs",
        ];
        let paths = [
            "a",
            "a/",
            "a/b",
            "b/a",
            "a/x/b",
            "abc",
            "ca",
            "a/b/c",
            "x*",
            ".",
            "b/y",
            "src/a.rs",
            "src/x/y/a.rs",
            "a.rs",
            "",
            "a/c",
        ];
        for g in globs {
            let Ok(lazy) = LazyGlob::new(g, false, true) else {
                continue;
            };
            let direct = GlobBuilder::new(g)
                .literal_separator(true)
                .backslash_escape(true)
                .build()
                .unwrap()
                .compile_matcher();
            for p in paths {
                assert_eq!(
                    lazy.is_match(p),
                    direct.is_match(p),
                    "glob {g:?} path {p:?}"
                );
            }
        }
    }

    #[test]
    fn beneath_finds_folders_that_hold_a_possible_match() {
        let g = FuzzyGlobs::new(v(&["ci/**", "docs/policy.md", "x/[ab]*/y"])).unwrap();
        assert_eq!(g.beneath("ci"), Some("ci/**"));
        assert_eq!(g.beneath("CI"), Some("ci/**"));
        assert_eq!(g.beneath("."), Some("ci/**"));
        assert_eq!(g.beneath("docs"), Some("docs/policy.md"));
        assert_eq!(g.beneath("docs/policy.md"), None);
        assert_eq!(g.beneath("x/ab"), Some("x/[ab]*/y"));
        assert_eq!(g.beneath("x/c"), None);
        assert_eq!(g.beneath("src"), None);
        let anywhere = FuzzyGlobs::new(v(&["**/*.lock"])).unwrap();
        assert_eq!(anywhere.beneath("src/deep"), Some("**/*.lock"));
        assert_eq!(FuzzyGlobs::new(v(&["."])).unwrap().beneath("."), None);
    }

    #[test]
    fn fuzzy_covers_everything_under_a_matching_folder() {
        let g = FuzzyGlobs::new(v(&["secrets"])).unwrap();
        let m = g.covering("secrets/deep/key.pem").unwrap();
        assert_eq!(m.matched, "secrets");
        assert_eq!(m.glob, "secrets");
        assert!(g.covering("secrets2/x").is_none());
        assert!(FuzzyGlobs::new(Vec::new()).unwrap().covering("x").is_none());
        let everything = FuzzyGlobs::new(v(&["."])).unwrap();
        assert_eq!(everything.covering("a/b").unwrap().matched, ".");
    }
}
