//! The domain catalog: served as loaded, compiled at start-up, broken files refused.

use intendedops::App;
use reqwest::Method;

use crate::helpers::{expect_error, send, spawn_app, TestDb};

#[tokio::test]
async fn the_catalog_lists_seven_domains_and_seventy_five_types() {
    let app = spawn_app().await;
    let (status, body) = send(app.with_key(Method::GET, "/v1/domains", &app.a.admin_key)).await;
    assert_eq!(status, 200);
    let domains = body["data"]["items"].as_array().unwrap();
    let names: Vec<_> = domains
        .iter()
        .map(|d| d["domain"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "billing",
            "support",
            "sales",
            "compliance",
            "vendors",
            "contracts",
            "identity"
        ]
    );
    let types: usize = domains
        .iter()
        .map(|d| d["intentTypes"].as_array().unwrap().len())
        .sum();
    assert_eq!(types, 75);
    let first = &domains[0]["intentTypes"][0];
    assert_eq!(
        (first["type"].as_str(), first["valueCategory"].as_str()),
        (Some("billing.send_invoice"), Some("efficiency"))
    );
    assert!(["low", "medium", "high", "critical"].contains(&first["risk"].as_str().unwrap()));
}

#[tokio::test]
async fn one_intent_type_comes_with_its_params_schema() {
    let app = spawn_app().await;
    let key = &app.a.admin_key;
    for path in [
        "/v1/domains/billing/intent-types/send_invoice",
        "/v1/domains/billing/intent-types/billing.send_invoice",
    ] {
        let (status, body) = send(app.with_key(Method::GET, path, key)).await;
        assert_eq!(status, 200, "{path}");
        let schema = &body["data"]["paramsSchema"];
        assert_eq!(
            schema["$schema"],
            "https://json-schema.org/draft/2020-12/schema"
        );
        assert!(schema["required"]
            .as_array()
            .unwrap()
            .contains(&"amount".into()));
        assert!(body["data"]["riskRationale"].is_string());
    }
    expect_error(
        app.with_key(
            Method::GET,
            "/v1/domains/billing/intent-types/sales.create_lead",
            key,
        ),
        404,
        "NOT_FOUND",
    )
    .await;
    expect_error(
        app.with_key(Method::GET, "/v1/domains/hr/intent-types/hire", key),
        404,
        "NOT_FOUND",
    )
    .await;
}

#[tokio::test]
async fn a_broken_schema_stops_start_up_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let broken = r#"{"domain": "billing", "description": "d", "intentTypes": [
        {"type": "billing.x", "description": "x", "valueCategory": null, "risk": "low", "riskRationale": "r",
         "paramsSchema": {"type": "object", "properties": {"a": {"type": "strnig"}}}}]}"#;
    let db = TestDb::new().await;
    let mut config = crate::helpers::test_config(&db);
    config.domains_dir = Some(dir.path().to_path_buf());
    let start_with = |contents: String| {
        std::fs::write(dir.path().join("billing.json"), contents).unwrap();
        App::build(config.clone())
    };
    let err = start_with(broken.to_string())
        .await
        .err()
        .expect("start-up must fail")
        .to_string();
    assert!(
        err.contains("billing.json") && err.contains("billing.x"),
        "{err}"
    );
    let no_description = r#"{"domain": "billing", "intentTypes": []}"#.to_string();
    let err = start_with(no_description)
        .await
        .err()
        .expect("start-up must fail")
        .to_string();
    assert!(
        err.contains("billing.json") && err.contains("description"),
        "{err}"
    );
    assert!(start_with(broken.replace("strnig", "string")).await.is_ok());
}
