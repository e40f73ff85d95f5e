//! The per-path rules of an envelope check: allow, deny and protected globs on both forms of
//! a path, the envelope's own files, folders that hold protected paths, and the contents of a
//! folder that is deleted or renamed. Each rule pushes findings; none decides the verdict
//! ([`super::check`] does, once, from all of them).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::EnvelopeError;
use super::check::CheckRequest;
use super::codes::EnvelopeCode;
use super::policy::ValidEnvelope;
use super::resolve::{Located, Place};
use crate::report::{Finding, escape_bytes_for_display, escape_for_display};

/// A file no mutating op may touch, whatever the globs say.
pub(super) struct Guarded {
    path: PathBuf,
    /// `path` folded ([`fold_path`]), as compared.
    folded: String,
    what: &'static str,
}

impl Guarded {
    pub(super) fn new(path: PathBuf, what: &'static str) -> Self {
        Self {
            folded: fold_path(&path),
            path,
            what,
        }
    }
}

pub(super) fn judge_path(
    env: &ValidEnvelope,
    req: &CheckRequest,
    guarded: &[Guarded],
    loc: &Located,
    out: &mut Vec<Finding>,
) -> Result<(), EnvelopeError> {
    let given = &loc.given;
    let root = escape_bytes_for_display(req.root.canonical().as_os_str().as_encoded_bytes());
    let same = loc.lexical == loc.physical;
    let forms: &[(&Place, bool)] = if same {
        &[(&loc.lexical, false)]
    } else {
        &[(&loc.lexical, false), (&loc.physical, true)]
    };
    for &(place, physical) in forms {
        let rel = match place {
            Place::Outside(abs) => {
                let abs = escape_bytes_for_display(abs.as_os_str().as_encoded_bytes());
                let message = if physical {
                    format!("`{given}` resolves to `{abs}`, outside the root `{root}`")
                } else {
                    format!("`{given}` lies outside the root `{root}`")
                };
                out.push(Finding::error(
                    EnvelopeCode::PathOutsideRoot,
                    given,
                    message,
                ));
                continue;
            }
            // The root folder itself is `.` to the globs.
            Place::Inside(rel) if rel.is_empty() => ".",
            Place::Inside(rel) => rel.as_str(),
        };
        let who = if physical {
            format!("`{given}` resolves to `{}`, which", place.display())
        } else {
            format!("`{given}`")
        };
        if env.allow.first_match(rel).is_none() {
            out.push(Finding::error(
                EnvelopeCode::PathNotAllowed,
                given,
                format!("{who} matches no `allow_paths` glob"),
            ));
        }
        if let Some(m) = env.deny.covering(rel) {
            out.push(Finding::error(
                EnvelopeCode::PathDenied,
                given,
                covered(&who, rel, &m.matched, "deny", m.glob),
            ));
        }
        if req.op.is_mutating()
            && let Some(m) = env.protected.covering(rel)
        {
            out.push(Finding::error(
                EnvelopeCode::PathProtected,
                given,
                covered(&who, rel, &m.matched, "protected", m.glob),
            ));
        }
    }
    if req.op.is_mutating() {
        judge_guarded(guarded, loc, out);
        judge_protected_folder(env, loc, forms, out);
    }
    if req.op.is_recursive()
        && loc.is_dir
        && let Place::Inside(rel) = &loc.physical
    {
        judge_contents(env, &loc.physical_abs, rel, given, out)?;
    }
    Ok(())
}

/// The envelope's own files, for a mutating op: the path may not be one of them, in any case
/// or Unicode spelling (the protected globs match that way too, and on a case-insensitive
/// file system `ENVELOPE.JSON` is the envelope), nor a folder holding one.
fn judge_guarded(guarded: &[Guarded], loc: &Located, out: &mut Vec<Finding>) {
    let given = &loc.given;
    let same = loc.lexical == loc.physical;
    for g in guarded {
        for (abs, physical) in [(&loc.lexical_abs, false), (&loc.physical_abs, true)] {
            let who = if physical && !same {
                format!("`{given}` resolves to a path that")
            } else {
                format!("`{given}`")
            };
            let folded = fold_path(abs);
            let message = if folded == g.folded {
                let spelling = if *abs == g.path {
                    String::new()
                } else {
                    " (in another case or Unicode spelling)".to_owned()
                };
                format!("{who} is {}{spelling}; no op may change it", g.what)
            } else if Path::new(&g.folded).starts_with(Path::new(&folded)) {
                format!(
                    "{who} is a folder holding {}; only read-only ops may act on it",
                    g.what
                )
            } else {
                continue;
            };
            out.push(Finding::error(EnvelopeCode::PathProtected, given, message));
        }
    }
}

