//! [`Usd`]: an exact amount of US dollars, fixed-point with nine decimal places.
//!
//! Amounts are parsed from the exact source text of a JSON number (serde_json's
//! `arbitrary_precision` keeps it), never through a float. The grammar is JSON's number
//! grammar: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`. An amount is accepted only when
//! its value is exactly representable in nano-dollars: `1.5e-3` is fine, `1e-10` and
//! `0.0000000001` are refused rather than rounded; trailing zeros beyond the ninth place
//! (`1.0000000000`) lose nothing and are accepted. Sums use checked arithmetic.

use std::fmt;

use serde_json::{Number, Value};

/// Decimal places kept.
pub const SCALE: u32 = 9;
const UNIT: i128 = 1_000_000_000;
/// Longest digit string considered (i128 holds 38 digits; anything longer cannot fit).
const MAX_DIGITS: usize = 38;

/// An exact amount of US dollars (nano-dollar fixed point).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Usd(i128);

impl Usd {
    /// Zero dollars.
    pub const ZERO: Self = Self(0);

    /// An amount from a count of nano-dollars.
    pub fn from_nanos(nanos: i128) -> Self {
        Self(nanos)
    }

    /// The amount in nano-dollars.
    pub fn nanos(self) -> i128 {
        self.0
    }

    /// `true` below zero.
    pub fn is_negative(self) -> bool {
        self.0 < 0
    }

    /// `self + other`, or `None` on overflow.
    #[must_use]
    pub fn checked_add(self, other: Self) -> Option<Self> {
        self.0.checked_add(other.0).map(Self)
    }

    /// `self - other`, or `None` on overflow.
    #[must_use]
    pub fn checked_sub(self, other: Self) -> Option<Self> {
        self.0.checked_sub(other.0).map(Self)
    }

    /// Parse the exact text of a JSON number. The error is a lowercase reason.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (negative, rest) = match text.strip_prefix('-') {
            Some(r) => (true, r),
            None => (false, text),
        };
        let (mantissa, exp) = match rest.find(['e', 'E']) {
            Some(i) => (&rest[..i], Some(&rest[i + 1..])),
            None => (rest, None),
        };
        let (int, frac) = match mantissa.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (mantissa, None),
        };
        let not_a_number = || "not a decimal number (expected e.g. `0.25` or `12`)".to_owned();
        let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(int) || (int.len() > 1 && int.starts_with('0')) {
            return Err(not_a_number());
        }
        if frac.is_some_and(|f| !all_digits(f)) {
            return Err(not_a_number());
        }
        let exp: i64 = match exp {
            None => 0,
            Some(e) => {
                let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
                if !all_digits(digits) {
                    return Err(not_a_number());
                }
                // More than four exponent digits is far outside any representable amount.
                if digits.trim_start_matches('0').len() > 4 {
                    return Err("exponent out of range".to_owned());
                }
                e.parse().map_err(|_| not_a_number())?
            }
        };
        let frac = frac.unwrap_or("");
        if int.bytes().chain(frac.bytes()).all(|b| b == b'0') {
            // Zero is exact at any exponent (`0e-20`).
            return Ok(Self::ZERO);
        }
        let mut digits: String = format!("{int}{frac}");
        // The value is digits × 10^-(scale).
        let mut scale: i64 = i64::try_from(frac.len()).map_err(|_| not_a_number())? - exp;
        while scale > i64::from(SCALE) && digits.ends_with('0') {
            digits.pop();
            scale -= 1;
        }
        if scale > i64::from(SCALE) {
            return Err(format!(
                "more than {SCALE} decimal places; refusing to round (vaultgate keeps amounts exact to 1e-{SCALE} USD)"
            ));
        }
        let trimmed = digits.trim_start_matches('0');
        if trimmed.len() > MAX_DIGITS {
            return Err("amount too large".to_owned());
        }
        let too_large = || "amount too large".to_owned();
        let mut value: i128 = 0;
        for b in trimmed.bytes() {
            value = value
                .checked_mul(10)
                .and_then(|v| v.checked_add(i128::from(b - b'0')))
                .ok_or_else(too_large)?;
        }
        let shift = u32::try_from(i64::from(SCALE) - scale).map_err(|_| too_large())?;
        let factor = 10i128.checked_pow(shift).ok_or_else(too_large)?;
        let value = value.checked_mul(factor).ok_or_else(too_large)?;
        Ok(Self(if negative { -value } else { value }))
    }

    /// Read an amount from a JSON value, which must be a number.
    pub fn from_json(value: &Value) -> Result<Self, String> {
        match value {
            // With `arbitrary_precision`, a Number displays as its exact source text.
            Value::Number(n) => Self::parse(&n.to_string()),
            Value::Null => Err("is null (expected a number)".to_owned()),
            Value::String(s) => Err(format!(
                "is the string `{}` (expected a JSON number, without quotes)",
                crate::report::escape_for_display(s)
            )),
            Value::Bool(_) => Err("is a boolean (expected a number)".to_owned()),
            Value::Array(_) => Err("is an array (expected a number)".to_owned()),
            Value::Object(_) => Err("is an object (expected a number)".to_owned()),
        }
    }

    /// The amount as an exact JSON number.
    pub fn to_json(self) -> Value {
        // Invariant: `Display` writes `-?[0-9]+(\.[0-9]+)?`, which is always a valid JSON
        // number; the fallback only exists so this function cannot panic.
        self.to_string()
            .parse::<Number>()
            .map_or_else(|_| Value::String(self.to_string()), Value::Number)
    }
}

