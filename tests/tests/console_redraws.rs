//! The console in headless Chromium, what black-box testing found: a live redraw of the
//! transfers list wiped a partial amount being typed (and the focus), so that Post
//! then moved all that remained; a version typed with a fraction left the slider, the
//! box and the figures on three versions, under an error no later success cleared; a
//! polled page said nothing while the service could not be reached; the events did
//! not say which way a hold went; on an open API a token the service did not know
//! (once answered as anonymous, now refused) left the console signed out for good.

use std::time::Duration;

use ledger_tests::browser::Browser;
use ledger_tests::console_app::{admin, ledger, new_key, open, open_settled, sign_in, text};
use ledger_tests::{Backend, TestApp, ADMIN};
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

/// On an open API a token the service does not know (left in the tab from a database
/// made anew) is dropped and the console goes on as the anonymous operator; a mistyped
/// key at sign-in is said to be unknown, and not kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_an_open_api_an_unknown_token_is_dropped() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let browser = Browser::start().await;
    let goto = |hash: &str| format!("{}/console#{hash}", app.base);
    browser.client.goto(&goto("/accounts")).await.expect("goto");
    browser
        .run("sessionStorage.setItem('ledger.console.token', 'ledger_sk_stale'); return true;")
        .await;
    browser.client.refresh().await.expect("reload");
    let anonymous = "window.ledgerConsole.ready \
        && document.getElementById('who').textContent.startsWith('Open API') \
        && sessionStorage.getItem('ledger.console.token') === null";
    assert!(browser.until(Duration::from_secs(10), anonymous).await);
    browser.client.goto(&goto("/signin")).await.expect("goto");
    browser.client.refresh().await.expect("reload");
    let typed = browser
        .find("#token")
        .await
        .send_keys("ledger_sk_typo")
        .await;
    typed.expect("types");
    let submit = browser.find("#signin button[type=submit]").await;
    submit.click().await.expect("submits");
    let refused = "document.getElementById('error').textContent.includes('unknown or revoked') \
        && sessionStorage.getItem('ledger.console.token') === null";
    assert!(browser.until(Duration::from_secs(10), refused).await);
    browser.close().await;
}

/// The second click of a double-click on Post is not another post: it landed on the
/// redrawn row's button, with its box emptied, and posted all that remained (or, the
/// rows moved up, the next transfer) under a new key (black-box testing).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_double_click_posts_once() {
    let app = ledger().await;
    let browser = Browser::start().await;
    sign_in(&browser, &app.base, ADMIN).await;
    open_settled(&browser, &app.base, "/transfers").await;
    browser
        .find(HOLD_BOX)
        .await
        .send_keys("1.00")
        .await
        .expect("types");
    // As a browser sends a double-click: clicks counted 1, then 2.
    let click = |count: u32| {
        format!(
            "document.querySelector('#transfers [aria-label=\"Post transfer hold-1\"]')\
             .dispatchEvent(new MouseEvent('click', {{detail: {count}, bubbles: true}})); \
             return true;"
        )
    };
    browser.run(&click(1)).await;
    let said = "document.getElementById('notice').textContent.includes('1.00 of transfer hold-1')";
    assert!(browser.until(Duration::from_secs(5), said).await);
    browser.run(&click(2)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let t = admin(&app, Method::GET, "/transfers/hold-1", None).await;
    assert_eq!(
        (&t["posted_amount"], &t["status"]),
        (&json!("1.00"), &json!("pending")),
        "{t}"
    );
    browser.close().await;
}

/// An owner is searched as typed and shown with white space at its ends: " Dana "
/// found "Dana"'s account (the box was trimmed) and both read "Dana".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owners_are_searched_and_shown_as_written() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    for (id, owner) in [("dana-sp", " Dana "), ("dana", "Dana")] {
        let body = json!({"account_id": id, "owner": owner, "currency": "USD"});
        admin(&app, Method::POST, "/accounts", Some(body)).await;
    }
    let browser = Browser::start().await;
    open(&browser, &app.base, "/accounts").await;
    browser
        .find("#owner")
        .await
        .send_keys(" Dana ")
        .await
        .expect("types");
    let submit = "document.getElementById('owner').form.requestSubmit(); return true;";
    browser.run(submit).await;
    let found = "window.ledgerConsole.ready && location.hash.includes('owner=') \
        && document.querySelector('#accounts table') !== null";
    assert!(browser.until(Duration::from_secs(10), found).await);
    let listed = text(
        browser
            .run("return document.querySelector('#accounts table').innerText;")
            .await,
    );
    assert!(
        listed.contains("dana-sp") && listed.contains("<U+0020>Dana<U+0020>"),
        "{listed}"
    );
    assert!(
        !listed.contains("dana\t") && !listed.contains("dana\n"),
        "{listed}"
    );
    browser.close().await;
}

