//! The lease family's reports (`vaultgate/lease/v1`): metadata only, never material. Every
//! lease, contract, asset and ingest report renders from the store's rows through here.

use serde_json::{Map, Value, json};

use crate::exit::ExitStatus;
use crate::output::{Render, Style, json_object};
use crate::report::escape_for_display as esc;
use crate::vault::store::lease::LeaseRow;
use crate::vault::store::registry::{AssetRow, ContractRow, IngestRow};

/// The JSON schema of every lease-family report.
pub const SCHEMA: &str = "vaultgate/lease/v1";

fn rfc3339(secs: i64) -> String {
    let t =
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(u64::try_from(secs).unwrap_or(0));
    crate::clock::format_rfc3339(t).unwrap_or_else(|_| secs.to_string())
}

/// A lease as JSON (metadata only).
pub fn lease_json(l: &LeaseRow) -> Value {
    json!({
        "handle": l.handle,
        "ingest": l.ingest_id,
        "scopes": l.scopes,
        "status": l.status,
        "issued_at": rfc3339(l.issued_at),
        "expires_at": rfc3339(l.expires_at),
        "issued_by": l.issued_by,
        "fingerprint": l.fingerprint,
        "revoked_at": l.revoked_at.map(rfc3339),
        "revoked_by": l.revoked_by,
        "revoked_reason": l.revoked_reason,
        "expired_at": l.expired_at.map(rfc3339),
    })
}

fn lease_line(l: &LeaseRow) -> String {
    format!(
        "{}  {:<7}  ingest {}  scopes {}  issued {}  expires {}  fingerprint {}",
        l.handle,
        l.status,
        l.ingest_id,
        l.scopes.join(","),
        rfc3339(l.issued_at),
        rfc3339(l.expires_at),
        l.fingerprint
    )
}

/// The outcome of `lease mint`, `revoke` or `show`.
#[derive(Debug, Clone)]
pub struct LeaseReport {
    /// `mint`, `revoke`, `show`.
    pub command: &'static str,
    /// The lease.
    pub lease: LeaseRow,
    /// A note (`already revoked by …`), if any.
    pub note: Option<String>,
}

impl Render for LeaseReport {
    crate::render_head!(SCHEMA, crate::output::passes);
    fn to_json(&self) -> Map<String, Value> {
        json_object(json!({
            "command": self.command,
            "lease": lease_json(&self.lease),
            "note": self.note,
        }))
    }
    fn render_text(&self, _style: &Style) -> String {
        let l = &self.lease;
        let mut s = format!(
            "lease {}\n  status       {}\n  ingest       {}\n  scopes       {}\n  issued_at    {}\n  expires_at   {}\n  issued_by    {}\n  fingerprint  {}\n",
            l.handle,
            l.status,
            l.ingest_id,
            l.scopes.join(", "),
            rfc3339(l.issued_at),
            rfc3339(l.expires_at),
            l.issued_by,
            l.fingerprint
        );
        if let (Some(at), Some(by), Some(why)) = (l.revoked_at, &l.revoked_by, &l.revoked_reason) {
            s.push_str(&format!(
                "  revoked      {} by {} (`{}`)\n",
                rfc3339(at),
                by,
                esc(why)
            ));
        }
        if let Some(at) = l.expired_at {
            s.push_str(&format!("  expired      {}\n", rfc3339(at)));
        }
        if let Some(n) = &self.note {
            s.push_str(&format!("{n}\n"));
        }
        s
    }
    fn summary_line(&self) -> String {
        format!("lease {}: {}", self.lease.handle, self.lease.status)
    }
}

/// `lease list`.
#[derive(Debug, Clone)]
pub struct LeaseListReport {
    /// The leases, newest first.
    pub leases: Vec<LeaseRow>,
}

impl Render for LeaseListReport {
    crate::render_head!(SCHEMA, crate::output::passes);
    fn to_json(&self) -> Map<String, Value> {
        json_object(json!({
            "command": "list",
            "leases": self.leases.iter().map(lease_json).collect::<Vec<_>>(),
            "summary": {"leases": self.leases.len()},
        }))
    }
    fn render_text(&self, _style: &Style) -> String {
        let mut s = String::new();
        for l in &self.leases {
            s.push_str(&lease_line(l));
            s.push('\n');
        }
        s.push_str(&format!("{} lease(s)\n", self.leases.len()));
        s
    }
    fn summary_line(&self) -> String {
        format!("{} lease(s)", self.leases.len())
    }
}

