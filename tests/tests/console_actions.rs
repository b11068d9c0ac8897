//! The console's actions in headless Chromium, as black-box testing found them wanting:
//! a post whose answer was lost is sent again under the same Idempotency-Key (it moved
//! the money twice); an error is cleared by the next action's success, and the success
//! is said; time travel at the newest version follows a live event with its figures;
//! an account's pending transfers are all reachable, a hundred at a time; the chart's
//! label holds the balance as the API wrote it; a list read from a view that trails a
//! post is drawn again once it agrees.

use std::time::Duration;

use ledger_tests::browser::Browser;
use ledger_tests::console_app::{
    admin, ledger, open, open_settled, post_from_console, sign_in, text,
};
use ledger_tests::ADMIN;
use reqwest::Method;
use serde_json::{json, Value};

/// The answer of the next command's request is lost after the service received it (a
/// dropped connection): every command's key is recorded in `window.sentKeys`.
const LOSE_NEXT_ANSWER: &str = "
    window.sentKeys = [];
    const real = window.fetch;
    let lose = true;
    window.fetch = async (url, options) => {
        const command = options && options.method === 'POST';
        if (command) window.sentKeys.push(options.headers['Idempotency-Key']);
        const answer = await real(url, options);
        if (command && lose) { lose = false; throw new TypeError('connection lost'); }
        return answer;
    };
    return true;";

async fn shown(browser: &Browser, id: &str) -> String {
    let script =
        format!("const b = document.getElementById('{id}'); return b.hidden ? '' : b.textContent;");
    text(browser.run(&script).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_actions_happen_once_and_say_so() {
    let app = ledger().await;
    let browser = Browser::start().await;
    let base = app.base.clone();
    sign_in(&browser, &base, ADMIN).await;
    open(&browser, &base, "/accounts/alice-1").await;

    // A post whose answer is lost, then sent again: one key, 1.50 posted once.
    browser.run(LOSE_NEXT_ANSWER).await;
    post_from_console(&browser, "1.50").await;
    let lost = "!document.getElementById('error').hidden";
    assert!(
        browser.until(Duration::from_secs(5), lost).await,
        "the loss is shown"
    );
    // The post took effect: its live event draws the row anew (2.50 remaining, the box
    // keeping what was typed). Typed again there, it is the same command.
    let remaining = "document.querySelector('#pending table').innerText.includes('2.50')";
    let redrawn = browser.until(Duration::from_secs(20), remaining).await;
    // What the page holds if not: its rows, its chart points (did the live event
    // arrive?) and the figures it shows (did the view catch up?).
    let table = browser
        .run(
            "return [document.querySelector('#pending').innerText, \
             'chart points: ' + window.ledgerConsole.chart.points.length, \
             document.getElementById('state').innerText].join('\\n');",
        )
        .await;
    assert!(redrawn, "{table}");
    post_from_console(&browser, "1.50").await;
    let said = "document.getElementById('notice').textContent.includes('posted')";
    assert!(
        browser.until(Duration::from_secs(5), said).await,
        "the post is said"
    );
    let keys = browser.run("return window.sentKeys;").await;
    assert_eq!(keys.as_array().map(Vec::len), Some(2), "{keys}");
    assert_eq!(keys[0], keys[1], "sent again under its first key");
    let t = admin(&app, Method::GET, "/transfers/hold-1", None).await;
    assert_eq!(t["posted_amount"], json!("1.50"), "posted once: {t}");
    assert_eq!(shown(&browser, "error").await, "", "the error is gone");

    // A refused amount, then a good one: the refusal gives way to the success.
    assert!(browser.until(Duration::from_secs(5), remaining).await);
    post_from_console(&browser, "abc").await;
    let refused = "document.getElementById('error').textContent.includes('abc')";
    assert!(browser.until(Duration::from_secs(5), refused).await);
    post_from_console(&browser, "0.50").await;
    assert!(browser.until(Duration::from_secs(5), said).await);
    assert_eq!(shown(&browser, "error").await, "");
    let t = admin(&app, Method::GET, "/transfers/hold-1", None).await;
    assert_eq!(t["posted_amount"], json!("2.00"), "{t}");

    // At the newest version, time travel follows a live event, figures included; the
    // chart's label says the balance as the API wrote it.
    let deposit = json!({"amount": "0.25"});
    let now = admin(
        &app,
        Method::POST,
        "/accounts/alice-1/deposit",
        Some(deposit),
    )
    .await;
    let version = now["version"].as_u64().expect("version");
    let followed = format!(
        "document.querySelector('#as-of [data-field=version]')?.textContent === '{version}' \
         && document.getElementById('version-range').value === '{version}'"
    );
    assert!(
        browser.until(Duration::from_secs(5), &followed).await,
        "time travel shows version {version}"
    );
    let travelled = browser
        .find("#as-of [data-field=balance]")
        .await
        .text()
        .await;
    assert_eq!(
        travelled.expect("text"),
        now["balance"].as_str().expect("balance")
    );
    let label = browser.find("#chart").await.attr("aria-label").await;
    let balance = now["balance"].as_str().expect("balance");
    let label = label.expect("attr").expect("a label");
    assert!(label.ends_with(&format!("is {balance} USD.")), "{label}");
    browser.close().await;
}

/// Lists of transfers answer as a view that has not caught up would: the next `holds`
/// reads of `/transfers?…` answer what `list` was when this ran.
fn lists_trail(list: &str, holds: u32) -> String {
    format!(
        "return (async () => {{
            const real = window.fetch;
            const token = sessionStorage.getItem('ledger.console.token');
            const before = await real('{list}', {{ headers: {{ Authorization: 'Bearer ' + token }} }});
            const stale = await before.text();
            window.staleLists = 0;
            window.holdLists = {holds};
            window.fetch = async (url, options) => {{
                const read = !options || (options.method || 'GET') === 'GET';
                if (read && String(url).startsWith('/transfers?') && window.holdLists > 0) {{
                    window.holdLists--;
                    window.staleLists++;
                    return new Response(stale, {{ status: 200,
                        headers: {{ 'Content-Type': 'application/json' }} }});
                }}
                return real(url, options);
            }};
            return true;
        }})();"
    )
}

