//! The console in headless Chromium, what black-box testing found: a live redraw of the
//! transfers list wiped a partial amount being typed (and the focus), so that Post
//! then moved all that remained; a version typed with a fraction left the slider, the
//! box and the figures on three versions, under an error no later success cleared; a
//! polled page said nothing while the service could not be reached; the events did
//! not say which way a hold went.

use std::time::Duration;

use ledger_tests::browser::Browser;
use ledger_tests::console_app::{admin, ledger, open, open_settled, sign_in, text};
use ledger_tests::ADMIN;
use reqwest::Method;
use serde_json::json;

/// The amount box of `hold-1`, the one pending transfer.
const HOLD_BOX: &str = "#transfers input[name=amount]";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redraw_keeps_a_partial_amount_being_typed() {
    let app = ledger().await;
    let browser = Browser::start().await;
    sign_in(&browser, &app.base, ADMIN).await;
    // So that the box typed into is the one the page shows.
    open_settled(&browser, &app.base, "/transfers").await;
    let input = browser.find(HOLD_BOX).await;
    input.send_keys("0.05").await.expect("types");
    let mark = "document.querySelector('#transfers table').dataset.old = 'yes'; return true;";
    browser.run(mark).await;
    // Any transfer redraws the list.
    let other = json!({"from_account_id": "alice-1", "to_account_id": "alice-2", "amount": "1"});
    admin(&app, Method::POST, "/transfers", Some(other)).await;
    let redrawn = "!document.querySelector('#transfers table').dataset.old";
    assert!(browser.until(Duration::from_secs(10), redrawn).await);
    assert_eq!(
        browser
            .run(&format!(
                "const i = document.querySelector('{HOLD_BOX}'); \
                 return [i.value, document.activeElement === i];"
            ))
            .await,
        json!(["0.05", true]),
        "the amount and the focus kept"
    );
    // Clicked in the page, whichever row a trailing redraw has drawn by then.
    let click =
        "document.querySelector('#transfers [aria-label=\"Post transfer hold-1\"]').click(); \
        return true;";
    browser.run(click).await;
    let said = "document.getElementById('notice').textContent.includes('0.05 of transfer hold-1')";
    assert!(browser.until(Duration::from_secs(5), said).await);
    let t = admin(&app, Method::GET, "/transfers/hold-1", None).await;
    assert_eq!(t["posted_amount"], json!("0.05"), "{t}");
    // Emptied and let go of, in the row drawn since: another Enter posts nothing.
    let emptied = format!(
        "(() => {{ const i = document.querySelector('{HOLD_BOX}'); \
         return i !== null && i.value === '' && document.activeElement !== i \
         && document.querySelector('#transfers table').innerText.includes('3.95'); }})()"
    );
    assert!(
        browser.until(Duration::from_secs(5), &emptied).await,
        "emptied and let go of once posted"
    );
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_travel_shows_one_version_and_clears_its_own_error() {
    let app = ledger().await;
    let browser = Browser::start().await;
    sign_in(&browser, &app.base, ADMIN).await;
    open(&browser, &app.base, "/accounts/alice-1").await;
    // The events say which way a hold goes, and for which transfer.
    let events = "return document.getElementById('events').innerText;";
    let events = text(browser.run(events).await);
    assert!(events.contains("to bob-1, transfer hold-1"), "{events}");
    let state = "return [document.getElementById('version-range').value, \
        document.getElementById('version-input').value, \
        document.querySelector('#as-of [data-field=version]')?.textContent];";
    let travel = |v: &str| {
        format!(
            "const n = document.getElementById('version-input'); n.value = '{v}'; \
             n.dispatchEvent(new Event('change')); return true;"
        )
    };
    browser.run(&travel("2.4")).await;
    let two = "document.querySelector('#as-of [data-field=version]')?.textContent === '2'";
    assert!(browser.until(Duration::from_secs(5), two).await);
    assert_eq!(browser.run(state).await, json!(["2", "2", "2"]));
    assert!(
        browser
            .run("return document.getElementById('error').hidden;")
            .await
            == json!(true)
    );

    // A travel that fails (the service refuses it), then one that succeeds.
    let refuse = "const real = window.fetch; window.fetch = async (url, o) => { \
        if (String(url).includes('version=3')) { window.fetch = real; \
        return new Response(JSON.stringify({status: 503, title: 'x', detail: 'busy now', \
        code: 'service_unavailable'}), {status: 503, headers: {'Content-Type': \
        'application/problem+json'}}); } return real(url, o); }; return true;";
    browser.run(refuse).await;
    browser.run(&travel("3")).await;
    let failed = "document.getElementById('error').textContent.includes('busy now')";
    assert!(browser.until(Duration::from_secs(5), failed).await);
    browser.run(&travel("3")).await;
    let three = "document.querySelector('#as-of [data-field=version]')?.textContent === '3' \
        && document.getElementById('error').hidden";
    assert!(
        browser.until(Duration::from_secs(5), three).await,
        "{}",
        browser.run(state).await
    );
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_polled_page_says_while_the_service_cannot_be_reached() {
    let app = ledger().await;
    let made = json!({"name": "console alice", "role": "owner", "owner": "Alice"});
    let made = admin(&app, Method::POST, "/admin/api-keys", Some(made)).await;
    let browser = Browser::start().await;
    sign_in(&browser, &app.base, &text(made["secret"].clone())).await;
    open(&browser, &app.base, "/transfers").await;
    // An owner key cannot follow the feed: the list is polled every 3 s.
    let cut = "window.realFetch = window.fetch; \
        window.fetch = () => Promise.reject(new TypeError('Failed to fetch')); return true;";
    browser.run(cut).await;
    let said = "document.getElementById('error').textContent.includes('Live updates interrupted')";
    assert!(browser.until(Duration::from_secs(10), said).await);
    browser
        .run("window.fetch = window.realFetch; return true;")
        .await;
    let gone = "document.getElementById('error').hidden";
    assert!(
        browser.until(Duration::from_secs(10), gone).await,
        "taken back once it answers"
    );
    browser.close().await;
}