/// `lease sweep`.
#[derive(Debug, Clone, Copy)]
pub struct SweepReport {
    /// Leases expired.
    pub leases: u64,
    /// Grants expired.
    pub grants: u64,
}

impl Render for SweepReport {
    crate::render_head!(SCHEMA, crate::output::passes);
    fn to_json(&self) -> Map<String, Value> {
        json_object(json!({
            "command": "sweep",
            "summary": {"expired_leases": self.leases, "expired_grants": self.grants},
        }))
    }
    fn render_text(&self, _style: &Style) -> String {
        format!(
            "expired {} lease(s) and {} grant(s)\n",
            self.leases, self.grants
        )
    }
    fn summary_line(&self) -> String {
        self.render_text(&Style::plain()).trim_end().to_owned()
    }
}

/// A refusal (exit 1): the reason code and message; its audit row is at `audit_seq`.
#[derive(Debug, Clone)]
pub struct RefusedReport {
    /// The command refused.
    pub command: &'static str,
    /// The reason code.
    pub code: &'static str,
    /// The message (never secret).
    pub message: String,
    /// The `VIOLATION` / `security.denied` row.
    pub audit_seq: u64,
}

impl Render for RefusedReport {
    crate::render_head!(SCHEMA, |_: &Self| ExitStatus::Fail);
    fn to_json(&self) -> Map<String, Value> {
        json_object(json!({
            "command": self.command,
            "refused": {"code": self.code, "message": self.message, "audit_seq": self.audit_seq},
        }))
    }
    fn render_text(&self, style: &Style) -> String {
        format!(
            "{} {} refused ({}): {}\n",
            style.bad("REFUSED"),
            self.command,
            self.code,
            self.message
        )
    }
    fn summary_line(&self) -> String {
        format!("{} refused ({}): {}", self.command, self.code, self.message)
    }
}

/// An asset as JSON.
pub fn asset_json(a: &AssetRow) -> Value {
    json!({
        "name": a.name,
        "owner": a.owner,
        "path": a.path,
        "registered_at": rfc3339(a.registered_at),
        "registered_by": a.registered_by,
    })
}

/// `asset register` / `asset list`.
#[derive(Debug, Clone)]
pub struct AssetReport {
    /// `register` or `list`.
    pub command: &'static str,
    /// The assets.
    pub assets: Vec<AssetRow>,
}

impl Render for AssetReport {
    crate::render_head!(SCHEMA, crate::output::passes);
    fn to_json(&self) -> Map<String, Value> {
        json_object(json!({
            "command": self.command,
            "assets": self.assets.iter().map(asset_json).collect::<Vec<_>>(),
            "summary": {"assets": self.assets.len()},
        }))
    }
    fn render_text(&self, _style: &Style) -> String {
        let mut s = String::new();
        for a in &self.assets {
            s.push_str(&format!(
                "{}  owner {}  path {}\n",
                esc(&a.name),
                esc(&a.owner),
                esc(&a.path)
            ));
        }
        if self.command == "register" {
            s.push_str("registered\n");
        } else {
            s.push_str(&format!("{} asset(s)\n", self.assets.len()));
        }
        s
    }
    fn summary_line(&self) -> String {
        format!("{} asset(s)", self.assets.len())
    }
}

/// `provider add`.
#[derive(Debug, Clone)]
pub struct ProviderReport {
    /// The provider.
    pub name: String,
    /// Its capabilities after the change.
    pub capabilities: Vec<String>,
}

impl Render for ProviderReport {
    crate::render_head!(SCHEMA, crate::output::passes);
    fn to_json(&self) -> Map<String, Value> {
        json_object(json!({
            "command": "provider-add",
            "provider": {"name": self.name, "capabilities": self.capabilities},
        }))
    }
    fn render_text(&self, _style: &Style) -> String {
        format!("provider {}: {}\n", self.name, self.capabilities.join(", "))
    }
    fn summary_line(&self) -> String {
        format!("provider {}", self.name)
    }
}

