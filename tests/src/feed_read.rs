//! Reading the whole `/events` feed as a consumer does: page by page from the start.

use std::time::Duration;

use serde_json::Value;

/// Every event of the feed at `base`, read with `token`, once `done` holds for them,
/// for up to about 30 s; after that, what the feed shows (the caller's assertions say
/// what is missing). On PostgreSQL the feed shows a commit once no transaction that
/// began before it is still running, in any database of the server (a parallel test's
/// included): an event acknowledged a moment ago may come on a later read.
pub async fn feed_until(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let mut events: Vec<Value> = Vec::new();
    let mut after = "0-0".to_owned();
    let mut waits = 0;
    loop {
        let r = client
            .get(format!("{base}/events?after={after}&limit=1000"))
            .bearer_auth(token)
            .send()
            .await
            .expect("the feed answers");
        assert_eq!(r.status(), 200, "GET /events?after={after}");
        let page: Value = r.json().await.expect("a JSON page");
        let got = page["events"].as_array().expect("events");
        if got.is_empty() {
            if done(&events) || waits == 300 {
                return events;
            }
            waits += 1;
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        events.extend(got.iter().cloned());
        after = page["next"].as_str().expect("next").to_owned();
    }
}
