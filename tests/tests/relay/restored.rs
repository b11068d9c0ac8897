//! A stream holding a history the ledger lacks (the ledger restored from a backup, or
//! another ledger's stream) is not published to.

use super::*;

/// Two ledgers relay into one stream. The first fills it and stops. The second, whose
/// events are not the stream's, publishes nothing there (its events would follow
/// another history under the same cursors) and its relay row says why; once the
/// stream is deleted, it relays its own feed, each event once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_of_another_history_is_not_published_to() {
    let url = nats_url();
    let nats = relay_to(&url);
    let client = reqwest::Client::new();
    let mut first = relaying_app(&nats).await;
    write(&client, &first.base, "h1.1", 2, 20).await;
    let feed = feed_of(&client, &first.base, ADMIN, 41).await;
    let last = feed.last().expect("events").0;
    wait_relayed(&client, &first.base, ADMIN, last, &[]).await;
    first.stop_and_wait().await;
    assert_eq!(stored(&url, &nats.stream).await.len(), feed.len());

    let second = relaying_app(&nats).await;
    write(&client, &second.base, "h2.1", 1, 10).await;
    let mut row = None;
    for _ in 0..300 {
        row = relay_row(&client, &second.base, ADMIN).await;
        if row.as_ref().is_some_and(|r| r["last_error"].is_string()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let row = row.expect("a relay row");
    let error = row["last_error"].as_str().unwrap_or_default();
    assert!(
        error.contains("holds a history this ledger lacks") && error.contains("rewind"),
        "{row}"
    );
    assert_eq!(row["position"], 0, "nothing published: {row}");
    assert_eq!(
        stored(&url, &nats.stream).await.len(),
        feed.len(),
        "the stream holds the first ledger's messages alone"
    );

    delete_stream(&url, &nats.stream).await;
    let own = feed_of(&client, &second.base, ADMIN, 11).await;
    wait_relayed(
        &client,
        &second.base,
        ADMIN,
        own.last().expect("events").0,
        &[],
    )
    .await;
    let relayed = stored(&url, &nats.stream).await;
    assert_exactly_the_feed(&own, &relayed, &nats.subject_prefix);
    let row = relay_row(&client, &second.base, ADMIN).await.expect("row");
    assert!(row["last_error"].is_null(), "{row}");
    delete_stream(&url, &nats.stream).await;
}
