//! Intent graphs (RFC-0002): parent/child trees and dependency edges, kept acyclic.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::json;

use super::{
    intents::{bump, expect_version, NewIntent},
    model::{self, Intent},
    Caller, CoordinationStatus, Graphs, Intents, NewEvent, Version,
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
/// How far a set of intents is: counts per status, share completed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Aggregate {
    pub total: i64,
    /// Statuses with none are left out.
    pub by_status: BTreeMap<&'static str, i64>,
    /// Completed intents, in whole percent of `total`.
    pub completion_percentage: i64,
}

pub fn aggregate<'a>(intents: impl IntoIterator<Item = &'a Intent>) -> Aggregate {
    let mut by_status: BTreeMap<&'static str, i64> = BTreeMap::new();
    for intent in intents {
        *by_status.entry(intent.status.as_str()).or_default() += 1;
    }
    let total: i64 = by_status.values().sum();
    let completed = by_status
        .get(CoordinationStatus::Completed.as_str())
        .copied()
        .unwrap_or(0);
    let completion_percentage = if total == 0 {
        0
    } else {
        completed * 100 / total
    };
    Aggregate {
        total,
        by_status,
        completion_percentage,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgeKind {
    ParentChild,
    DependsOn,
}

impl EdgeKind {
    pub const ALL: [EdgeKind; 2] = [EdgeKind::ParentChild, EdgeKind::DependsOn];

    pub fn as_str(self) -> &'static str {
        match self {
            EdgeKind::ParentChild => "parent_child",
            EdgeKind::DependsOn => "depends_on",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    pub from: String,
    pub to: String,
    pub kind: EdgeKind,
}

/// The tree under an intent (RFC-0002): the root and every descendant the caller may read.
#[derive(Debug, Clone)]
pub struct Graph {
    pub root_id: String,
    pub nodes: Vec<Intent>,
    pub edges: Vec<Edge>,
    pub aggregate: Aggregate,
}

impl Graphs {
    pub async fn create_child(
        &self,
        caller: &Caller,
        parent_id: &str,
        mut input: NewIntent,
    ) -> Result<Intent> {
        self.intent(caller, parent_id).await?;
        input.parent_intent_id = Some(parent_id.to_string());
        Intents(self.0.clone()).create_intent(caller, input).await
    }

    pub async fn children(&self, caller: &Caller, id: &str) -> Result<Vec<Intent>> {
        self.intent(caller, id).await?;
        let rows = intent_rows::children(self.store(), &caller.tenant, id).await?;
        self.readable(caller, &rows).await
    }

    pub async fn descendants(&self, caller: &Caller, id: &str) -> Result<Vec<Intent>> {
        self.intent(caller, id).await?;
        let rows = intent_rows::descendants(self.store(), &caller.tenant, id).await?;
        self.readable(caller, &rows).await
    }

    /// The parent chain, nearest first.
    pub async fn ancestors(&self, caller: &Caller, id: &str) -> Result<Vec<Intent>> {
        let start = self.intent(caller, id).await?;
        let above = intent_rows::ancestors(self.store(), &caller.tenant, id, MAX_DEPTH).await?;
        let mut by_id: HashMap<String, IntentRow> =
            above.into_iter().map(|row| (row.id.clone(), row)).collect();
        let mut chain = Vec::new();
        let mut next = start.parent_id;
        while let Some(row) = next.and_then(|parent| by_id.remove(&parent)) {
            next = row.parent_id.clone();
            chain.push(row);
        }
        self.readable(caller, &chain).await
    }

    async fn intents_by_id(&self, caller: &Caller, ids: &[String]) -> Result<Vec<IntentRow>> {
        Ok(intent_rows::get_many(self.store(), &caller.tenant, ids).await?)
    }

    pub async fn dependencies(&self, caller: &Caller, id: &str) -> Result<Vec<Intent>> {
        self.intent(caller, id).await?;
        let ids = graph_rows::dependencies_of(self.store(), &caller.tenant, id).await?;
        let rows = self.intents_by_id(caller, &ids).await?;
        self.readable(caller, &rows).await
    }

    pub async fn dependents(&self, caller: &Caller, id: &str) -> Result<Vec<Intent>> {
        self.intent(caller, id).await?;
        let mut conn = self.store().reader().acquire().await?;
        let ids = graph_rows::dependents_of(&mut conn, &caller.tenant, id).await?;
        let rows = self.intents_by_id(caller, &ids).await?;
        self.readable(caller, &rows).await
    }

    /// Makes `id` depend on `target`; refuses self-dependencies and cycles (400).
    pub async fn add_dependency(
        &self,
        caller: &Caller,
        id: &str,
        target: &str,
        version: Version,
    ) -> Result<Intent> {
        let tenant = &caller.tenant;
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
            let mut depends_on = model::depends_on(&row);
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
        Intent::from_row(&row)
    }

    pub async fn remove_dependency(
        &self,
        caller: &Caller,
        id: &str,
        target: &str,
        version: Version,
    ) -> Result<Intent> {
        let mut change = self.change(caller).await?;
        let mut row = change.intent(self.store(), id).await?;
        expect_version(&row, version)?;
        if !graph_rows::remove_dependency(change.tx(), &caller.tenant, id, target).await? {
            return Err(Error::NotFound { what: "dependency" });
        }
        let depends_on: Vec<String> = model::depends_on(&row)
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
        Intent::from_row(&row)
    }

    /// The open children of `id`, split by whether all their dependencies are completed.
    async fn children_by_readiness(
        &self,
        caller: &Caller,
        id: &str,
    ) -> Result<(Vec<IntentRow>, Vec<IntentRow>)> {
        self.intent(caller, id).await?;
        let tenant = &caller.tenant;
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
                !CoordinationStatus::parse(&child.status, "status")
                    .is_ok_and(CoordinationStatus::is_done)
            })
            .cloned()
            .partition(|child| waiting.contains(child.id.as_str()));
        Ok((ready, blocked))
    }

    pub async fn ready(&self, caller: &Caller, id: &str) -> Result<Vec<Intent>> {
        let (ready, _) = self.children_by_readiness(caller, id).await?;
        self.readable(caller, &ready).await
    }

    pub async fn blocked(&self, caller: &Caller, id: &str) -> Result<Vec<Intent>> {
        let (_, blocked) = self.children_by_readiness(caller, id).await?;
        self.readable(caller, &blocked).await
    }

    /// The tree under `id` as nodes and edges (parent and dependency), with its aggregate status.
    pub async fn graph(&self, caller: &Caller, id: &str) -> Result<Graph> {
        let root = self.intent(caller, id).await?;
        let mut rows = vec![root];
        rows.extend(intent_rows::descendants(self.store(), &caller.tenant, id).await?);
        let nodes = self.readable(caller, &rows).await?;
        let mut edges = Vec::new();
        for node in &nodes {
            if let Some(parent) = node.parent_id.as_ref().filter(|_| node.id != id) {
                edges.push(Edge {
                    from: parent.clone(),
                    to: node.id.clone(),
                    kind: EdgeKind::ParentChild,
                });
            }
            for target in &node.depends_on {
                edges.push(Edge {
                    from: node.id.clone(),
                    to: target.clone(),
                    kind: EdgeKind::DependsOn,
                });
            }
        }
        Ok(Graph {
            root_id: id.to_string(),
            aggregate: aggregate(&nodes),
            nodes,
            edges,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn intent(status: CoordinationStatus) -> Intent {
        Intent {
            id: "oin_1".into(),
            title: "t".into(),
            description: String::new(),
            created_by: "a".into(),
            status,
            state: json!({}),
            constraints: json!([]),
            governance_policy: None,
            parent_id: None,
            depends_on: Vec::new(),
            confidence: 0,
            version: 1,
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn aggregate_counts_statuses_and_completion() {
        use CoordinationStatus::*;
        let intents = [Completed, Active, Completed, Draft].map(intent);
        let summary = aggregate(&intents);
        assert_eq!(summary.total, 4);
        assert_eq!(
            summary.by_status,
            BTreeMap::from([("active", 1), ("completed", 2), ("draft", 1)])
        );
        assert_eq!(summary.completion_percentage, 50);
        assert_eq!(aggregate(&[]), Aggregate::default());
    }
}
