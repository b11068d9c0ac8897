//! The architecture's invariants (DESIGN.md, ARCHITECTURE.md "Invariants"), checked on
//! the manifests (`cargo metadata`) and the domain's sources, so that a dependency or a
//! clock read that breaks one fails a test instead of waiting for a reviewer:
//! - `domain` uses no IO crate and never reads a clock (time enters as a command's `now`);
//! - `application` knows no adapter and no IO crate beyond tokio's primitives;
//! - adapters never depend on each other, but for the SQL stores' shared `ledger-sql`;
//! - only `bootstrap` (and the tests and the bench) knows every crate.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;

const ADAPTERS: [&str; 7] = [
    "ledger-memory",
    "ledger-postgres",
    "ledger-sqlite",
    "ledger-sql",
    "ledger-redis",
    "ledger-nats",
    "ledger-http",
];

/// Crates that do IO (databases, networks, HTTP).
const IO_CRATES: [&str; 9] = [
    "sqlx",
    "redis",
    "async-nats",
    "axum",
    "hyper",
    "hyper-util",
    "reqwest",
    "tower-http",
    "socket2",
];

/// Each workspace crate's normal (not dev, not build) dependencies, with the features
/// it asks of each.
fn dependencies() -> BTreeMap<String, BTreeMap<String, Vec<String>>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps", "--locked"])
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).expect("metadata is JSON");
    let mut crates = BTreeMap::new();
    for p in meta["packages"].as_array().expect("packages") {
        let mut deps = BTreeMap::new();
        for d in p["dependencies"].as_array().expect("dependencies") {
            if d["kind"].is_null() {
                let features = d["features"].as_array().expect("features").iter();
                let features = features.filter_map(|f| f.as_str().map(String::from));
                deps.insert(d["name"].as_str().unwrap().to_owned(), features.collect());
            }
        }
        crates.insert(p["name"].as_str().unwrap().to_owned(), deps);
    }
    crates
}

#[test]
fn the_domain_does_no_io_and_reads_no_clock() {
    let crates = dependencies();
    let domain = &crates["ledger-domain"];
    let allowed = [
        "chrono",
        "iso_currency",
        "serde",
        "serde_json",
        "sha2",
        "thiserror",
    ];
    let names: BTreeSet<&str> = domain.keys().map(String::as_str).collect();
    let extra: Vec<&&str> = names.iter().filter(|n| !allowed.contains(n)).collect();
    assert!(extra.is_empty(), "the domain depends on {extra:?}");
    assert!(
        !domain["chrono"].iter().any(|f| f == "clock" || f == "now"),
        "the domain asks chrono for its clock"
    );
    // Another crate's `clock` feature is merged into a workspace build, so the sources
    // are read too.
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../domain/src");
    let reads = [
        "Utc::now",
        "Local::now",
        "SystemTime",
        "Instant::now",
        "std::fs",
        "std::net",
        "std::env",
        "tokio",
    ];
    for entry in std::fs::read_dir(&src).expect("domain/src") {
        let path = entry.expect("an entry").path();
        let text = std::fs::read_to_string(&path).expect("a source file");
        for r in reads {
            assert!(!text.contains(r), "{} uses {r}", path.display());
        }
    }
}

#[test]
fn the_application_knows_no_adapter_and_no_io_crate() {
    let crates = dependencies();
    let application = &crates["ledger-application"];
    for name in ADAPTERS.iter().chain(IO_CRATES.iter()) {
        assert!(
            !application.contains_key(*name),
            "application depends on {name}"
        );
    }
}

#[test]
fn adapters_never_depend_on_each_other_but_the_sql_stores_on_ledger_sql() {
    let crates = dependencies();
    for adapter in ADAPTERS {
        for other in ADAPTERS {
            let shared =
                other == "ledger-sql" && ["ledger-postgres", "ledger-sqlite"].contains(&adapter);
            if !shared {
                assert!(
                    !crates[adapter].contains_key(other),
                    "{adapter} depends on {other}"
                );
            }
        }
    }
}

#[test]
fn only_bootstrap_tests_and_bench_know_every_adapter() {
    let crates = dependencies();
    let wiring = ["ledger-bootstrap", "ledger-tests", "ledger-bench"];
    for (name, deps) in &crates {
        let knows = ADAPTERS.iter().filter(|a| deps.contains_key(**a)).count();
        assert!(
            knows <= 1 || wiring.contains(&name.as_str()),
            "{name} knows {knows} adapters"
        );
    }
}
