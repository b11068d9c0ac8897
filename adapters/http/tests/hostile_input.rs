//! Property-based hostile requests against the router: never a 500, never a panic,
//! every refusal a problem+json with a code from API.md.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use ledger_application::ports::store::EventStore;
use ledger_application::ports::system::{SystemClock, UuidV7Ids};
use ledger_application::projection::ProjectionRunner;
use ledger_application::queries::QueryService;
use ledger_application::repository::Repository;
use ledger_application::CommandService;
use ledger_domain::ErrorCode;
use ledger_http::metrics::Metrics;
use ledger_http::{Access, AppState, Secret};
use ledger_memory::{MemoryEventStore, MemoryReadModels, MemorySnapshotStore};
use proptest::prelude::*;
use tower::ServiceExt;

fn state() -> Arc<AppState> {
    let store: Arc<dyn EventStore> = Arc::new(MemoryEventStore::new());
    let models = Arc::new(MemoryReadModels::new());
    let snapshots = Arc::new(MemorySnapshotStore::new(100));
    let repo = Arc::new(Repository::new(store.clone(), snapshots.clone(), 3).with_cache(100));
    let metrics = Arc::new(Metrics::default());
    Arc::new(AppState {
        commands: Arc::new(CommandService::new(
            store.clone(),
            repo.clone(),
            Arc::new(SystemClock),
            Arc::new(UuidV7Ids),
            test_spawner(),
            5,
        )),
        queries: Arc::new(QueryService::new(
            store.clone(),
            repo.clone(),
            models.clone(),
        )),
        runner: Arc::new(ProjectionRunner::new(store.clone(), models, 100)),
        feed: ledger_application::feed_hub::FeedHub::new(
            ledger_application::feed::FeedReader::new(
                store.clone(),
                Arc::new(ledger_http::dto::render_event),
            ),
            Arc::new(tokio::sync::Notify::new()),
            16,
        ),
        live_streams: ledger_http::live_streams::LiveStreams::new(1_000, 100, &metrics),
        relay: None,
        public_key: None,
        keys: Arc::new(ledger_application::api_keys::ApiKeys::new(
            Arc::new(ledger_memory::MemoryKeyStore::new()),
            Arc::new(SystemClock),
            Arc::new(UuidV7Ids),
            test_spawner(),
        )),
        limiter: None,
        latest_seal: Default::default(),
        store,
        snapshots,
        metrics,
        load_stats: repo.stats(),
        access: Access {
            admin_token: Some(Secret::new("adm")),
            api_tokens: vec![],
        },
        request_timeout: Duration::from_secs(5),
        require_idempotency_key: false,
        wake: Arc::new(tokio::sync::Notify::new()),
    })
}

fn json_value() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("null".to_owned()),
        Just("true".to_owned()),
        Just("NaN".to_owned()),
        Just("Infinity".to_owned()),
        Just("-0".to_owned()),
        Just("1e400".to_owned()),
        Just("123456789012345678901234567890".to_owned()),
        Just("0.000000000000000000001".to_owned()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|f| f.to_string()),
        "\\PC{0,20}".prop_map(|s| serde_json::to_string(&s).unwrap()),
        Just("\"12.50\"".to_owned()),
        Just("\"USD\"".to_owned()),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|v| format!("[{}]", v.join(","))),
            prop::collection::vec(
                (
                    prop_oneof![
                        Just("amount".to_owned()),
                        Just("owner".to_owned()),
                        Just("currency".to_owned()),
                        Just("account_id".to_owned()),
                        Just("from_account_id".to_owned()),
                        Just("to_account_id".to_owned()),
                        Just("description".to_owned()),
                        Just("reason".to_owned()),
                        Just("transfer_id".to_owned()),
                        "\\PC{0,8}",
                    ],
                    inner
                ),
                0..5
            )
            .prop_map(|kv| {
                let fields: Vec<String> = kv
                    .into_iter()
                    .map(|(k, v)| format!("{}:{v}", serde_json::to_string(&k).unwrap()))
                    .collect();
                format!("{{{}}}", fields.join(","))
            }),
        ]
    })
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => json_value().prop_map(String::into_bytes),
        1 => prop::collection::vec(any::<u8>(), 0..64),
        1 => Just(format!("{}1{}", "[".repeat(5000), "]".repeat(5000)).into_bytes()),
        1 => Just(vec![b'{'; 70_000]),
        1 => Just(Vec::new()),
    ]
}

