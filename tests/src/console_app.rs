//! The console's tests' ledger and steps: a sealed SQLite ledger with Alice's and Bob's
//! accounts, keys made by the admin, signing in and opening a page in the browser.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::browser::Browser;
use crate::process::generate_signing_key;
use crate::{json, Backend, Options, TestApp};

/// The admin token as an `Authorization` header.
pub const ADMIN_AUTH: &str = "Bearer test-admin-token";

/// A call as the admin that must succeed; its answer.
pub async fn admin(app: &TestApp, method: Method, path: &str, body: Option<Value>) -> Value {
    let (status, body) = json(
        app.send(method, path, body, &[("authorization", ADMIN_AUTH)])
            .await,
    )
    .await;
    assert!(status < 300, "{path}: {status} {body}");
    body
}

/// A new API key's secret.
pub async fn new_key(app: &TestApp, role: &str, owner: Option<&str>) -> String {
    let body = json!({"name": format!("console {role}"), "role": role, "owner": owner});
    let made = admin(app, Method::POST, "/admin/api-keys", Some(body)).await;
    made["secret"].as_str().expect("a secret").to_owned()
}

/// A sealed ledger: Alice's `alice-1` (deposits 10 then 15: versions 2 and 3, then a
/// pending transfer out to Bob) and `alice-2`, Bob's `bob-1`.
pub async fn ledger() -> TestApp {
    let dir = std::env::temp_dir().join(format!("ledger-console-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    let key = dir.join("seal.pem");
    generate_signing_key(&key);
    let options = Options {
        signing_key: Some(key.display().to_string()),
        ..Options::default()
    };
    let app = TestApp::spawn_with(Backend::Sqlite, options).await;
    // The key was read when the application was built: nothing is left behind.
    let _ = std::fs::remove_dir_all(&dir);
    for (id, owner) in [("alice-1", "Alice"), ("alice-2", "Alice"), ("bob-1", "Bob")] {
        let body = json!({"account_id": id, "owner": owner, "currency": "USD"});
        admin(&app, Method::POST, "/accounts", Some(body)).await;
    }
    for amount in ["10.00", "15.00"] {
        let body = json!({"amount": amount});
        admin(&app, Method::POST, "/accounts/alice-1/deposit", Some(body)).await;
    }
    let pending = json!({"transfer_id": "hold-1", "from_account_id": "alice-1",
        "to_account_id": "bob-1", "amount": "4.00", "pending": true});
    admin(&app, Method::POST, "/transfers", Some(pending)).await;
    app
}

/// Types `amount` into the (first) pending transfer's box on an account page, and
/// clicks its Post.
pub async fn post_from_console(browser: &Browser, amount: &str) {
    let input = browser.find("#pending input[name=amount]").await;
    input.clear().await.expect("clears");
    input.send_keys(amount).await.expect("types");
    browser
        .find("#pending [data-action=post]")
        .await
        .click()
        .await
        .expect("posts");
}

/// Signs in to the console with `secret` and waits for the accounts page.
pub async fn sign_in(browser: &Browser, base: &str, secret: &str) {
    browser
        .client
        .goto(&format!("{base}/console#/signin"))
        .await
        .expect("goto");
    browser.run("sessionStorage.clear(); return true;").await;
    browser.client.refresh().await.expect("reload");
    browser
        .find("#token")
        .await
        .send_keys(secret)
        .await
        .expect("types");
    browser
        .find("#signin button[type=submit]")
        .await
        .click()
        .await
        .expect("signs in");
    assert!(
        browser
            .until(
                Duration::from_secs(10),
                "document.querySelector('#accounts table')"
            )
            .await,
        "the accounts page shows after signing in"
    );
}

/// Opens `#hash` and waits until the page is ready.
pub async fn open(browser: &Browser, base: &str, hash: &str) {
    browser
        .client
        .goto(&format!("{base}/console#{hash}"))
        .await
        .expect("goto");
    browser.client.refresh().await.expect("reload");
    assert!(
        browser
            .until(
                Duration::from_secs(10),
                "window.ledgerConsole && window.ledgerConsole.ready"
            )
            .await,
        "{hash} never finished loading"
    );
}

/// Opens `#hash`, then waits until its feed is connected and the redraws the feed's
/// opening makes (at once, 1 s and 5 s later) are done, with 2 s to spare: what a
/// test then finds on the page stays there until a change of its own.
pub async fn open_settled(browser: &Browser, base: &str, hash: &str) {
    open(browser, base, hash).await;
    let connected = "window.ledgerConsole.streamsOpened >= 1";
    assert!(browser.until(Duration::from_secs(10), connected).await);
    tokio::time::sleep(Duration::from_millis(7_000)).await;
}

/// A JSON string's text (empty for anything else).
pub fn text(v: Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}
