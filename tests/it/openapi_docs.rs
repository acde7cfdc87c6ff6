//! The API documents themselves: `/docs` offers both faces, every request body has an example,
//! and every schema anywhere is typed (no `{}` schemas that tell a reader nothing).

use reqwest::Method;
use serde_json::Value;

use crate::helpers::{send, spawn_app};

/// Where each face's document is served, as `/docs` must offer them.
const DOCUMENTS: [&str; 2] = ["/openapi.json", "/api/v1/openapi.json"];

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// The components schema a `$ref` names (`#/components/schemas/Name`).
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => {
            let name = reference
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("unexpected $ref {reference}"));
            let target = &doc["components"]["schemas"][name];
            assert!(target.is_object(), "dangling $ref {reference}");
            resolve(doc, target)
        }
        None => schema,
    }
}

fn compositions(schema: &Value) -> impl Iterator<Item = (&'static str, &Value)> {
    ["allOf", "oneOf", "anyOf"]
        .into_iter()
        .flat_map(move |key| {
            schema[key]
                .as_array()
                .into_iter()
                .flatten()
                .map(move |member| (key, member))
        })
}

/// Keywords that describe a schema without constraining what it holds.
const ANNOTATIONS: [&str; 9] = [
    "description",
    "title",
    "default",
    "example",
    "deprecated",
    "readOnly",
    "writeOnly",
    "nullable",
    "externalDocs",
];

/// An `allOf` member that only annotates its siblings (the framework writes a described
/// `$ref` as `allOf: [{$ref}, {description}]`).
fn is_annotation(schema: &Value) -> bool {
    schema
        .as_object()
        .is_some_and(|keys| keys.keys().all(|key| ANNOTATIONS.contains(&key.as_str())))
}

/// Whether a schema says what it holds: a `type`, a `$ref`, an `allOf` with a typed member
/// (the rest typed or annotations), or a `oneOf`/`anyOf` of typed schemas only.
fn is_typed(schema: &Value) -> bool {
    if schema["type"].is_string() || schema["$ref"].is_string() {
        return true;
    }
    let all_of: Vec<&Value> = schema["allOf"].as_array().into_iter().flatten().collect();
    if !all_of.is_empty() {
        return all_of.iter().any(|member| is_typed(member))
            && all_of
                .iter()
                .all(|member| is_typed(member) || is_annotation(member));
    }
    let mut members = compositions(schema).peekable();
    members.peek().is_some() && members.all(|(_, member)| is_typed(member))
}

/// Records every untyped schema at or below `schema` (not following `$ref`s: components are
/// walked once on their own).
fn untyped(schema: &Value, at: &str, found: &mut Vec<String>) {
    if !schema.is_object() {
        return;
    }
    if !is_typed(schema) {
        found.push(format!("{at}: no type in {schema}"));
    }
    if let Some(properties) = schema["properties"].as_object() {
        for (name, property) in properties {
            untyped(property, &format!("{at}.{name}"), found);
        }
    }
    untyped(&schema["items"], &format!("{at}[]"), found);
    untyped(
        &schema["additionalProperties"],
        &format!("{at}{{*}}"),
        found,
    );
    for (index, (key, member)) in compositions(schema).enumerate() {
        if !(key == "allOf" && is_annotation(member)) {
            untyped(member, &format!("{at}/{key}{index}"), found);
        }
    }
}

/// Whether Swagger UI can show an example answer: the schema has one, or the envelope around
/// it leads to one (`data`, a page's `items`, a list body's single array, array items).
fn exemplified(doc: &Value, schema: &Value) -> bool {
    let schema = resolve(doc, schema);
    if !schema["example"].is_null() {
        return true;
    }
    if schema["items"].is_object() {
        return exemplified(doc, &schema["items"]);
    }
    let Some(properties) = schema["properties"].as_object() else {
        return false;
    };
    let wrapped = ["data", "items"]
        .into_iter()
        .find_map(|key| properties.get(key))
        .or_else(|| {
            (properties.len() == 1)
                .then(|| properties.values().next())
                .flatten()
        });
    wrapped.is_some_and(|inner| exemplified(doc, inner))
}

fn operations(doc: &Value) -> impl Iterator<Item = (String, &Value)> {
    doc["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, item)| {
            METHODS.into_iter().filter_map(move |method| {
                let operation = &item[method];
                operation
                    .is_object()
                    .then(|| (format!("{} {path}", method.to_uppercase()), operation))
            })
        })
}

