//! Waiting for what is asynchronous: the views behind the commands.

use std::time::Duration;

use serde_json::Value;

use crate::{json, TestApp};

impl TestApp {
    /// Polls a GET until `done` holds for its JSON body (projections are asynchronous),
    /// for up to about 15 s: a machine running the whole suite at once can take seconds
    /// for what takes milliseconds alone (a seal due every second once missed 5 s).
    pub async fn eventually(&self, path: &str, done: impl Fn(&Value) -> bool) -> Value {
        self.poll(path, &[], done).await
    }

    /// [`TestApp::eventually`] as admin: for the feed (`/events`), which on PostgreSQL
    /// shows a commit once every older transaction on the server has ended, so a read
    /// right after a write may not have it yet.
    pub async fn admin_eventually(&self, path: &str, done: impl Fn(&Value) -> bool) -> Value {
        let auth = format!("Bearer {}", crate::ADMIN);
        self.poll(path, &[("authorization", &auth)], done).await
    }

    async fn poll(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let mut last = Value::Null;
        for _ in 0..600 {
            let r = self.send(reqwest::Method::GET, path, None, headers).await;
            if r.status().is_success() {
                last = r.json().await.unwrap_or(Value::Null);
                if done(&last) {
                    return last;
                }
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("{path} never reached the expected state; last: {last}");
    }

    /// The text of `/metrics` once it has the store's gauges: a scrape leaves them out
    /// when the store takes more than a second to answer (a loaded machine can), for up to
    /// about 15 s.
    pub async fn metrics_with_store(&self) -> String {
        let mut text = String::new();
        for _ in 0..60 {
            text = self.get("/metrics").await.text().await.expect("metrics");
            if text.contains("ledger_event_store_events ")
                && text.contains("ledger_event_store_bytes ")
                && text.contains("ledger_projection_lag_events{")
            {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        panic!("/metrics never had the store's gauges:\n{text}");
    }

    /// Polls `/admin/projections` (as admin) until every projection is live at lag 0,
    /// for up to about 15 s; none may fail meanwhile. Returns the last status. Waiting
    /// on `GET /accounts/{id}` does not wait for the views: it folds the account's
    /// events when its view trails them.
    pub async fn projections_caught_up(&self) -> Value {
        let mut last = Value::Null;
        for _ in 0..600 {
            let (s, status) = json(self.admin_get("/admin/projections").await).await;
            assert_eq!(s, 200, "{status}");
            let list = status["projections"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            assert!(
                list.iter().all(|p| p["state"] != "failed"),
                "no projection fails: {status}"
            );
            if !list.is_empty()
                && list
                    .iter()
                    .all(|p| p["state"] == "live" && p["lag_events"] == 0)
            {
                return status;
            }
            last = status;
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the projections never caught up: {last}");
    }
}