/// One ingest and, once bound, its contract.
#[derive(Debug, Clone)]
pub struct IngestView {
    /// The scan.
    pub ingest: IngestRow,
    /// The bind contract, if bound.
    pub contract: Option<ContractRow>,
}

fn ingest_json(v: &IngestView) -> Value {
    let i = &v.ingest;
    json!({
        "id": i.id,
        "asset": i.asset,
        "path": i.path,
        "manifest_digest": i.manifest_digest,
        "declared": i.declared,
        "capabilities": i.resolution.iter().map(|r| {
            let (cap, provs) = r.split_once('=').unwrap_or((r.as_str(), ""));
            json!({"capability": cap, "providers": provs.split(',').filter(|p| !p.is_empty()).collect::<Vec<_>>()})
        }).collect::<Vec<_>>(),
        "scanned_at": rfc3339(i.scanned_at),
        "scanned_by": i.scanned_by,
        "contract": v.contract.as_ref().map(|c| json!({
            "asset": c.asset,
            "owner": c.owner,
            "scopes": c.scopes,
            "max_ttl_secs": c.max_ttl_secs,
            "phase": c.phase,
            "max_active": c.max_active,
            "eligibility": c.eligibility,
            "reasons": c.reasons,
            "bound_at": rfc3339(c.bound_at),
            "bound_by": c.bound_by,
        })),
    })
}

fn ingest_text(v: &IngestView) -> String {
    let i = &v.ingest;
    let mut s = format!(
        "ingest {}\n  path             {}\n  asset            {}\n  manifest_digest  {}\n",
        i.id,
        esc(&i.path),
        i.asset
            .as_deref()
            .map_or_else(|| "(none registered)".to_owned(), esc),
        i.manifest_digest
    );
    if !i.declared {
        s.push_str("  declared         (no vaultgate.capabilities.json)\n");
    }
    for r in &i.resolution {
        let (cap, provs) = r.split_once('=').unwrap_or((r.as_str(), ""));
        s.push_str(&format!(
            "  capability       {cap} -> {}\n",
            if provs.is_empty() {
                "(no provider)"
            } else {
                provs
            }
        ));
    }
    if let Some(c) = &v.contract {
        s.push_str(&format!(
            "  contract         {} (phase {}, scopes {}, max ttl {} s, max active {})\n",
            c.eligibility,
            c.phase,
            c.scopes.join(","),
            c.max_ttl_secs,
            c.max_active
        ));
        for r in &c.reasons {
            s.push_str(&format!("    reason         {r}\n"));
        }
    }
    s
}

/// `ingest scan|bind|show|list`.
#[derive(Debug, Clone)]
pub struct IngestReport {
    /// `scan`, `bind`, `show`, `list`.
    pub command: &'static str,
    /// The ingests.
    pub ingests: Vec<IngestView>,
    /// For `bind`: the eligibility findings (empty = PASS).
    pub findings: Vec<crate::report::Finding>,
}

impl Render for IngestReport {
    // A contract is recorded either way; an ineligible one exits 1 so a script notices.
    crate::render_head!(SCHEMA, |r: &Self| ExitStatus::pass_if(
        crate::report::all_clear(&r.findings)
    ));
    fn to_json(&self) -> Map<String, Value> {
        json_object(json!({
            "command": self.command,
            "ingests": self.ingests.iter().map(ingest_json).collect::<Vec<_>>(),
            "findings": self.findings,
            "summary": {"ingests": self.ingests.len()},
        }))
    }
    fn render_text(&self, _style: &Style) -> String {
        let mut s = String::new();
        for v in &self.ingests {
            s.push_str(&ingest_text(v));
        }
        for f in &self.findings {
            s.push_str(&format!("  {}: {}\n", f.code, f.message));
        }
        if self.command == "list" {
            s.push_str(&format!("{} ingest(s)\n", self.ingests.len()));
        }
        s
    }
    fn summary_line(&self) -> String {
        format!("{} ingest(s)", self.ingests.len())
    }
}
