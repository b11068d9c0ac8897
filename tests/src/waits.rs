//! Waiting for what is asynchronous: the views behind the commands.

use std::time::Duration;

use serde_json::Value;

use crate::{json, TestApp};

impl TestApp {
    /// Polls a GET until `done` holds for its JSON body (projections are asynchronous),
    /// for up to about 15 s: a machine running the whole suite at once can take seconds
    /// for what takes milliseconds alone (a seal due every second once missed 5 s).
    pub async fn eventually(&self, path: &str, done: impl Fn(&Value) -> bool) -> Value {
        let mut last = Value::Null;
        for _ in 0..600 {
            let r = self.get(path).await;
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
