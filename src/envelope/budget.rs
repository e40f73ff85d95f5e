//! Spent budget: the exact sum of `outputs.cost_usd` over a journal's records.
//!
//! Rules: a record without `cost_usd` spent nothing (most steps cost nothing); a `cost_usd`
//! that is not a JSON number, is negative (a "refund" would raise the budget), or needs more
//! than nine decimal places is an error — the budget cannot be known, so nothing is allowed.

use std::io;
use std::path::Path;

use serde_json::{Map, Value};

use super::EnvelopeError;
use super::usd::Usd;
use crate::fsutil::FsError;
use crate::report::escape_for_display;

/// The output key every costed step carries.
pub const COST_KEY: &str = "cost_usd";

/// Sum `outputs.cost_usd` over `(step_id, outputs)` pairs read from the journal at `journal`.
pub fn spent_from_outputs<'a, I>(journal: &Path, records: I) -> Result<Usd, EnvelopeError>
where
    I: IntoIterator<Item = (&'a str, &'a Map<String, Value>)>,
{
    let mut total = Usd::ZERO;
    for (step_id, outputs) in records {
        let Some(value) = outputs.get(COST_KEY) else {
            continue;
        };
        let bad = |reason: String| EnvelopeError::JournalCost {
            path: journal.to_path_buf(),
            step_id: escape_for_display(step_id),
            reason,
        };
        let cost = Usd::from_json(value).map_err(bad)?;
        if cost.is_negative() {
            return Err(bad(format!("negative cost `{cost}`")));
        }
        total = total.checked_add(cost).ok_or(EnvelopeError::Overflow {
            what: "journal costs",
        })?;
    }
    Ok(total)
}

/// The budget spent so far: the sum of `outputs.cost_usd` over the fully verified journal at
/// `path`. A missing journal is an error (an absent journal must not reset the budget).
pub fn spent_in_journal(path: &Path) -> Result<Usd, EnvelopeError> {
    require_journal(path)?;
    let records = crate::journal::read_verified(path)?;
    spent_from_outputs(
        path,
        records.iter().map(|r| (r.step_id.as_str(), &r.outputs)),
    )
}

/// A missing journal is an error, not an empty budget (deleting it must not reset the spend).
pub(super) fn require_journal(path: &Path) -> Result<(), EnvelopeError> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(EnvelopeError::JournalMissing {
            path: path.to_path_buf(),
        }),
        Err(e) => Err(FsError::new("inspect", path, e).into()),
        Ok(_) => Ok(()),
    }
}

/// `cost` as a JSON number the journal stores exactly. The journal writes a fractional
/// number as Python's `repr` of the nearest double; an amount that would not survive that
/// unchanged is refused rather than silently altered.
pub fn journal_amount(cost: Usd) -> Result<Value, EnvelopeError> {
    let text = cost.to_string();
    if text.contains('.') {
        let stored = text
            .parse::<f64>()
            .ok()
            .and_then(crate::canon::python_float_repr)
            .unwrap_or_default();
        if Usd::parse(&stored).ok() != Some(cost) {
            return Err(EnvelopeError::Unrecordable { cost: text, stored });
        }
    }
    Ok(cost.to_json())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outputs(json: &str) -> Map<String, Value> {
        serde_json::from_str(json).unwrap()
    }

    fn sum(records: &[Map<String, Value>]) -> Result<Usd, EnvelopeError> {
        spent_from_outputs(Path::new("j.jsonl"), records.iter().map(|o| ("step-1", o)))
    }

    #[test]
    fn a_thousand_small_costs_add_up_exactly() {
        let records: Vec<_> = (0..1000)
            .map(|_| outputs(r#"{"cost_usd": 0.001}"#))
            .collect();
        assert_eq!(sum(&records).unwrap(), Usd::parse("1").unwrap());
    }

    #[test]
    fn absent_cost_counts_as_zero() {
        let records = [
            outputs(r#"{"note": "free"}"#),
            outputs(r#"{"cost_usd": 2.5}"#),
        ];
        assert_eq!(sum(&records).unwrap().to_string(), "2.5");
        assert_eq!(sum(&[]).unwrap(), Usd::ZERO);
    }

    #[test]
    fn journal_amounts_survive_the_journal_or_are_refused() {
        for ok in [
            "0.001",
            "5",
            "0.00001",
            "123456.123456789",
            "100000000000000000000",
        ] {
            let cost = Usd::parse(ok).unwrap();
            let v = journal_amount(cost).unwrap();
            assert_eq!(Usd::from_json(&v).unwrap(), cost, "{ok}");
        }
        // 17 significant digits: a double cannot keep them.
        let err = journal_amount(Usd::parse("12345678.123456789").unwrap()).unwrap_err();
        assert!(
            err.to_string()
                .contains("cannot record cost `12345678.123456789` exactly"),
            "{err}"
        );
    }

    #[test]
    fn ill_typed_or_negative_cost_is_an_error() {
        for bad in [
            r#"{"cost_usd": "0.5"}"#,
            r#"{"cost_usd": null}"#,
            r#"{"cost_usd": -1}"#,
            r#"{"cost_usd": 0.1234567891}"#,
        ] {
            let err = sum(&[outputs(bad)]).unwrap_err().to_string();
            assert!(err.contains("step `step-1`"), "{bad}: {err}");
            assert!(err.contains("`outputs.cost_usd`"), "{bad}: {err}");
        }
    }
}