fn path() -> impl Strategy<Value = String> {
    let id = prop_oneof![
        Just("acc".to_owned()),
        Just("a%20b".to_owned()),
        Just("%F0%9F%92%B8".to_owned()),
        Just("x".repeat(70)),
        Just("..".to_owned()),
        "[A-Za-z0-9._:-]{1,10}",
    ];
    let query = prop_oneof![
        Just(String::new()),
        Just("?version=-1".to_owned()),
        Just("?version=99999999999999999999999".to_owned()),
        Just("?as_of=2020-13-45T99:00:00Z".to_owned()),
        Just("?limit=0".to_owned()),
        Just("?limit=abc&after_version=%FF".to_owned()),
        Just("?cursor=%00&status=open".to_owned()),
        Just("?after=1-2&limit=5".to_owned()),
        Just("?from=x&to=y&currency=usd".to_owned()),
    ];
    (
        prop_oneof![
            Just("/accounts"),
            Just("/accounts/{}"),
            Just("/accounts/{}/deposit"),
            Just("/accounts/{}/withdraw"),
            Just("/accounts/{}/close"),
            Just("/accounts/{}/events"),
            Just("/transfers"),
            Just("/audit"),
            Just("/analytics/summary"),
            Just("/analytics/daily"),
            Just("/events"),
            Just("/admin/projections"),
            Just("/admin/rebuild-projections"),
            Just("/{}"),
            Just("/accounts/{}/{}"),
        ],
        id,
        query,
    )
        .prop_map(|(p, id, q)| format!("{}{q}", p.replace("{}", &id)))
}

fn header() -> impl Strategy<Value = (String, String)> {
    prop_oneof![
        Just(("content-type".to_owned(), "application/json".to_owned())),
        Just(("content-type".to_owned(), "text/plain".to_owned())),
        Just((
            "content-type".to_owned(),
            "application/json; charset=utf-8".to_owned()
        )),
        Just(("idempotency-key".to_owned(), "k1".to_owned())),
        Just(("idempotency-key".to_owned(), "x".repeat(300))),
        Just(("if-match".to_owned(), "\"abc\"".to_owned())),
        Just(("if-match".to_owned(), "\"1\"".to_owned())),
        Just(("authorization".to_owned(), "Bearer adm".to_owned())),
        Just(("authorization".to_owned(), "Basic Zm9vOmJhcg==".to_owned())),
        Just(("x-request-id".to_owned(), "r".repeat(500))),
    ]
}

async fn check(
    state: Arc<AppState>,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: Vec<u8>,
) -> Result<(), TestCaseError> {
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "ledger.test");
    for (k, v) in headers {
        req = req.header(k, v);
    }
    let Ok(req) = req.body(Body::from(body)) else {
        return Ok(());
    };
    let response = ledger_http::router(state)
        .oneshot(req)
        .await
        .expect("infallible");
    let status = response.status();
    prop_assert!(
        status != StatusCode::INTERNAL_SERVER_ERROR,
        "500 for {method} {path}"
    );
    if !status.is_success() {
        let ct = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap_or("").to_owned());
        prop_assert_eq!(
            ct.as_deref(),
            Some("application/problem+json"),
            "{} {} {}",
            status,
            method,
            path
        );
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .expect("body");
        let v: serde_json::Value = serde_json::from_slice(&bytes).expect("problem JSON");
        let code = v["code"].as_str().unwrap_or("");
        prop_assert!(
            ErrorCode::ALL.iter().any(|c| c.as_str() == code),
            "unknown code {code}"
        );
        prop_assert_eq!(v["status"].as_u64(), Some(u64::from(status.as_u16())));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, .. ProptestConfig::default() })]
    #[test]
    fn hostile_requests_never_get_a_500_and_always_a_problem(
        method in prop_oneof![Just("GET"), Just("POST"), Just("PUT"), Just("DELETE"), Just("PATCH")],
        path in path(),
        headers in prop::collection::vec(header(), 0..4),
        body in body(),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let state = state();
            // Some state to act on: an account with money.
            let open = br#"{"account_id":"acc","owner":"O","currency":"USD"}"#.to_vec();
            let ct = [("content-type".to_owned(), "application/json".to_owned())];
            check(state.clone(), "POST", "/accounts", &ct, open).await?;
            check(state.clone(), "POST", "/accounts/acc/deposit", &ct, br#"{"amount":"5"}"#.to_vec()).await?;
            check(state, method, &path, &headers, body).await
        })?;
    }
}

/// Runs the command pipeline's per-account batches on the test's Tokio runtime.
fn test_spawner() -> std::sync::Arc<dyn ledger_application::ports::system::Spawner> {
    std::sync::Arc::new(|task| {
        tokio::spawn(task);
    })
}