impl std::str::FromStr for Usd {
    type Err = String;
    /// [`Usd::parse`]: an exact decimal with at most nine places, never rounded.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for Usd {
    /// Shortest exact decimal: `0`, `1.5`, `0.000000001`, `-2`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let abs = self.0.unsigned_abs();
        let unit = UNIT.unsigned_abs();
        let (int, frac) = (abs / unit, abs % unit);
        if self.0 < 0 {
            f.write_str("-")?;
        }
        if frac == 0 {
            write!(f, "{int}")
        } else {
            let frac = format!("{frac:09}");
            write!(f, "{int}.{}", frac.trim_end_matches('0'))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn usd(s: &str) -> Usd {
        Usd::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn parses_exact_decimals() {
        assert_eq!(usd("0").nanos(), 0);
        assert_eq!(usd("-0").nanos(), 0);
        assert_eq!(usd("1").nanos(), 1_000_000_000);
        assert_eq!(usd("1.001").nanos(), 1_001_000_000);
        assert_eq!(usd("0.000000001").nanos(), 1);
        assert_eq!(usd("-2.5").nanos(), -2_500_000_000);
        assert_eq!(usd("1.0000000000000").nanos(), 1_000_000_000);
    }

    #[test]
    fn parses_exponents_only_when_exact() {
        assert_eq!(usd("1e3").nanos(), 1_000_000_000_000);
        assert_eq!(usd("1.5E-3").nanos(), 1_500_000);
        assert_eq!(usd("25e-9").nanos(), 25);
        assert!(Usd::parse("25e-10").is_err());
        assert_eq!(usd("1e-9").nanos(), 1);
        assert_eq!(usd("0e-20").nanos(), 0);
        assert!(Usd::parse("1e-10").unwrap_err().contains("decimal places"));
        assert!(Usd::parse("15e-10").is_err());
        assert!(Usd::parse("1e99999").unwrap_err().contains("exponent"));
        assert!(Usd::parse("1e40").unwrap_err().contains("too large"));
    }

    #[test]
    fn refuses_more_precision_than_supported() {
        let err = Usd::parse("0.0000000001").unwrap_err();
        assert!(err.contains("more than 9 decimal places"), "{err}");
        assert!(Usd::parse("0.1000000001").is_err());
    }

    #[test]
    fn refuses_non_json_numbers() {
        for bad in [
            "", "-", ".5", "5.", "01", "+1", "1e", "1e+", "0x10", "1,5", " 1", "NaN", "inf",
            "1.2.3", "--1",
        ] {
            assert!(Usd::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn json_values_other_than_numbers_are_refused() {
        assert!(Usd::from_json(&Value::Null).is_err());
        assert!(Usd::from_json(&Value::String("1".into())).is_err());
        let v: Value = serde_json::from_str("0.30000000000000004").unwrap();
        assert!(
            Usd::from_json(&v).is_err(),
            "float noise must not be rounded away"
        );
        let v: Value = serde_json::from_str("0.123456789").unwrap();
        assert_eq!(Usd::from_json(&v).unwrap().nanos(), 123_456_789);
    }

    #[test]
    fn displays_shortest_exact_form() {
        assert_eq!(usd("1.500").to_string(), "1.5");
        assert_eq!(usd("2").to_string(), "2");
        assert_eq!(usd("-0.000000001").to_string(), "-0.000000001");
        assert_eq!(usd("1e3").to_string(), "1000");
        assert_eq!(usd("0.25").to_json().to_string(), "0.25");
    }

    #[test]
    fn many_small_costs_sum_exactly() {
        let step = usd("0.001");
        let mut sum = Usd::ZERO;
        for _ in 0..1000 {
            sum = sum.checked_add(step).unwrap();
        }
        assert_eq!(sum, usd("1"));
        assert_eq!(sum.checked_add(step).unwrap(), usd("1.001"));
    }

    proptest! {
        /// Display then parse gives back the same amount.
        #[test]
        fn display_round_trips(n in any::<i64>()) {
            let a = Usd::from_nanos(i128::from(n));
            prop_assert_eq!(Usd::parse(&a.to_string()).unwrap(), a);
        }
    }
}