/// Waits up to `within` for the element `id` to show `figure`, then asserts it did and
/// that `stale` trailing answers were served (the page's text says what it showed).
async fn redrawn_past(browser: &Browser, id: &str, figure: &str, within: u64, stale: u32) {
    let shows = format!("document.getElementById('{id}').innerText.includes('{figure}')");
    let redrawn = browser.until(Duration::from_secs(within), &shows).await;
    let served = browser.run("return window.staleLists;").await;
    let page = format!("return document.getElementById('{id}').innerText;");
    let page = text(browser.run(&page).await);
    assert!(
        redrawn,
        "{served} stale lists answered; the page shows {page}"
    );
    assert_eq!(served, json!(stale), "every trailing answer was read past");
}

/// A post whose list is read back from a view that trails it (as a loaded server's
/// may, by seconds) is drawn again once the view agrees with the transfer: once, the
/// row stayed at its old figures with no event left to redraw it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_that_trails_a_post_is_drawn_again() {
    let app = ledger().await;
    let browser = Browser::start().await;
    sign_in(&browser, &app.base, ADMIN).await;
    open(&browser, &app.base, "/accounts/alice-1").await;
    let trail = lists_trail("/transfers?account_id=alice-1&status=pending&limit=100", 5);
    assert_eq!(browser.run(&trail).await, json!(true));
    post_from_console(&browser, "1.50").await;
    // 2.50 remaining.
    redrawn_past(&browser, "pending", "2.50", 20, 5).await;
    browser.close().await;
}

/// A list page redrawn on a live event from a view that had not caught up with it is
/// drawn again a moment later (1 s and 5 s after the last event).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_page_behind_its_event_is_drawn_again() {
    let app = ledger().await;
    let browser = Browser::start().await;
    sign_in(&browser, &app.base, ADMIN).await;
    // The trailing answer is left for the event's redraw.
    open_settled(&browser, &app.base, "/transfers").await;
    let trail = lists_trail("/transfers?limit=25", 1);
    assert_eq!(browser.run(&trail).await, json!(true));
    let post = Some(json!({"amount": "1.50"}));
    admin(&app, Method::POST, "/transfers/hold-1/post", post).await;
    // The live event's redraw reads the one trailing answer; 1.50 posted.
    redrawn_past(&browser, "transfers", "1.50", 10, 1).await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_pending_transfer_of_an_account_is_reachable() {
    let app = ledger().await;
    let mut operations = vec![
        json!({"op": "open_account", "account_id": "many", "owner": "Alice", "currency": "USD"}),
        json!({"op": "deposit", "account_id": "many", "amount": "5"}),
    ];
    operations.extend((0..105).map(|i| {
        json!({"op": "transfer", "transfer_id": format!("h-{i}"), "from_account_id": "many",
               "to_account_id": "bob-1", "amount": "0.01", "pending": true})
    }));
    let made = admin(
        &app,
        Method::POST,
        "/batches",
        Some(json!({ "operations": operations })),
    );
    let made: Value = made.await;
    assert_eq!(made["results"].as_array().map(Vec::len), Some(107));
    // The pending list is the transfers view: the page reads it once, when it opens.
    app.projections_caught_up().await;
    let browser = Browser::start().await;
    sign_in(&browser, &app.base, ADMIN).await;
    open(&browser, &app.base, "/accounts/many").await;
    let rows = "return document.querySelectorAll('#pending tbody tr').length;";
    assert_eq!(browser.run(rows).await, json!(100));
    let caption = text(
        browser
            .run("return document.querySelector('#pending caption').textContent;")
            .await,
    );
    assert!(caption.contains("there are more"), "{caption}");
    browser
        .find("#more-pending")
        .await
        .click()
        .await
        .expect("shows more");
    let all = "document.querySelectorAll('#pending tbody tr').length === 105 \
        && document.getElementById('more-pending').hidden";
    assert!(
        browser.until(Duration::from_secs(5), all).await,
        "all 105 listed"
    );
    // An account no event has moved the balance of: zero as the API writes it.
    open(&browser, &app.base, "/accounts/bob-1").await;
    let label = browser.find("#chart").await.attr("aria-label").await;
    let label = label.expect("attr").expect("a label");
    assert!(label.ends_with("is 0.00 USD."), "{label}");
    browser.close().await;
}
