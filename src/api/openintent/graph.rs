//! RFC-0002 routes: child intents, dependencies, readiness and the intent graph.

use poem::Request;
use poem_openapi::{
    param::{Header, Path},
    OpenApi,
};
use serde::Deserialize;

use super::{
    bodies::{DependencyIn, NewIntentIn},
    created, if_match, listed, ok, parse, reader,
    resources::{
        AncestorList, BlockedList, ChildList, DependencyList, DependentList, DescendantList, Graph,
        Intent, ReadyList,
    },
    writer, Answer, Body, Created, OiResult, OiTag,
};
use crate::{
    api::security::TenantKey,
    openintent::{intents::NewIntent, Graphs},
};

pub struct GraphOi(pub Graphs);

#[derive(Deserialize)]
struct Dependency {
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
        body: Body<NewIntentIn>,
    ) -> OiResult<Created<Intent>> {
        let caller = writer(&key, req)?;
        created(
            self.0
                .create_child(&caller, &parent_id, parse::<NewIntent, _>(body)?)
                .await,
        )
    }

    /// The intent's direct children.
    #[oai(
        path = "/intents/:id/children",
        method = "get",
        operation_id = "oi_children"
    )]
    async fn children(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
    ) -> OiResult<Answer<ChildList>> {
        listed(self.0.children(&reader(&key, req)?, &id).await)
    }

    /// The whole tree below the intent.
    #[oai(
        path = "/intents/:id/descendants",
        method = "get",
        operation_id = "oi_descendants"
    )]
    async fn descendants(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
    ) -> OiResult<Answer<DescendantList>> {
        listed(self.0.descendants(&reader(&key, req)?, &id).await)
    }

    /// The intent's parent, its parent, … up to the root.
    #[oai(
        path = "/intents/:id/ancestors",
        method = "get",
        operation_id = "oi_ancestors"
    )]
    async fn ancestors(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
    ) -> OiResult<Answer<AncestorList>> {
        listed(self.0.ancestors(&reader(&key, req)?, &id).await)
    }

    /// What the intent waits for.
    #[oai(
        path = "/intents/:id/dependencies",
        method = "get",
        operation_id = "oi_dependencies"
    )]
    async fn dependencies(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
    ) -> OiResult<Answer<DependencyList>> {
        listed(self.0.dependencies(&reader(&key, req)?, &id).await)
    }

    /// What waits for the intent.
    #[oai(
        path = "/intents/:id/dependents",
        method = "get",
        operation_id = "oi_dependents"
    )]
    async fn dependents(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
    ) -> OiResult<Answer<DependentList>> {
        listed(self.0.dependents(&reader(&key, req)?, &id).await)
    }

    /// Add a dependency at the `If-Match` version; a cycle is a 400.
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
        /// Required: the intent's current `version` (`3`, `"3"` or `W/"3"`); a stale one is a 409.
        #[oai(name = "If-Match")]
        _version: Header<Option<String>>,
        body: Body<DependencyIn>,
    ) -> OiResult<Answer<Intent>> {
        let caller = writer(&key, req)?;
        let input = parse::<Dependency, _>(body)?;
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
        /// Required: the intent's current `version` (`3`, `"3"` or `W/"3"`); a stale one is a 409.
        #[oai(name = "If-Match")]
        _version: Header<Option<String>>,
        dependency_id: Path<String>,
    ) -> OiResult<Answer<Intent>> {
        let caller = writer(&key, req)?;
        ok(self
            .0
            .remove_dependency(&caller, &id, &dependency_id, if_match(req)?)
            .await)
    }

    /// Open children whose dependencies are all completed.
    #[oai(path = "/intents/:id/ready", method = "get", operation_id = "oi_ready")]
    async fn ready(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
    ) -> OiResult<Answer<ReadyList>> {
        listed(self.0.ready(&reader(&key, req)?, &id).await)
    }

    /// Open children still waiting for a dependency.
    #[oai(
        path = "/intents/:id/blocked",
        method = "get",
        operation_id = "oi_blocked"
    )]
    async fn blocked(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
    ) -> OiResult<Answer<BlockedList>> {
        listed(self.0.blocked(&reader(&key, req)?, &id).await)
    }

    /// The tree under the intent: nodes, parent and dependency edges, aggregate status.
    #[oai(path = "/intents/:id/graph", method = "get", operation_id = "oi_graph")]
    async fn graph(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
    ) -> OiResult<Answer<Graph>> {
        ok(self.0.graph(&reader(&key, req)?, &id).await)
    }
}