/// Every complaint about one document: request bodies and success answers without an example,
/// untyped schemas.
fn violations(doc: &Value) -> Vec<String> {
    let mut found = Vec::new();
    for (name, schema) in doc["components"]["schemas"]
        .as_object()
        .into_iter()
        .flatten()
    {
        untyped(schema, &format!("#/components/schemas/{name}"), &mut found);
    }
    for (operation_name, operation) in operations(doc) {
        for parameter in operation["parameters"].as_array().into_iter().flatten() {
            let at = format!("{operation_name} parameter {}", parameter["name"]);
            untyped(&parameter["schema"], &at, &mut found);
        }
        for (media_type, media) in operation["requestBody"]["content"]
            .as_object()
            .into_iter()
            .flatten()
        {
            let at = format!("{operation_name} request {media_type}");
            untyped(&media["schema"], &at, &mut found);
            let has_example = !media["example"].is_null()
                || media["examples"].as_object().is_some_and(|e| !e.is_empty())
                || !resolve(doc, &media["schema"])["example"].is_null();
            if !has_example {
                found.push(format!("{at}: no example"));
            }
        }
        for (status, response) in operation["responses"].as_object().into_iter().flatten() {
            for (media_type, media) in response["content"].as_object().into_iter().flatten() {
                let at = format!("{operation_name} response {status} {media_type}");
                untyped(&media["schema"], &at, &mut found);
                if status.starts_with('2') && !exemplified(doc, &media["schema"]) {
                    found.push(format!("{at}: no example"));
                }
            }
        }
    }
    found
}

#[tokio::test]
async fn every_body_has_an_example_and_every_schema_a_type() {
    let app = spawn_app().await;
    let mut all = Vec::new();
    for path in DOCUMENTS {
        let (status, doc) = send(app.request(Method::GET, path)).await;
        assert_eq!(status, 200, "{path}");
        assert!(operations(&doc).count() > 10, "{path} has its operations");
        all.extend(
            violations(&doc)
                .into_iter()
                .map(|violation| format!("{path}: {violation}")),
        );
    }
    assert!(
        all.is_empty(),
        "{} violations:\n{}",
        all.len(),
        all.join("\n")
    );
}

#[tokio::test]
async fn the_checks_catch_untyped_schemas_and_missing_examples() {
    let doc = serde_json::json!({
        "paths": {"/x": {"post": {
            "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/In"}}}},
            "responses": {
                "200": {"content": {"application/json": {"schema": {
                    "type": "object", "properties": {"anything": {}}
                }}}},
                "201": {"content": {"application/json": {"schema": {
                    "type": "object", "properties": {"data": {"$ref": "#/components/schemas/Out"}}
                }}}}
            }
        }}},
        "components": {"schemas": {"Out": {"type": "string", "example": "x"}, "In": {
            "type": "object",
            "properties": {
                "list": {"type": "array", "items": {"description": "no type"}},
                "map": {"type": "object", "additionalProperties": {}},
                "either": {"oneOf": [{"type": "string"}, {}]},
                "fine": {"allOf": [{"$ref": "#/components/schemas/In"}]},
                "described": {"allOf": [{"$ref": "#/components/schemas/In"}, {"description": "d"}]},
                "only_described": {"allOf": [{"description": "d"}]}
            }
        }}}
    });
    let found = violations(&doc);
    // The 200 answer: an untyped property and no example; the request: no example; `In`:
    // list items, map values, `either` and its second member, `only_described`.
    assert_eq!(found.len(), 8, "{found:#?}");
}

#[tokio::test]
async fn docs_offer_both_documents_offline() {
    let app = spawn_app().await;
    let response = app.request(Method::GET, "/docs").send().await.unwrap();
    assert_eq!(response.status(), 200);
    let page = response.text().await.unwrap();
    for document in DOCUMENTS {
        assert!(
            page.contains(&format!("\"{document}\"")),
            "/docs does not offer {document}"
        );
    }
    assert!(page.contains("IntendedOps /v1") && page.contains("OpenIntent /api/v1"));
    for remote in ["src=\"http", "href=\"http", "src=\"//", "href=\"//"] {
        assert!(!page.contains(remote), "/docs loads {remote}…");
    }
    for document in DOCUMENTS {
        let (status, doc) = send(app.request(Method::GET, document)).await;
        assert_eq!(status, 200, "{document}");
        assert!(doc["openapi"].is_string(), "{document}");
    }
    // ReDoc shows each document on its own page.
    for (page, title) in [
        ("/redoc", "\"IntendedOps\""),
        ("/redoc/openintent", "OpenIntent Coordination Protocol"),
    ] {
        let response = app.request(Method::GET, page).send().await.unwrap();
        assert_eq!(response.status(), 200, "{page}");
        assert!(response.text().await.unwrap().contains(title), "{page}");
    }
}
