//! The injectable clock.
//!
//! Everything that reads wall-clock time goes through a [`Clock`], so expiry and timestamps are
//! testable without sleeping. The hidden `--now` flag / `VAULTGATE_NOW` variable fixes the clock
//! to an RFC 3339 instant. A clock oddity (an unparseable override, a time before the Unix
//! epoch) is an error, never a silent fallback to the system time.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Errors reading the clock.
#[derive(Debug, thiserror::Error)]
pub enum ClockError {
    /// The override was not an RFC 3339 UTC instant.
    #[error(
        "invalid clock override `{value}`: {reason}\nhelp: use RFC 3339 UTC, e.g. `2026-01-02T03:04:05Z`"
    )]
    BadOverride {
        /// The value given.
        value: String,
        /// Why it was refused.
        reason: String,
    },
    /// The system clock reads before 1970.
    #[error("the system clock reads before the Unix epoch; refusing to timestamp anything")]
    BeforeEpoch,
}

/// A source of the current time.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> SystemTime;
}

/// The operating system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock stopped at one instant (the `--now` override, and tests).
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub SystemTime);

impl Clock for FixedClock {
    fn now(&self) -> SystemTime {
        self.0
    }
}

/// The system clock, or a fixed one when an override is given.
pub fn from_override(value: Option<&str>) -> Result<Box<dyn Clock>, ClockError> {
    match value {
        None => Ok(Box::new(SystemClock)),
        Some(v) => Ok(Box::new(FixedClock(parse_rfc3339(v).map_err(
            |reason| ClockError::BadOverride {
                value: v.to_owned(),
                reason,
            },
        )?))),
    }
}

/// Parse an RFC 3339 UTC timestamp (`Z` suffix, optional fractional seconds).
pub fn parse_rfc3339(s: &str) -> Result<SystemTime, String> {
    if !s.ends_with('Z') {
        return Err("only UTC timestamps ending in `Z` are accepted".into());
    }
    humantime::parse_rfc3339(s).map_err(|e| e.to_string())
}

/// Format as RFC 3339 UTC with whole seconds, e.g. `2026-01-02T03:04:05Z`.
pub fn format_rfc3339(t: SystemTime) -> Result<String, ClockError> {
    t.duration_since(UNIX_EPOCH)
        .map_err(|_| ClockError::BeforeEpoch)?;
    Ok(humantime::format_rfc3339_seconds(t).to_string())
}

/// Seconds since the Unix epoch.
pub fn unix_seconds(t: SystemTime) -> Result<u64, ClockError> {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .map_err(|_| ClockError::BeforeEpoch)
}

/// Parse a human duration such as `30s`, `5m`, `1h 30m`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("invalid duration `{s}`: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn override_round_trips_and_rejects_garbage() {
        let clock = from_override(Some("2026-01-02T03:04:05Z")).unwrap();
        assert_eq!(format_rfc3339(clock.now()).unwrap(), "2026-01-02T03:04:05Z");
        assert!(from_override(Some("yesterday")).is_err());
        assert!(from_override(Some("2026-01-02T03:04:05+01:00")).is_err());
    }

    #[test]
    fn before_epoch_is_refused() {
        let t = UNIX_EPOCH - Duration::from_secs(1);
        assert!(format_rfc3339(t).is_err());
    }
}
