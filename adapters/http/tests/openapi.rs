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
        // Every 503 documents its `Retry-After`, /ready's too (its header was missing
        // from the document; deep schemathesis run).
        assert!(
            statuses["503"]["headers"]["Retry-After"].is_object(),
            "{} {} 503 without Retry-After",
            op.method,
            op.path
        );
        if !op.open {
            assert!(statuses.contains_key("401") && statuses.contains_key("403"));
        }
    }
    let codes = doc["components"]["schemas"]["Problem"]["properties"]["code"]["enum"]
        .as_array()
        .expect("the codes");
    assert_eq!(codes.len(), ledger_domain::ErrorCode::ALL.len());
}

/// In every `oneOf` a value matches one branch only: an object branch whose properties
/// all belong to another branch must refuse other properties, or every value of the
/// larger branch would match both (a transfer's answer once did, its `from` and `to`
/// matching both the account and the id-only hidden account).
#[test]
fn no_branch_of_a_one_of_takes_what_another_branch_is() {
    let doc = document();
    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    let resolve = |s: &serde_json::Value| -> serde_json::Value {
        match s["$ref"].as_str() {
            Some(r) => schemas[r.trim_start_matches("#/components/schemas/")].clone(),
            None => s.clone(),
        }
    };
    let mut one_ofs = Vec::new();
    let mut stack = vec![doc.clone()];
    while let Some(v) = stack.pop() {
        match &v {
            serde_json::Value::Object(m) => {
                if let Some(branches) = m.get("oneOf").and_then(|b| b.as_array()) {
                    one_ofs.push(branches.iter().map(&resolve).collect::<Vec<_>>());
                }
                stack.extend(m.values().cloned());
            }
            serde_json::Value::Array(a) => stack.extend(a.iter().cloned()),
            _ => {}
        }
    }
    // An object's properties, its `allOf` parts' included.
    fn properties(
        s: &serde_json::Value,
        resolve: &dyn Fn(&serde_json::Value) -> serde_json::Value,
    ) -> Vec<String> {
        let s = resolve(s);
        let mut keys: Vec<String> = s["properties"]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        for part in s["allOf"].as_array().into_iter().flatten() {
            keys.extend(properties(part, resolve));
        }
        keys
    }
    let props = |s: &serde_json::Value| Some(properties(s, &resolve)).filter(|p| !p.is_empty());
    let mut checked = 0;
    for branches in &one_ofs {
        for (i, small) in branches.iter().enumerate() {
            for (j, large) in branches.iter().enumerate() {
                let (Some(p), Some(q)) = (props(small), props(large)) else {
                    continue;
                };
                // A property both require, with values apart (a batch operation's
                // `op`), already tells the branches apart.
                let apart = p.iter().any(|k| {
                    let values = |s: &serde_json::Value| {
                        let v = &s["properties"][k];
                        v.get("enum")
                            .cloned()
                            .or_else(|| v.get("const").map(|c| serde_json::json!([c])))
                    };
                    let required = |s: &serde_json::Value| {
                        s["required"]
                            .as_array()
                            .is_some_and(|r| r.iter().any(|r| r == k))
                    };
                    match (values(small), values(large)) {
                        (Some(a), Some(b)) => {
                            required(small)
                                && required(large)
                                && a.as_array()
                                    .unwrap()
                                    .iter()
                                    .all(|x| !b.as_array().unwrap().contains(x))
                        }
                        _ => false,
                    }
                });
                if i == j || apart || !p.iter().all(|k| q.contains(k)) {
                    continue;
                }
                checked += 1;
                assert_eq!(
                    small["additionalProperties"],
                    serde_json::json!(false),
                    "a oneOf branch with {p:?} also takes every {q:?}"
                );
            }
        }
    }
    assert!(checked > 0, "the account sides are such a pair");
}
