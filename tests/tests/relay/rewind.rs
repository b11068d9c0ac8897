//! `ledger relay rewind`: a stream that lost its messages is refilled by the running
//! relay once its checkpoint is moved back.

use std::process::{Command, Output};

use ledger_tests::ledger_binary;

use super::*;

/// `ledger relay rewind --after <after>` on the store at `storage_url`.
fn rewind(storage_url: &str, after: &str) -> Output {
    Command::new(ledger_binary())
        .args(["relay", "rewind", "--after", after])
        .env("LEDGER__STORAGE__URL", storage_url)
        .output()
        .expect("runs")
}

/// A stream deleted under a running relay would get only what comes after the
/// checkpoint; rewound to the start, the relay publishes the whole feed again, in
/// order, each event once, and goes on with new events. A cursor past the checkpoint,
/// one no event has, or one that cannot be read is refused and moves nothing; a
/// rewind to where the checkpoint is moves nothing either.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rewound_relay_refills_a_lost_stream() {
    let url = nats_url();
    let nats = relay_to(&url);
    let app = relaying_app(&nats).await;
    let client = reqwest::Client::new();
    write(&client, &app.base, "rw.1", 3, 50).await;
    // The account's opening and its 150 deposits.
    let first = feed_of(&client, &app.base, ADMIN, 151).await;
    let last = first.last().expect("events").0;
    wait_relayed(&client, &app.base, ADMIN, last, &[]).await;
    // Deleted, not purged: a purged stream still drops the ids it saw within its
    // duplicate window (measured: the 151 re-sent events were acknowledged as
    // duplicates and not stored).
    delete_stream(&url, &nats.stream).await;
    let refused = [
        (
            "999999999999999999-999999999999999999",
            "is not the cursor of an event",
        ),
        ("0-3", "is not the cursor of an event"),
        ("soon", "--after takes `start` or a Ledger-Cursor"),
    ];
    for (after, says) in refused {
        let out = rewind(&app.storage_url(), after);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains(says),
            "{after}: {err}"
        );
    }
    let row = relay_row(&client, &app.base, ADMIN).await.expect("a row");
    assert_eq!(row["position"], last, "nothing moved: {row}");
    // The relay's own checkpoint, as its messages carry it: already there.
    let newest = stored_cursor(&app, last).await;
    let out = rewind(&app.storage_url(), &newest);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("nothing moved"), "{said}");
    let out = rewind(&app.storage_url(), "start");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.contains("moved back from") && said.contains("to 0-0"),
        "{said}"
    );
    write(&client, &app.base, "rw.2", 2, 50).await;
    let all = feed_of(&client, &app.base, ADMIN, first.len() + 101).await;
    assert_eq!(all.len(), first.len() + 101);
    wait_relayed(
        &client,
        &app.base,
        ADMIN,
        all.last().expect("events").0,
        &[],
    )
    .await;
    let relayed = stored(&url, &nats.stream).await;
    assert_exactly_the_feed(&all, &relayed, &nats.subject_prefix);
    delete_stream(&url, &nats.stream).await;
}

/// The feed cursor (`<tx>-<position>`) of the feed's last event, which is at
/// `position`: the `next` of a page that ends with it.
async fn stored_cursor(app: &TestApp, position: u64) -> String {
    let (_, page) = ledger_tests::json(app.admin_get("/events?limit=1000").await).await;
    let cursor = page["next"].as_str().expect("next").to_owned();
    assert!(cursor.ends_with(&format!("-{position}")), "{cursor}");
    cursor
}
