//! Safe relative paths.
//!
//! A [`SafeRelPath`] is a non-empty, `/`-separated relative path whose every component is a
//! normal name: no empty, `.` or `..` component, no leading `/`, no `\`, no NUL. Joined onto a
//! root it can never leave that root lexically (links are the caller's business: vaultgate
//! never follows them where a path comes from untrusted input).

use std::fmt;
use std::path::{Path, PathBuf};

/// Why a path is not a safe relative path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// The path is empty.
    #[error("empty path")]
    Empty,
    /// The path starts with `/`.
    #[error("absolute path `{0}`")]
    Absolute(String),
    /// The path contains a backslash.
    #[error("backslash in path `{0}` (use `/` separators)")]
    Backslash(String),
    /// The path contains NUL.
    #[error("NUL byte in path `{0}`")]
    Nul(String),
    /// A component is empty, `.` or `..`.
    #[error("`{component}` component in path `{path}`")]
    BadComponent {
        /// The path.
        path: String,
        /// The offending component (`` for an empty one).
        component: String,
    },
}

/// A validated relative path with `/` separators.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SafeRelPath(String);

impl SafeRelPath {
    /// Validate `s`.
    pub fn parse(s: &str) -> Result<Self, PathError> {
        let shown = || crate::report::escape_for_display(s);
        if s.is_empty() {
            return Err(PathError::Empty);
        }
        if s.starts_with('/') {
            return Err(PathError::Absolute(shown()));
        }
        if s.contains('\\') {
            return Err(PathError::Backslash(shown()));
        }
        if s.contains('\0') {
            return Err(PathError::Nul(shown()));
        }
        for c in s.split('/') {
            if c.is_empty() || c == "." || c == ".." {
                return Err(PathError::BadComponent {
                    path: shown(),
                    component: c.to_owned(),
                });
            }
        }
        Ok(Self(s.to_owned()))
    }

    /// The path as written (`/` separators).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `root` joined with this path.
    pub fn under(&self, root: &Path) -> PathBuf {
        let mut p = root.to_path_buf();
        p.extend(self.0.split('/'));
        p
    }
}

impl fmt::Display for SafeRelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for SafeRelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SafeRelPath({:?})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn refuses_every_unsafe_form() {
        for bad in [
            "",
            "/etc/passwd",
            "a\\b",
            "a//b",
            "./a",
            "a/..",
            "../x",
            "a/",
            "a\0b",
        ] {
            assert!(SafeRelPath::parse(bad).is_err(), "{bad:?} accepted");
        }
        for good in ["a", "a..b.txt", "..data.txt", "dir/sub/f", "é/ü"] {
            assert!(SafeRelPath::parse(good).is_ok(), "{good:?} refused");
        }
    }

    proptest! {
        /// A safe path never escapes its root, whatever its characters.
        #[test]
        fn safe_path_never_escapes_root(s in "[a-z./\\\\]{1,24}") {
            if let Ok(p) = SafeRelPath::parse(&s) {
                let root = Path::new("/root/base");
                let joined = p.under(root);
                prop_assert!(joined.starts_with(root));
                prop_assert!(joined.components().all(|c| matches!(c,
                    std::path::Component::RootDir | std::path::Component::Normal(_))));
            }
        }
    }
}
