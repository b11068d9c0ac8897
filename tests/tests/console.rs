//! The web console in headless Chromium against the real service (SQLite default, with
//! seals): an owner key sees only its owner's accounts; the chart has one point per
//! event; time travel shows version 2; a deposit made through the API appears without a
//! reload; a reader is offered no post or void; the admin rebuilds a projection. Also
//! the first load's size. Screenshots go to `target/console/`.

use std::time::Duration;

use ledger_tests::browser::{console_first_load, Browser};
use ledger_tests::console_app::{admin, ledger, new_key, open, post_from_console, sign_in, text};
use ledger_tests::{Backend, TestApp, ADMIN};
use reqwest::Method;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_in_a_browser() {
    let app = ledger().await;
    let owner = new_key(&app, "owner", Some("Alice")).await;
    let reader = new_key(&app, "reader", None).await;
    let browser = Browser::start().await;
    let base = app.base.clone();

    // An owner key sees its owner's accounts only.
    sign_in(&browser, &base, &owner).await;
    let listed = text(
        browser
            .run("return document.querySelector('#accounts table').innerText;")
            .await,
    );
    assert!(
        listed.contains("alice-1") && listed.contains("alice-2"),
        "{listed}"
    );
    assert!(
        !listed.contains("bob-1"),
        "an owner key sees another owner's account: {listed}"
    );
    browser.screenshot("accounts-owner").await;

    // The account page: one chart point per event.
    open(&browser, &base, "/accounts/alice-1").await;
    let events = admin(&app, Method::GET, "/accounts/alice-1/events", None).await;
    let n = events["events"].as_array().expect("events").len();
    assert_eq!(n, 4, "opened, two deposits, a reservation");
    let points = browser
        .find("#chart")
        .await
        .attr("data-points")
        .await
        .expect("attr");
    assert_eq!(points, Some(n.to_string()));
    let drawn = browser
        .run("return document.querySelectorAll('#chart canvas').length;")
        .await;
    assert_eq!(drawn, json!(1), "uPlot drew its canvas");

    // Time travel to version 2: the balance after the first deposit.
    browser
        .run("const r = document.getElementById('version-range'); r.value = 2; r.dispatchEvent(new Event('input')); return true;")
        .await;
    let at_two = "document.querySelector('#as-of [data-field=version]')?.textContent === '2'";
    assert!(
        browser.until(Duration::from_secs(5), at_two).await,
        "version 2 is shown"
    );
    let balance = browser
        .find("#as-of [data-field=balance]")
        .await
        .text()
        .await
        .expect("text");
    assert_eq!(balance, "10.00");

    // The owner may post and void: both are offered on the pending transfer.
    assert_eq!(browser.count("#pending [data-action=post]").await, 1);
    assert_eq!(browser.count("#pending [data-action=void]").await, 1);

    // A deposit through the API appears without a reload, within 2 seconds.
    browser.run("window.notReloaded = true; return true;").await;
    admin(
        &app,
        Method::POST,
        "/accounts/alice-1/deposit",
        Some(json!({"amount": "7.00"})),
    )
    .await;
    let live = "window.notReloaded && document.querySelector('#chart').dataset.points === '5' \
        && document.querySelector('#state [data-field=balance]').textContent === '32.00'";
    assert!(
        browser.until(Duration::from_secs(10), live).await,
        "the deposit appears live"
    );
    browser.screenshot("account-1280").await;
    // The whole page at once (the README's picture).
    browser
        .client
        .set_window_size(1280, 1560)
        .await
        .expect("resize");
    browser.screenshot("account-page").await;
    browser
        .client
        .set_window_size(1280, 800)
        .await
        .expect("resize");

    // Posting part of the pending transfer from the console.
    post_from_console(&browser, "1.50").await;
    let posted = |t: &Value| t["posted_amount"] == json!("1.50");
    let mut t = Value::Null;
    for _ in 0..100 {
        if posted(&t) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        t = admin(&app, Method::GET, "/transfers/hold-1", None).await;
    }
    assert!(posted(&t), "the console posted 1.50: {t}");

    // At a phone's width nothing overflows the page sideways.
    browser
        .client
        .set_window_size(390, 844)
        .await
        .expect("resize");
    // Once the page has laid itself out again (the chart redraws on `resize`).
    let fits = "window.innerWidth < 500 \
        && document.documentElement.scrollWidth <= window.innerWidth + 1";
    let fitted = browser.until(Duration::from_secs(5), fits).await;
    browser.screenshot("account-phone").await;
    assert!(fitted, "the page fits a phone's width");
    browser
        .client
        .set_window_size(1280, 800)
        .await
        .expect("resize");

    // A reader key is offered neither post nor void, though the transfer is listed.
    sign_in(&browser, &base, &reader).await;
    open(&browser, &base, "/accounts/alice-1").await;
    let pending_rows = text(
        browser
            .run("return document.querySelector('#pending').innerText;")
            .await,
    );
    assert!(pending_rows.contains("hold-1"), "{pending_rows}");
    assert_eq!(browser.count("[data-action=post]").await, 0);
    assert_eq!(browser.count("[data-action=void]").await, 0);
    assert_eq!(browser.count("[data-nav=admin]:not([hidden])").await, 0);

    // The admin rebuilds a projection from the console and sees the latest seal.
    sign_in(&browser, &base, ADMIN).await;
    open(&browser, &base, "/admin").await;
    browser
        .find("[data-rebuild=analytics]")
        .await
        .click()
        .await
        .expect("rebuild");
    let accepted = "document.getElementById('rebuild-notice').textContent.includes('accepted')";
    assert!(
        browser.until(Duration::from_secs(10), accepted).await,
        "the rebuild is accepted"
    );
    let metrics = app.get("/metrics").await.text().await.expect("metrics");
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("ledger_http_requests_total")
                && l.contains("/admin/rebuild-projections")
                && l.contains("\"202\"")),
        "the server accepted a rebuild"
    );
    let sealed = "document.querySelector('#seal [data-field=signature]')?.textContent === 'valid'";
    assert!(
        browser.until(Duration::from_secs(10), sealed).await,
        "the latest seal verifies"
    );
    browser.screenshot("admin").await;
    browser.close().await;
}

/// First load: the page and every file it can load, gzip-compressed, ≤ 200 KB.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_load_is_small() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let total = console_first_load(&app.client, &app.base)
        .await
        .expect("every file served, compressed");
    assert!(total <= 200 * 1024, "first load {total} bytes");
    println!("console first load: {total} bytes (gzip)");
}
