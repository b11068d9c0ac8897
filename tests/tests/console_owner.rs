//! The console in headless Chromium, what black-box testing found: an owner key is
//! offered Post only for a transfer from its own account (Void for both sides), text
//! that reorders itself is shown as code points, a page that fails leaves nothing of
//! the page before, and a revoked key's page (polling or following the feed) is
//! emptied with the reason, its header no longer claiming the key.

use std::time::Duration;

use ledger_tests::browser::Browser;
use ledger_tests::console_app::{admin, ledger, open, sign_in, text, ADMIN_AUTH};
use ledger_tests::{json, TestApp, ADMIN};
use reqwest::Method;
use serde_json::json;

/// A key for Bob: (its id, its secret).
async fn bobs_key(app: &TestApp) -> (String, String) {
    let body = json!({"name": "console bob", "role": "owner", "owner": "Bob"});
    let made = admin(app, Method::POST, "/admin/api-keys", Some(body)).await;
    (text(made["key_id"].clone()), text(made["secret"].clone()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_offers_an_owner_what_it_may_do_and_shows_text_as_it_is() {
    let app = ledger().await;
    // Bob holds money for Alice too: hold-2 is his to post, hold-1 (Alice's) only to void.
    admin(
        &app,
        Method::POST,
        "/accounts/bob-1/deposit",
        Some(json!({"amount": "9.00"})),
    )
    .await;
    let hold = json!({"transfer_id": "hold-2", "from_account_id": "bob-1",
        "to_account_id": "alice-2", "amount": "2.00", "pending": true});
    admin(&app, Method::POST, "/transfers", Some(hold)).await;
    let spoof = json!({"account_id": "spoof-1", "owner": "\u{202E}ecilA", "currency": "USD"});
    admin(&app, Method::POST, "/accounts", Some(spoof)).await;
    let (key_id, bob) = bobs_key(&app).await;
    let browser = Browser::start().await;
    let base = app.base.clone();

    sign_in(&browser, &base, &bob).await;
    open(&browser, &base, "/accounts/bob-1").await;
    let both = "document.querySelectorAll('#pending tbody tr').length === 2";
    assert!(
        browser.until(Duration::from_secs(5), both).await,
        "both holds listed"
    );
    let offered = |id: &str, action: &str| {
        format!("return document.querySelectorAll('#pending [aria-label=\"{action} transfer {id}\"]').length;")
    };
    assert_eq!(browser.run(&offered("hold-2", "Post")).await, json!(1));
    assert_eq!(browser.run(&offered("hold-2", "Void")).await, json!(1));
    assert_eq!(
        browser.run(&offered("hold-1", "Post")).await,
        json!(0),
        "Bob may not post Alice's hold"
    );
    assert_eq!(browser.run(&offered("hold-1", "Void")).await, json!(1));

    // A page that fails shows its error alone: nothing of bob-1's page stays up.
    browser
        .client
        .goto(&format!("{base}/console#/accounts/nobody"))
        .await
        .expect("goto");
    let failed = "!document.getElementById('error').hidden \
        && document.querySelector('#state') === null";
    assert!(
        browser.until(Duration::from_secs(5), failed).await,
        "the old page is gone"
    );

    // A revoked key's polling (owner keys do not follow the feed) stops and says so.
    open(&browser, &base, "/transfers").await;
    let (status, _) = json(
        app.send(
            Method::DELETE,
            &format!("/admin/api-keys/{key_id}"),
            None,
            &[("authorization", ADMIN_AUTH)],
        )
        .await,
    )
    .await;
    assert_eq!(status, 204);
    let stopped = "document.getElementById('error').textContent.includes('Live updates stopped')";
    assert!(
        browser.until(Duration::from_secs(10), stopped).await,
        "the refusal is said"
    );

    // An operator's page follows the feed: revoked, its stream is refused on the next
    // event, and the page is emptied too (it once kept its rows and buttons).
    let body = json!({"name": "console operator", "role": "operator"});
    let made = admin(&app, Method::POST, "/admin/api-keys", Some(body)).await;
    sign_in(&browser, &base, &text(made["secret"].clone())).await;
    open(&browser, &base, "/transfers").await;
    let revoke = format!("/admin/api-keys/{}", text(made["key_id"].clone()));
    admin(&app, Method::DELETE, &revoke, None).await;
    admin(
        &app,
        Method::POST,
        "/accounts/bob-1/deposit",
        Some(json!({"amount": "1.00"})),
    )
    .await;
    let emptied = "document.getElementById('error').textContent.includes('Live updates stopped') \
        && document.querySelector('#main table') === null";
    assert!(
        browser.until(Duration::from_secs(10), emptied).await,
        "the operator's page is emptied"
    );
    // The header no longer claims the key, and offers to sign in.
    let header = "document.getElementById('who').textContent === 'Not signed in' \
        && !document.getElementById('sign-in').hidden";
    assert!(browser.until(Duration::from_secs(5), header).await);

    // An owner spelt with a right-to-left override does not read as "Alice".
    sign_in(&browser, &base, ADMIN).await;
    let listed = text(
        browser
            .run("return document.querySelector('#accounts table').innerText;")
            .await,
    );
    assert!(listed.contains("<U+202E>ecilA"), "{listed}");
    browser.close().await;
}
