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

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use unicode_normalization::UnicodeNormalization;

/// Why a glob was refused: the glob and the reason (which may carry a `help:` line).
pub(crate) type GlobRefusal = (String, String);

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

fn build(patterns: &[String], case_insensitive: bool) -> Result<GlobSet, GlobRefusal> {
    let mut set = GlobSetBuilder::new();
    for p in patterns {
        let glob = GlobBuilder::new(p)
            .literal_separator(true)
            .backslash_escape(true)
            .case_insensitive(case_insensitive)
            .build()
            .map_err(|e| (p.clone(), e.kind().to_string()))?;
        set.add(glob);
    }
    set.build().map_err(|e| {
        (
            e.glob().unwrap_or_default().to_owned(),
            e.kind().to_string(),
        )
    })
}

fn validate(patterns: &[String]) -> Result<(), GlobRefusal> {
    for p in patterns {
        check_shape(p).map_err(|reason| (p.clone(), reason))?;
    }
    Ok(())
}

/// NFC, Unicode lower case, NFC again (lower-casing can decompose, e.g. `İ`). Applied to both
/// the glob and the path, so neither spelling nor case decides a deny.
fn fold(s: &str) -> String {
    let nfc: String = s.nfc().collect();
    nfc.to_lowercase().nfc().collect()
}

fn first(set: &GlobSet, patterns: &[String], path: &str) -> Option<usize> {
    if !set.is_match(path) {
        return None;
    }
    set.matches(path)
        .into_iter()
        .min()
        .filter(|&i| i < patterns.len())
}

/// Globs matched exactly (allow list).
#[derive(Debug, Clone)]
pub(crate) struct ExactGlobs {
    patterns: Vec<String>,
    set: GlobSet,
}

impl ExactGlobs {
    pub(crate) fn new(patterns: Vec<String>) -> Result<Self, GlobRefusal> {
        validate(&patterns)?;
        let set = build(&patterns, false)?;
        Ok(Self { patterns, set })
    }

    /// The first glob matching `path` exactly.
    pub(crate) fn first_match(&self, path: &str) -> Option<&str> {
        first(&self.set, &self.patterns, path).map(|i| self.patterns[i].as_str())
    }

    pub(crate) fn patterns(&self) -> &[String] {
        &self.patterns
    }
}

/// Globs that also match case-insensitively after NFC, and cover folders (deny, protected).
#[derive(Debug, Clone)]
pub(crate) struct FuzzyGlobs {
    patterns: Vec<String>,
    exact: GlobSet,
    folded: GlobSet,
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
        let exact = build(&patterns, false)?;
        let folded: Vec<String> = patterns.iter().map(|p| fold(p)).collect();
        let folded = build(&folded, true)?;
        Ok(Self {
            patterns,
            exact,
            folded,
        })
    }

    fn matches_one(&self, path: &str) -> Option<&str> {
        let i = first(&self.exact, &self.patterns, path)
            .or_else(|| first(&self.folded, &self.patterns, &fold(path)))?;
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
            assert_eq!(err.0, bad);
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
        assert!(g.covering("public/x").is_none());
        let decomposed = FuzzyGlobs::new(v(&["cafe\u{301}/*"])).unwrap();
        assert!(decomposed.covering("caf\u{e9}/menu").is_some());
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
