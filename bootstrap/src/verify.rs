//! `ledger verify`: runs the checks and prints the summary (the exit code says the
//! outcome: 0 clean, 1 a finding).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use ledger_application::ports::readmodel::ReadModelError;
use ledger_application::ports::store::StoreError;
use ledger_application::queries::QueryError;
use ledger_application::transfers::transfer_id_of_stream;
use ledger_application::verify::KeptSeal;
use ledger_bootstrap::{integrity, stores, Settings};

/// What an error of `ledger verify` on a store it cannot read adds: verify changes
/// nothing, so a store of an older version must be migrated first.
const OLDER_NEEDS_MIGRATE: &str = "(one written by an older version needs `ledger migrate` first)";

/// The error with what was being done, and the advice to migrate only when what is
/// missing is a table or a column (an older store's schema), not for any error.
fn in_context(e: anyhow::Error, doing: &str) -> anyhow::Error {
    let text = format!("{e:#}");
    let older = ["no such table", "no such column"]
        .iter()
        .any(|m| text.contains(m))
        || ((text.contains("relation \"") || text.contains("column \""))
            && text.contains("does not exist"));
    match older {
        true => e.context(format!("{doing} {OLDER_NEEDS_MIGRATE}")),
        false => e.context(doing.to_owned()),
    }
}

/// A seal kept outside the store, from its JSON (`cursor`, `events`, `digest`).
fn read_kept_seal(path: &Path) -> anyhow::Result<KeptSeal> {
    use anyhow::Context as _;
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the kept seal {}", path.display()))?;
    let bad = |what: &str| {
        anyhow::anyhow!(
            "the kept seal {} has no readable {what} (give the JSON of GET /admin/seals/latest)",
            path.display()
        )
    };
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|_| bad("JSON"))?;
    // The `$seals` event itself (as GET /events and the relay show it) holds the seal
    // in its `data`.
    let json = match json.get("data") {
        Some(data) if data.is_object() => data.clone(),
        _ => json,
    };
    let field = |name: &str| json.get(name).and_then(|v| v.as_str());
    Ok(KeptSeal {
        cursor: field("cursor")
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| bad("cursor"))?,
        events: json
            .get("events")
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| bad("events"))?,
        digest: field("digest")
            .and_then(|d| d.parse().ok())
            .ok_or_else(|| bad("digest"))?,
    })
}

pub(crate) async fn run(
    settings: &Settings,
    public_keys: &[PathBuf],
    kept_seal: Option<&Path>,
    stream: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let kept = kept_seal.map(read_kept_seal).transpose()?;
    if kept.is_some() && stream.is_some() {
        anyhow::bail!("--seal checks the whole feed: it cannot be given with --stream");
    }
    let keys = match public_keys {
        [] => integrity::signing_key(&settings.integrity)?
            .map(|k| k.verifying_key())
            .into_iter()
            .collect(),
        paths => paths
            .iter()
            .map(|p| integrity::read_public_key(p))
            .collect::<anyhow::Result<Vec<_>>>()?,
    };
    // Read-only first: an empty or missing file is said to hold no ledger, and is not
    // made a database by opening it.
    stores::require_ledger(settings).await?;
    let stores = stores::open_unchanged(settings)
        .await
        .map_err(|e| in_context(e, "opening the store as it is"))?;
    let started = std::time::Instant::now();
    let report = match integrity::verify(&stores, keys, kept, stream).await {
        Ok(report) => report,
        // A row the store cannot read is a finding, not a store it cannot check: the
        // service never writes one (the rest is not read past it).
        Err(e) => match unreadable(&e) {
            Some(finding) => {
                crate::say(format_args!("FAILED: {finding}"));
                return Ok(ExitCode::from(1));
            }
            None => return Err(in_context(e, "verifying the store as it is")),
        },
    };
    if let Some(s) = stream.filter(|_| report.events == 0 && report.findings.is_empty()) {
        // A mistyped id would otherwise read as a clean check.
        anyhow::bail!(
            "no event of stream {s} in the store: nothing to verify (stream ids are as \
             GET /events shows them, such as acc-1 or transfer/t-1)"
        );
    }
    let seconds = started.elapsed().as_secs_f64();
    let signatures = if stream.is_some() {
        "seals not checked for one stream"
    } else if report.signatures_checked {
        "signatures checked"
    } else {
        "signatures NOT checked: give --public-key or set integrity.signing_key"
    };
    // A kept seal is named either way: compared, or not (its cursor no longer in the
    // feed, a finding above).
    let signatures = match (report.kept_seal_compared, kept_seal.is_some()) {
        (true, _) => format!("{signatures}; the seal kept outside compared"),
        (false, true) => format!("{signatures}; the seal kept outside NOT compared"),
        (false, false) => signatures.to_owned(),
    };
    let compared = match stream {
        None => {
            let mut not = Vec::new();
            if !report.analytics {
                not.push("the analytics");
            }
            if !report.audit_counted {
                not.push("the audit log's size");
            }
            let also = if report.analytics {
                " and the analytics"
            } else {
                ""
            };
            let moved = if not.is_empty() {
                String::new()
            } else {
                format!(
                    " (not {}: their projections moved on while the feed was read)",
                    not.join(" nor ")
                )
            };
            format!(
                "{}, {}, {}{also} compared with the read models{moved}",
                counted(report.accounts, "account", "accounts"),
                counted(report.transfers, "transfer", "transfers"),
                counted(report.audit_entries, "audit entry", "audit entries"),
            )
        }
        Some(s) if transfer_id_of_stream(s).is_some() => format!(
            "{} compared with the read models",
            counted(report.transfers, "transfer", "transfers")
        ),
        Some(_) => format!(
            "{} compared with the read models",
            counted(report.accounts, "account", "accounts")
        ),
    };
    crate::say(format_args!(
        "read {} of {} in {seconds:.1} s; {} ({signatures}); {compared}",
        counted(report.events, "event", "events"),
        counted(report.streams, "stream", "streams"),
        counted(report.seals, "seal", "seals"),
    ));
    let Some(first) = report.findings.first() else {
        crate::say(format_args!("verified: no finding"));
        return Ok(ExitCode::SUCCESS);
    };
    crate::say(format_args!("FAILED: {first}"));
    for more in report.findings.iter().skip(1) {
        crate::say(format_args!("  also: {more}"));
    }
    Ok(ExitCode::from(1))
}

/// The finding a row the stores cannot read makes, if that is why `e` ended the check.
fn unreadable(e: &anyhow::Error) -> Option<String> {
    let event = |why: &str| {
        format!("a stored event cannot be read (changed outside the service, or damaged): {why}")
    };
    let row = |why: &str| {
        format!(
            "pass 4 (read models): a read-model row cannot be read (changed outside the \
             service, or damaged): {why}"
        )
    };
    e.chain()
        .find_map(|cause| match cause.downcast_ref::<QueryError>() {
            Some(QueryError::Store(StoreError::Unreadable(why))) => Some(event(why)),
            Some(QueryError::ReadModel(ReadModelError::Unreadable(why))) => Some(row(why)),
            _ => match (
                cause.downcast_ref::<StoreError>(),
                cause.downcast_ref::<ReadModelError>(),
            ) {
                (Some(StoreError::Unreadable(why)), _) => Some(event(why)),
                (_, Some(ReadModelError::Unreadable(why))) => Some(row(why)),
                _ => None,
            },
        })
}

/// `1 account`, `2 accounts`: a count with its noun.
fn counted(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}