/// A redraw keeps the keyboard's place: a focused button is focused again in the new
/// rows. Each redraw sent the focus back to the page, so keyboard users lost their
/// place whenever anyone acted (black-box testing).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redraw_keeps_a_focused_button() {
    let app = ledger().await;
    let browser = Browser::start().await;
    sign_in(&browser, &app.base, ADMIN).await;
    open_settled(&browser, &app.base, "/transfers").await;
    let focus =
        "document.querySelector('#transfers [aria-label=\"Void transfer hold-1\"]').focus(); \
        document.querySelector('#transfers table').dataset.old = 'yes'; return true;";
    browser.run(focus).await;
    let other = json!({"from_account_id": "alice-1", "to_account_id": "alice-2", "amount": "1"});
    admin(&app, Method::POST, "/transfers", Some(other)).await;
    let redrawn = "!document.querySelector('#transfers table').dataset.old";
    assert!(browser.until(Duration::from_secs(10), redrawn).await);
    let focused = "return document.activeElement.getAttribute('aria-label');";
    assert_eq!(browser.run(focused).await, json!("Void transfer hold-1"));
    browser.close().await;
}

/// An owner key's list is polled every 3 s: a poll that finds nothing new leaves the
/// rows (and the focus) as they are, and one that finds a change focuses the same link
/// again. Every poll sent the focus back to the page, so that a keyboard never reached
/// "Next page" (black-box testing).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poll_keeps_the_keyboards_place() {
    let app = ledger().await;
    let key = new_key(&app, "owner", Some("Alice")).await;
    let browser = Browser::start().await;
    sign_in(&browser, &app.base, &key).await;
    open(&browser, &app.base, "/accounts").await;
    let link = "#accounts a[href=\"#/accounts/alice-2\"]";
    assert!(
        browser
            .until(
                Duration::from_secs(10),
                &format!("document.querySelector('{link}') !== null")
            )
            .await
    );
    let mark = format!(
        "document.querySelector('{link}').focus(); \
         document.querySelector('#accounts table').old = 'yes'; return true;"
    );
    browser.run(&mark).await;
    // Two polls. (The mark is a property, not an attribute: the markup stays as drawn.)
    tokio::time::sleep(Duration::from_millis(7_000)).await;
    let state = "return [document.querySelector('#accounts table').old ?? null, \
        document.activeElement.getAttribute('href')];";
    assert_eq!(
        browser.run(state).await,
        json!(["yes", "#/accounts/alice-2"]),
        "nothing new: nothing redrawn"
    );
    let deposit = json!({"amount": "2.00"});
    admin(
        &app,
        Method::POST,
        "/accounts/alice-2/deposit",
        Some(deposit),
    )
    .await;
    let redrawn = "!document.querySelector('#accounts table').old";
    assert!(browser.until(Duration::from_secs(10), redrawn).await);
    assert_eq!(
        browser.run(state).await,
        json!([null, "#/accounts/alice-2"]),
        "redrawn, the same link focused"
    );
    browser.close().await;
}

/// A post made from the keyboard lets go of the focus: the list redrawn after it
/// must not focus the new row's Post button again, or the next Enter would post all
/// that remains (review of the focus-keeping redraw).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_from_the_keyboard_lets_go_of_the_focus() {
    let app = ledger().await;
    let browser = Browser::start().await;
    sign_in(&browser, &app.base, ADMIN).await;
    open_settled(&browser, &app.base, "/transfers").await;
    // As Enter on a focused button: a click counted 0.
    let post = format!(
        "document.querySelector('{HOLD_BOX}').value = '0.50'; \
         const b = document.querySelector('#transfers [aria-label=\"Post transfer hold-1\"]'); \
         b.focus(); b.click(); return true;"
    );
    browser.run(&post).await;
    let redrawn =
        "document.getElementById('notice').textContent.includes('0.50 of transfer hold-1') \
        && document.querySelector('#transfers table').innerText.includes('3.50')";
    assert!(browser.until(Duration::from_secs(10), redrawn).await);
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    let focused = "return document.activeElement.dataset.action ?? null;";
    assert_eq!(
        browser.run(focused).await,
        json!(null),
        "no command button focused"
    );
    let t = admin(&app, Method::GET, "/transfers/hold-1", None).await;
    assert_eq!(t["posted_amount"], json!("0.50"), "{t}");
    browser.close().await;
}
