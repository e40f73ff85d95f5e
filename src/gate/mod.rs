//! The audit gate pipeline: audit → extract → verify manifest → required paths → checks → report.
pub mod runner;
