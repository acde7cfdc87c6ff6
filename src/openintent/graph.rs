//! Intent graphs (RFC-0002): parent/child trees and dependency edges, kept acyclic.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{json, Value};

use super::{
    intents::{bump, expect_version, NewIntent},
    views, Caller, IntentStatus, NewEvent, OpenIntent, Version,
};
use crate::{
    error::{Error, Result},
    store::openintent::{
        graph as graph_rows,
        intents::{self as intent_rows, IntentRow},
    },
    time::now_ms,
};

/// Deepest parent chain walked for ancestors (trees are not expected to be near this).
const MAX_DEPTH: i64 = 1000;

/// `{"total", "by_status", "completion_percentage"}` over some intents' statuses.
pub fn aggregate<'a>(statuses: impl IntoIterator<Item = &'a str>) -> Value {
    let mut by_status: BTreeMap<&str, i64> = BTreeMap::new();
    for status in statuses {
        *by_status.entry(status).or_default() += 1;
    }
    let total: i64 = by_status.values().sum();
    let completed = by_status.get("completed").copied().unwrap_or(0);
    let percentage = if total == 0 {
        0
    } else {
        completed * 100 / total
    };
    json!({ "total": total, "by_status": by_status, "completion_percentage": percentage })
}

impl OpenIntent {
    pub async fn create_child(
        &self,
        caller: &Caller,
        parent_id: &str,
        mut input: NewIntent,
    ) -> Result<Value> {
        self.intent(caller, parent_id).await?;
        input.parent_intent_id = Some(parent_id.to_string());
        self.create_intent(caller, input).await
    }

    pub async fn children(&self, caller: &Caller, id: &str) -> Result<Vec<Value>> {
        self.intent(caller, id).await?;
        let rows = intent_rows::children(self.store(), caller.tenant.as_str(), id).await?;
        self.intent_views(caller, &rows).await
    }

    pub async fn descendants(&self, caller: &Caller, id: &str) -> Result<Vec<Value>> {
        self.intent(caller, id).await?;
        let rows = intent_rows::descendants(self.store(), caller.tenant.as_str(), id).await?;
        self.intent_views(caller, &rows).await
    }

    /// The parent chain, nearest first.
    pub async fn ancestors(&self, caller: &Caller, id: &str) -> Result<Vec<Value>> {
        let start = self.intent(caller, id).await?;
        let above =
            intent_rows::ancestors(self.store(), caller.tenant.as_str(), id, MAX_DEPTH).await?;
        let mut by_id: HashMap<String, IntentRow> =
            above.into_iter().map(|row| (row.id.clone(), row)).collect();
        let mut chain = Vec::new();
        let mut next = start.parent_id;
        while let Some(row) = next.and_then(|parent| by_id.remove(&parent)) {
            next = row.parent_id.clone();
            chain.push(row);
        }
        self.intent_views(caller, &chain).await
    }

    async fn intents_by_id(&self, caller: &Caller, ids: &[String]) -> Result<Vec<IntentRow>> {
        Ok(intent_rows::get_many(self.store(), caller.tenant.as_str(), ids).await?)
    }

    pub async fn dependencies(&self, caller: &Caller, id: &str) -> Result<Vec<Value>> {
        self.intent(caller, id).await?;
        let ids = graph_rows::dependencies_of(self.store(), caller.tenant.as_str(), id).await?;
        let rows = self.intents_by_id(caller, &ids).await?;
        self.intent_views(caller, &rows).await
    }

    pub async fn dependents(&self, caller: &Caller, id: &str) -> Result<Vec<Value>> {
        self.intent(caller, id).await?;
        let mut conn = self.store().reader().acquire().await?;
        let ids = graph_rows::dependents_of(&mut conn, caller.tenant.as_str(), id).await?;
        let rows = self.intents_by_id(caller, &ids).await?;
        self.intent_views(caller, &rows).await
    }

    /// Makes `id` depend on `target`; refuses self-dependencies and cycles (400).
    pub async fn add_dependency(
        &self,
        caller: &Caller,
        id: &str,
        target: &str,
        version: Version,
    ) -> Result<Value> {
        let tenant = caller.tenant.as_str();
        let mut change = self.change(caller).await?;
        graph_rows::lock_for_new_edges(change.tx(), self.store(), tenant).await?;
        let mut row = change.intent(self.store(), id).await?;
        expect_version(&row, version)?;
        if !intent_rows::exists(change.tx(), tenant, target).await? {
            return Err(Error::NotFound {
                what: "dependency intent",
            });
        }
        if target == id || graph_rows::depends_transitively(change.tx(), tenant, target, id).await?
        {
            return Err(Error::invalid(
                &["dependency_id"],
                format!("{id} depending on {target} would create a cycle"),
            ));
        }
        if graph_rows::add_dependency(change.tx(), tenant, id, target, now_ms()).await? {
            let mut depends_on = views::depends_on(&row);
            depends_on.push(target.to_string());
            depends_on.sort();
            row.depends_on = json!(depends_on).to_string();
            bump(&mut row);
            intent_rows::update(change.tx(), &row).await?;
            change
                .record(NewEvent::new(
                    id,
                    "dependency_added",
                    json!({ "dependency_id": target, "version": row.version }),
                ))
                .await?;
        }
        change.commit().await?;
        self.intent_view(caller, &row).await
    }

