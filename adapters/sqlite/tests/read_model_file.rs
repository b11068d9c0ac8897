//! The read models' own file: made beside the events' file, refused when it has seen
//! more of the feed than the events' file holds, and an older events' file loses its
//! read-model tables when it is migrated.

use ledger_application::ports::store::EventStore;
use sqlx::{Connection, SqliteConnection};

mod common;
use common::{request, TempDir};

async fn tables(url: &str) -> Vec<String> {
    let mut c = SqliteConnection::connect(url).await.expect("connect");
    sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .fetch_all(&mut c)
        .await
        .expect("tables")
}

#[test]
fn the_read_models_file_is_named_after_the_events_file() {
    let named = |p: &str| ledger_sqlite::read_models_path(std::path::Path::new(p));
    assert_eq!(
        named("data/ledger.db"),
        std::path::Path::new("data/ledger-read-models.db")
    );
    assert_eq!(
        named("/x/y/books"),
        std::path::Path::new("/x/y/books-read-models")
    );
}

#[tokio::test]
async fn read_models_live_in_their_own_file_and_events_in_theirs() {
    let dir = TempDir::new();
    let url = format!("sqlite://{}/ledger.db", dir.0.display());
    let events = ledger_sqlite::open(&url).await.expect("open");
    let file = ledger_sqlite::open_read_models(&events)
        .await
        .expect("open");
    let path = ledger_sqlite::read_models_path(&dir.0.join("ledger.db"));
    assert!(path.exists(), "{} was made", path.display());
    let read_models = tables(&format!("sqlite://{}", path.display())).await;
    for table in [
        "projections",
        "current_state",
        "transfers",
        "audit_log",
        "analytics_daily",
    ] {
        assert!(read_models.contains(&table.to_owned()), "{read_models:?}");
    }
    assert!(
        !read_models.contains(&"events".to_owned()),
        "{read_models:?}"
    );
    let stored = tables(&url).await;
    assert!(stored.contains(&"events".to_owned()), "{stored:?}");
    assert!(!stored.contains(&"current_state".to_owned()), "{stored:?}");
    assert!(!stored.contains(&"projections".to_owned()), "{stored:?}");
    // The relay's checkpoint stays with the events.
    assert!(
        stored.contains(&"relay_checkpoints".to_owned()),
        "{stored:?}"
    );
    drop(file);
}

#[tokio::test]
async fn read_models_ahead_of_the_events_are_refused_with_the_way_out() {
    let dir = TempDir::new();
    let url = format!("sqlite://{}/ledger.db", dir.0.display());
    let events = ledger_sqlite::open(&url).await.expect("open");
    events.append(request("a", 0, None)).await.expect("append");
    let file = ledger_sqlite::open_read_models(&events)
        .await
        .expect("open");
    // Caught up with the one event: accepted.
    sqlx::query("UPDATE projections SET position = 1, tx = 1")
        .execute(file.writer())
        .await
        .expect("move");
    ledger_sqlite::open_read_models(&events)
        .await
        .expect("caught up is fine");
    // As if the events' file were restored from before its second event.
    sqlx::query("UPDATE projections SET position = 2, tx = 2 WHERE name = 'audit_log'")
        .execute(file.writer())
        .await
        .expect("move");
    let e = ledger_sqlite::open_read_models(&events)
        .await
        .expect_err("ahead of the events");
    let text = e.to_string();
    assert!(
        text.contains("up to position 2") && text.contains("ends at 1"),
        "{text}"
    );
    assert!(
        text.contains("ledger-read-models.db")
            && text.contains("events were removed")
            && text.contains("ledger verify"),
        "{text}"
    );
    // `ledger verify` opens them as they are: that it is ahead is its finding to make
    // (events removed from the end are tampering), not a reason to stop.
    ledger_sqlite::open_read_models_existing(&events)
        .await
        .expect("verify reads them");
}

