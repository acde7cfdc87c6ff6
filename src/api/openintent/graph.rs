//! RFC-0002 routes: child intents, dependencies, readiness and the intent graph.

use poem::Request;
use poem_openapi::{param::Path, payload::Json, OpenApi};
use serde::Deserialize;
use serde_json::Value;

use super::{created, if_match, listed, ok, parse, reader, writer, OiResult, OiTag};
use crate::{
    api::security::TenantKey,
    openintent::{intents::NewIntent, OpenIntent},
};

pub struct GraphOi(pub OpenIntent);

#[derive(Deserialize)]
struct DependencyIn {
    dependency_id: String,
}

#[OpenApi(tag = "OiTag::Graphs")]
impl GraphOi {
    /// Create a child intent of `parent_id`.
    #[oai(
        path = "/intents/:parent_id/children",
        method = "post",
        operation_id = "oi_create_child"
    )]
    async fn create_child(
        &self,
        key: TenantKey,
        req: &Request,
        parent_id: Path<String>,
        body: Json<Value>,
    ) -> OiResult {
        let caller = writer(&key, req)?;
        created(
            self.0
                .create_child(&caller, &parent_id, parse::<NewIntent>(body)?)
                .await,
        )
    }

    /// `{"children": [...]}`.
    #[oai(
        path = "/intents/:id/children",
        method = "get",
        operation_id = "oi_children"
    )]
    async fn children(&self, key: TenantKey, req: &Request, id: Path<String>) -> OiResult {
        listed("children", self.0.children(&reader(&key, req)?, &id).await)
    }

    /// `{"descendants": [...]}`: the whole tree below the intent.
    #[oai(
        path = "/intents/:id/descendants",
        method = "get",
        operation_id = "oi_descendants"
    )]
    async fn descendants(&self, key: TenantKey, req: &Request, id: Path<String>) -> OiResult {
        listed(
            "descendants",
            self.0.descendants(&reader(&key, req)?, &id).await,
        )
    }

    /// `{"ancestors": [...]}`: parent first, root last.
    #[oai(
        path = "/intents/:id/ancestors",
        method = "get",
        operation_id = "oi_ancestors"
    )]
    async fn ancestors(&self, key: TenantKey, req: &Request, id: Path<String>) -> OiResult {
        listed(
            "ancestors",
            self.0.ancestors(&reader(&key, req)?, &id).await,
        )
    }

    /// `{"dependencies": [...]}`: what the intent waits for.
    #[oai(
        path = "/intents/:id/dependencies",
        method = "get",
        operation_id = "oi_dependencies"
    )]
    async fn dependencies(&self, key: TenantKey, req: &Request, id: Path<String>) -> OiResult {
        listed(
            "dependencies",
            self.0.dependencies(&reader(&key, req)?, &id).await,
        )
    }

    /// `{"dependents": [...]}`: what waits for the intent.
    #[oai(
        path = "/intents/:id/dependents",
        method = "get",
        operation_id = "oi_dependents"
    )]
    async fn dependents(&self, key: TenantKey, req: &Request, id: Path<String>) -> OiResult {
        listed(
            "dependents",
            self.0.dependents(&reader(&key, req)?, &id).await,
        )
    }

    /// Add a dependency at the `If-Match` version: `{"dependency_id"}`; a cycle is a 400.
    #[oai(
        path = "/intents/:id/dependencies",
        method = "post",
        operation_id = "oi_add_dependency"
    )]
    async fn add_dependency(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
        body: Json<Value>,
    ) -> OiResult {
        let caller = writer(&key, req)?;
        let input = parse::<DependencyIn>(body)?;
        ok(self
            .0
            .add_dependency(&caller, &id, &input.dependency_id, if_match(req)?)
            .await)
    }

    #[oai(
        path = "/intents/:id/dependencies/:dependency_id",
        method = "delete",
        operation_id = "oi_remove_dependency"
    )]
    async fn remove_dependency(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
        dependency_id: Path<String>,
    ) -> OiResult {
        let caller = writer(&key, req)?;
        ok(self
            .0
            .remove_dependency(&caller, &id, &dependency_id, if_match(req)?)
            .await)
    }

    /// `{"ready": [...]}`: open children whose dependencies are all completed.
    #[oai(path = "/intents/:id/ready", method = "get", operation_id = "oi_ready")]
    async fn ready(&self, key: TenantKey, req: &Request, id: Path<String>) -> OiResult {
        listed("ready", self.0.ready(&reader(&key, req)?, &id).await)
    }

    /// `{"blocked": [...]}`: open children still waiting for a dependency.
    #[oai(
        path = "/intents/:id/blocked",
        method = "get",
        operation_id = "oi_blocked"
    )]
    async fn blocked(&self, key: TenantKey, req: &Request, id: Path<String>) -> OiResult {
        listed("blocked", self.0.blocked(&reader(&key, req)?, &id).await)
    }

    /// The tree under the intent: `{"root_id", "nodes", "edges", "aggregate_status"}`.
    #[oai(path = "/intents/:id/graph", method = "get", operation_id = "oi_graph")]
    async fn graph(&self, key: TenantKey, req: &Request, id: Path<String>) -> OiResult {
        ok(self.0.graph(&reader(&key, req)?, &id).await)
    }
}
