//! What `ledger verify` reports: the passes, a finding, and the report that holds them.

use std::fmt;

/// One of the four checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Pass {
    /// Versions without holes.
    Versions = 1,
    /// The hash chain.
    Hashes = 2,
    /// Seals.
    Seals = 3,
    /// Read models.
    ReadModels = 4,
}

impl fmt::Display for Pass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Self::Versions => "versions",
            Self::Hashes => "hashes",
            Self::Seals => "seals",
            Self::ReadModels => "read models",
        };
        write!(f, "pass {} ({name})", *self as u8)
    }
}

/// Something that does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Which check found it.
    pub pass: Pass,
    /// The stream (or read-model row) concerned.
    pub stream_id: Option<String>,
    /// The event's version in its stream.
    pub version: Option<u64>,
    /// The event's position in the feed.
    pub position: Option<u64>,
    /// What is wrong.
    pub detail: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.pass)?;
        if let Some(s) = &self.stream_id {
            write!(f, ", stream {s}")?;
        }
        if let Some(v) = self.version {
            write!(f, ", version {v}")?;
        }
        if let Some(p) = self.position {
            write!(f, ", position {p}")?;
        }
        write!(f, ": {}", self.detail)
    }
}

/// What was checked and what was found (at most [`MAX_FINDINGS`], first ones first).
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Events read.
    pub events: u64,
    /// Streams seen.
    pub streams: u64,
    /// Seals checked.
    pub seals: u64,
    /// Whether a seal kept outside the store was met in the feed and compared.
    pub kept_seal_compared: bool,
    /// Whether seal signatures were checked (a public key was given).
    pub signatures_checked: bool,
    /// Accounts compared with the read model.
    pub accounts: u64,
    /// Transfers compared with the read model (the whole feed's check only).
    pub transfers: u64,
    /// Audit entries compared with their events (the whole feed's check only).
    pub audit_entries: u64,
    /// Whether the audit log's size was compared with the events (an entry no event
    /// made is found by it): not when its projection moved on while the feed was read.
    pub audit_counted: bool,
    /// Whether the analytics view was compared (the whole feed's check only, and not
    /// when its projection moved on while the feed was read).
    pub analytics: bool,
    /// Findings, in the order of the passes, then of the feed.
    pub findings: Vec<Finding>,
}

/// Findings kept (the first ones; verification goes on counting events).
pub const MAX_FINDINGS: usize = 100;