/// Another ledger's read models, behind this one's end (so not refused as ahead), once
/// showed that ledger's accounts and money (black-box testing).
#[tokio::test]
async fn another_ledgers_read_models_are_refused() {
    let (mine, theirs) = (TempDir::new(), TempDir::new());
    let ledger = |dir: &TempDir| format!("sqlite://{}/ledger.db", dir.0.display());
    // Each opened once, empty (a new ledger's first start), then closed (its
    // write-ahead log folded into the file), as after a clean stop.
    let events = ledger_sqlite::open(&ledger(&mine)).await.expect("open");
    let other = ledger_sqlite::open(&ledger(&theirs)).await.expect("open");
    for store in [&other, &events] {
        let file = ledger_sqlite::open_read_models(store).await.expect("open");
        ledger_sqlite::close_file(file.writer(), file.reader())
            .await
            .expect("closed");
    }
    for id in ["a", "b"] {
        events.append(request(id, 0, None)).await.expect("append");
    }
    other.append(request("x", 0, None)).await.expect("append");
    // Their read models copied over mine (one event seen: behind my two).
    let path = |dir: &TempDir| ledger_sqlite::read_models_path(&dir.0.join("ledger.db"));
    std::fs::copy(path(&theirs), path(&mine)).expect("copied");
    let e = ledger_sqlite::open_read_models(&events)
        .await
        .expect_err("another ledger's");
    assert!(e.to_string().contains("another ledger's events"), "{e}");
    // `ledger verify`'s opening, changing nothing, says so too (not a finding per row).
    let e = ledger_sqlite::open_read_models_existing(&events)
        .await
        .expect_err("another ledger's");
    assert!(e.to_string().contains("another ledger's events"), "{e}");
    // Theirs ahead of my events: still another ledger's, said as such (told it is
    // ahead, an operator would look for deleted events).
    let copy = format!("sqlite://{}", path(&mine).display());
    let mut c = SqliteConnection::connect(&copy).await.expect("copy");
    sqlx::query("UPDATE projections SET position = 99")
        .execute(&mut c)
        .await
        .expect("ahead");
    drop(c);
    let e = ledger_sqlite::open_read_models(&events)
        .await
        .expect_err("another ledger's");
    assert!(e.to_string().contains("another ledger's events"), "{e}");
    // Removed, they are made anew, and known as mine from then on.
    std::fs::remove_file(path(&mine)).expect("removed");
    drop(
        ledger_sqlite::open_read_models(&events)
            .await
            .expect("anew"),
    );
    ledger_sqlite::open_read_models(&events)
        .await
        .expect("mine");
}

#[tokio::test]
async fn an_older_events_file_drops_its_read_model_tables_when_migrated() {
    let dir = TempDir::new();
    std::fs::create_dir_all(&dir.0).expect("dir");
    let url = format!("sqlite://{}/ledger.db?mode=rwc", dir.0.display());
    let before = ledger_sqlite::MIGRATOR
        .iter()
        .position(|m| m.description.contains("read models own file"))
        .expect("the migration that moves the read models");
    let previous = sqlx::migrate::Migrator {
        migrations: std::borrow::Cow::Owned(ledger_sqlite::MIGRATOR.migrations[..before].to_vec()),
        ..sqlx::migrate::Migrator::DEFAULT
    };
    {
        let mut c = SqliteConnection::connect(&url).await.expect("connect");
        previous.run(&mut c).await.expect("previous migrations");
        assert!(tables(&url).await.contains(&"current_state".to_owned()));
    }
    let events = ledger_sqlite::open(&url).await.expect("migrated");
    let stored = tables(&url).await;
    for gone in [
        "current_state",
        "transfers",
        "audit_log",
        "analytics_currency",
        "projections",
    ] {
        assert!(
            !stored.contains(&gone.to_owned()),
            "{gone} is still there: {stored:?}"
        );
    }
    ledger_sqlite::open_read_models(&events)
        .await
        .expect("made anew");
}

#[tokio::test]
async fn verify_without_a_read_models_file_is_told_how_it_is_made() {
    let dir = TempDir::new();
    let url = format!("sqlite://{}/ledger.db", dir.0.display());
    let events = ledger_sqlite::open(&url).await.expect("open");
    let e = ledger_sqlite::open_read_models_existing(&events)
        .await
        .expect_err("no file yet");
    let text = e.to_string();
    assert!(
        text.contains("does not exist") && text.contains("ledger serve"),
        "{text}"
    );
    let path = ledger_sqlite::read_models_path(&dir.0.join("ledger.db"));
    assert!(!path.exists(), "opening it as it is made nothing");
}