    pub async fn remove_dependency(
        &self,
        caller: &Caller,
        id: &str,
        target: &str,
        version: Version,
    ) -> Result<Value> {
        let mut change = self.change(caller).await?;
        let mut row = change.intent(self.store(), id).await?;
        expect_version(&row, version)?;
        if !graph_rows::remove_dependency(change.tx(), caller.tenant.as_str(), id, target).await? {
            return Err(Error::NotFound { what: "dependency" });
        }
        let depends_on: Vec<String> = views::depends_on(&row)
            .into_iter()
            .filter(|d| d != target)
            .collect();
        row.depends_on = json!(depends_on).to_string();
        bump(&mut row);
        intent_rows::update(change.tx(), &row).await?;
        change
            .record(NewEvent::new(
                id,
                "dependency_removed",
                json!({ "dependency_id": target, "version": row.version }),
            ))
            .await?;
        change.commit().await?;
        self.intent_view(caller, &row).await
    }

    /// The open children of `id`, split by whether all their dependencies are completed.
    async fn children_by_readiness(
        &self,
        caller: &Caller,
        id: &str,
    ) -> Result<(Vec<IntentRow>, Vec<IntentRow>)> {
        self.intent(caller, id).await?;
        let tenant = caller.tenant.as_str();
        let children = intent_rows::children(self.store(), tenant, id).await?;
        let child_ids: Vec<String> = children.iter().map(|c| c.id.clone()).collect();
        let edges = graph_rows::dependencies_of_many(self.store(), tenant, &child_ids).await?;
        let targets: Vec<String> = edges.iter().map(|(_, target)| target.clone()).collect();
        let completed: HashSet<String> = self
            .intents_by_id(caller, &targets)
            .await?
            .into_iter()
            .filter(|target| target.status == "completed")
            .map(|target| target.id)
            .collect();
        let waiting: HashSet<&str> = edges
            .iter()
            .filter(|(_, target)| !completed.contains(target))
            .map(|(intent, _)| intent.as_str())
            .collect();
        let (blocked, ready): (Vec<IntentRow>, Vec<IntentRow>) = children
            .iter()
            .filter(|child| {
                !IntentStatus::parse(&child.status, "status").is_ok_and(IntentStatus::is_done)
            })
            .cloned()
            .partition(|child| waiting.contains(child.id.as_str()));
        Ok((ready, blocked))
    }

    pub async fn ready(&self, caller: &Caller, id: &str) -> Result<Vec<Value>> {
        let (ready, _) = self.children_by_readiness(caller, id).await?;
        self.intent_views(caller, &ready).await
    }

    pub async fn blocked(&self, caller: &Caller, id: &str) -> Result<Vec<Value>> {
        let (_, blocked) = self.children_by_readiness(caller, id).await?;
        self.intent_views(caller, &blocked).await
    }

    /// The tree under `id` as nodes and edges (parent and dependency), with its aggregate status.
    pub async fn graph(&self, caller: &Caller, id: &str) -> Result<Value> {
        let root = self.intent(caller, id).await?;
        let mut rows = vec![root];
        rows.extend(intent_rows::descendants(self.store(), caller.tenant.as_str(), id).await?);
        let nodes = self.intent_views(caller, &rows).await?;
        let mut edges = Vec::new();
        for node in &nodes {
            if let Some(parent) = node["parent_intent_id"]
                .as_str()
                .filter(|_| node["id"] != id)
            {
                edges.push(json!({ "from": parent, "to": node["id"], "type": "parent_child" }));
            }
            for target in node["depends_on"].as_array().into_iter().flatten() {
                edges.push(json!({ "from": node["id"], "to": target, "type": "depends_on" }));
            }
        }
        let aggregate = aggregate(nodes.iter().filter_map(|node| node["status"].as_str()));
        Ok(json!({ "root_id": id, "nodes": nodes, "edges": edges, "aggregate_status": aggregate }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregate_counts_statuses_and_completion() {
        assert_eq!(
            aggregate(["completed", "active", "completed", "draft"]),
            json!({"total": 4, "by_status": {"active": 1, "completed": 2, "draft": 1}, "completion_percentage": 50})
        );
        assert_eq!(
            aggregate([]),
            json!({"total": 0, "by_status": {}, "completion_percentage": 0})
        );
    }
}
