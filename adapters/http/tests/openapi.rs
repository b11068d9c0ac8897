//! The served OpenAPI document describes every route completely: each operation has a
//! name, a tag, its parameters, and every error it can answer as problem+json.

use ledger_http::contract::operations;
use ledger_http::openapi::document;

#[test]
fn every_documented_operation_is_in_the_contract_table_and_back() {
    let doc = document();
    let mut documented = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("operations").keys() {
            documented.push((method.clone(), path.clone()));
        }
    }
    documented.sort();
    let mut table: Vec<(String, String)> = operations()
        .map(|o| (o.method.to_owned(), o.path.to_owned()))
        .collect();
    table.sort();
    assert_eq!(documented, table);
}

#[test]
fn every_operation_has_a_name_a_tag_and_problem_answers() {
    let doc = document();
    let mut ids = std::collections::HashSet::new();
    for op in operations() {
        let o = &doc["paths"][op.path][op.method];
        let id = o["operationId"].as_str().expect("operationId");
        assert!(ids.insert(id), "{id} twice");
        assert_eq!(o["tags"][0], op.tag);
        for (status, answer) in o["responses"].as_object().expect("responses") {
            let s: u16 = status.parse().expect("numeric status");
            let is_problem = answer["content"].get("application/problem+json").is_some();
            // /ready's 503 is its own JSON body, not a problem.
            if s >= 400 && op.path != "/ready" {
                assert!(is_problem, "{} {} {s}", op.method, op.path);
            }
        }
        let statuses = o["responses"].as_object().unwrap();
        for must in ["414", "500", "503"] {
            assert!(
                statuses.contains_key(must),
                "{} {} lacks {must}",
                op.method,
                op.path
            );
        }
        if !op.open {
            assert!(statuses.contains_key("401") && statuses.contains_key("403"));
        }
    }
    let codes = doc["components"]["schemas"]["Problem"]["properties"]["code"]["enum"]
        .as_array()
        .expect("the codes");
    assert_eq!(codes.len(), ledger_domain::ErrorCode::ALL.len());
}