/// An existing folder that holds (or, by a protected glob's text, may hold) a protected path:
/// a mutating op on the folder itself (`chmod ci`, `write ci`, `chmod .`) changes what lies
/// beneath, so it is refused like an op on the protected path.
fn judge_protected_folder(
    env: &ValidEnvelope,
    loc: &Located,
    forms: &[(&Place, bool)],
    out: &mut Vec<Finding>,
) {
    if !loc.is_dir {
        return;
    }
    let given = &loc.given;
    for &(place, physical) in forms {
        let Place::Inside(rel) = place else { continue };
        let rel = if rel.is_empty() { "." } else { rel.as_str() };
        if env.protected.covering(rel).is_some() {
            // Already refused as a protected path itself.
            continue;
        }
        let Some(glob) = env.protected.beneath(rel) else {
            continue;
        };
        let who = if physical {
            format!("`{given}` resolves to `{}`, which", place.display())
        } else {
            format!("`{given}`")
        };
        out.push(Finding::error(
            EnvelopeCode::PathProtected,
            given,
            format!(
                "{who} is a folder that holds paths matching protected glob `{}`; only read-only ops may act on it",
                escape_for_display(glob)
            ),
        ));
    }
}

/// A path compared the way deny and protected globs compare: NFC, Unicode lower case.
fn fold_path(p: &Path) -> String {
    super::globs::fold(&p.to_string_lossy())
}

fn covered(who: &str, rel: &str, matched: &str, kind: &str, glob: &str) -> String {
    if matched == rel {
        format!("{who} matches {kind} glob `{}`", escape_for_display(glob))
    } else {
        format!(
            "{who} lies under `{}`, which matches {kind} glob `{}`",
            escape_for_display(matched),
            escape_for_display(glob)
        )
    }
}

/// `delete` and `rename` of a folder act on everything inside it: judge each entry (without
/// following links) against deny and protected globs. A matching folder is reported once.
fn judge_contents(
    env: &ValidEnvelope,
    dir: &Path,
    rel: &str,
    given: &str,
    out: &mut Vec<Finding>,
) -> Result<(), EnvelopeError> {
    let mut walk = walkdir::WalkDir::new(dir)
        .min_depth(1)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter();
    while let Some(entry) = walk.next() {
        let entry = entry.map_err(|e| EnvelopeError::Resolve {
            given: given.to_owned(),
            reason: format!("cannot walk the folder's contents: {e}"),
        })?;
        let sub = entry
            .path()
            .strip_prefix(dir)
            .ok()
            .and_then(Path::to_str)
            .ok_or_else(|| EnvelopeError::Resolve {
                given: given.to_owned(),
                reason: format!(
                    "`{}` inside it is not valid UTF-8, so globs cannot judge it",
                    escape_bytes_for_display(entry.path().as_os_str().as_encoded_bytes())
                ),
            })?;
        let full = if rel.is_empty() || rel == "." {
            sub.to_owned()
        } else {
            format!("{rel}/{sub}")
        };
        let mut hit = false;
        for (globs, code, kind) in [
            (&env.deny, EnvelopeCode::PathDenied, "deny"),
            (&env.protected, EnvelopeCode::PathProtected, "protected"),
        ] {
            // Only matches at or below this entry: the folder's own ancestors were judged.
            if let Some(m) = globs
                .covering(&full)
                .filter(|m| m.matched != "." && m.matched.len() > rel.len())
            {
                let mut message = String::new();
                let _ = write!(
                    message,
                    "`{given}` contains `{}`, which matches {kind} glob `{}`",
                    escape_for_display(&full),
                    escape_for_display(m.glob)
                );
                out.push(Finding::error(code, given, message));
                hit = true;
            }
        }
        if hit && entry.file_type().is_dir() {
            walk.skip_current_dir();
        }
    }
    Ok(())
}
