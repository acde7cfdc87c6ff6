//! The SQL of each tenant's Merkle tree over its audit chain: the tree's reach and right edge,
//! its stored perfect subtrees, the signed checkpoints, and the public keys that signed them.

use sqlx::AnyConnection;

use super::Store;
use crate::{
    audit::merkle::{Hash, Node},
    canonical::GENESIS_HASH,
    ids::TenantId,
    time::Millis,
};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TreeRow {
    pub tree_size: i64,
    /// Hex hashes, comma-separated, largest subtree first.
    pub edge: String,
    pub last_hash: String,
    pub sealed_at: Millis,
    pub pruned_through: i64,
    pub pruned_hash: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CheckpointRow {
    pub tree_size: i64,
    pub root_hash: String,
    pub created_at: Millis,
    pub key_id: String,
    pub signature: String,
}

impl TreeRow {
    /// The tree of a tenant that has none stored yet.
    pub fn empty() -> Self {
        TreeRow {
            tree_size: 0,
            edge: String::new(),
            last_hash: GENESIS_HASH.to_string(),
            sealed_at: 0,
            pruned_through: 0,
            pruned_hash: None,
        }
    }
}

const TREE_COLUMNS: &str = "tree_size, edge, last_hash, sealed_at, pruned_through, pruned_hash";
const CHECKPOINT_COLUMNS: &str = "tree_size, root_hash, created_at, key_id, signature";

fn row_lock(conn: &AnyConnection) -> &'static str {
    if conn.backend_name() == "PostgreSQL" {
        " FOR UPDATE"
    } else {
        ""
    }
}

/// The tenant's tree, locked until the transaction ends (created empty if absent, so two
/// instances sealing at once queue on the same row).
pub async fn tree_for_update(conn: &mut AnyConnection, tenant: &TenantId) -> sqlx::Result<TreeRow> {
    sqlx::query(
        "INSERT INTO audit_trees (tenant_id, tree_size, edge, last_hash, sealed_at) \
         VALUES ($1, 0, '', $2, 0) ON CONFLICT (tenant_id) DO NOTHING",
    )
    .bind(tenant)
    .bind(GENESIS_HASH)
    .execute(&mut *conn)
    .await?;
    let lock = row_lock(conn);
    sqlx::query_as(&format!(
        "SELECT {TREE_COLUMNS} FROM audit_trees WHERE tenant_id = $1{lock}"
    ))
    .bind(tenant)
    .fetch_one(conn)
    .await
}

/// The tenant's tree, if it has one.
pub async fn tree(store: &Store, tenant: &TenantId) -> sqlx::Result<Option<TreeRow>> {
    sqlx::query_as(&format!(
        "SELECT {TREE_COLUMNS} FROM audit_trees WHERE tenant_id = $1"
    ))
    .bind(tenant)
    .fetch_optional(store.reader())
    .await
}

pub async fn save_tree(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    tree: &TreeRow,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE audit_trees SET tree_size = $2, edge = $3, last_hash = $4, sealed_at = $5, \
         pruned_through = $6, pruned_hash = $7 WHERE tenant_id = $1",
    )
    .bind(tenant)
    .bind(tree.tree_size)
    .bind(&tree.edge)
    .bind(&tree.last_hash)
    .bind(tree.sealed_at)
    .bind(tree.pruned_through)
    .bind(tree.pruned_hash.as_deref())
    .execute(conn)
    .await
    .map(|_| ())
}

/// Tenants whose chain has records no tree holds yet: `(tenant, head, tree size, creation
/// time of the oldest unsealed record)` (0 when that record is missing: a broken chain).
pub async fn unsealed(store: &Store) -> sqlx::Result<Vec<(String, i64, i64, Millis)>> {
    sqlx::query_as(
        "SELECT h.tenant_id, h.sequence, COALESCE(t.tree_size, 0), COALESCE(r.created_at, 0) \
         FROM audit_heads h LEFT JOIN audit_trees t ON t.tenant_id = h.tenant_id \
         LEFT JOIN audit_records r ON r.tenant_id = h.tenant_id \
           AND r.sequence = COALESCE(t.tree_size, 0) + 1 \
         WHERE h.sequence > COALESCE(t.tree_size, 0)",
    )
    .fetch_all(store.reader())
    .await
}

/// Rows per multi-row insert of nodes (a statement binds at most a few hundred values).
const NODES_PER_INSERT: usize = 100;

/// Stores perfect subtrees (present ones are kept as they are).
pub async fn insert_nodes(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    nodes: &[(Node, String)],
) -> sqlx::Result<()> {
    for chunk in nodes.chunks(NODES_PER_INSERT) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| format!("($1, ${}, ${}, ${})", 3 * i + 2, 3 * i + 3, 3 * i + 4))
            .collect();
        let sql = format!(
            "INSERT INTO audit_tree_nodes (tenant_id, level, idx, hash) VALUES {} \
             ON CONFLICT (tenant_id, level, idx) DO NOTHING",
            values.join(", ")
        );
        let mut query = sqlx::query(&sql).bind(tenant);
        for (node, hash) in chunk {
            query = query
                .bind(node.level as i32)
                .bind(node.index as i64)
                .bind(hash);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// The stored hashes of `nodes` (hex), those that are stored. One statement of point
/// lookups (`UNION ALL`): each branch is a primary-key probe, which an `OR` of pairs is not.
pub async fn nodes(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    nodes: &[Node],
) -> sqlx::Result<Vec<(Node, String)>> {
    let mut found = Vec::new();
    for chunk in nodes.chunks(NODES_PER_INSERT) {
        let probes: Vec<String> = (0..chunk.len())
            .map(|i| {
                format!(
                    "SELECT level, idx, hash FROM audit_tree_nodes \
                     WHERE tenant_id = $1 AND level = ${} AND idx = ${}",
                    2 * i + 2,
                    2 * i + 3
                )
            })
            .collect();
        let sql = probes.join(" UNION ALL ");
        let mut query = sqlx::query_as::<_, (i32, i64, String)>(&sql).bind(tenant);
        for node in chunk {
            query = query.bind(node.level as i32).bind(node.index as i64);
        }
        for (level, index, hash) in query.fetch_all(&mut *conn).await? {
            let node = Node {
                level: level as u32,
                index: index as u64,
            };
            found.push((node, hash));
        }
    }
    Ok(found)
}

/// The stored leaf hashes (level 0) of leaves `[first, end)`.
pub async fn kept_leaves(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    (first, end): (u64, u64),
) -> sqlx::Result<Vec<(i64, String)>> {
    sqlx::query_as(
        "SELECT idx, hash FROM audit_tree_nodes WHERE tenant_id = $1 AND level = 0 \
         AND idx >= $2 AND idx < $3",
    )
    .bind(tenant)
    .bind(first as i64)
    .bind(end as i64)
    .fetch_all(conn)
    .await
}

/// `(sequence, hash)` of the records with a sequence in `(after, through]`.
pub async fn record_hashes(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    after: i64,
    through: i64,
) -> sqlx::Result<Vec<(i64, String)>> {
    sqlx::query_as(
        "SELECT sequence, hash FROM audit_records WHERE tenant_id = $1 \
         AND sequence > $2 AND sequence <= $3 ORDER BY sequence",
    )
    .bind(tenant)
    .bind(after)
    .bind(through)
    .fetch_all(conn)
    .await
}

pub async fn insert_checkpoint(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    checkpoint: &CheckpointRow,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO audit_checkpoints \
         (tenant_id, tree_size, root_hash, created_at, key_id, signature) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(tenant)
    .bind(checkpoint.tree_size)
    .bind(&checkpoint.root_hash)
    .bind(checkpoint.created_at)
    .bind(&checkpoint.key_id)
    .bind(&checkpoint.signature)
    .execute(conn)
    .await
    .map(|_| ())
}

/// The checkpoint of `tree_size`, or the latest one when `None`.
pub async fn checkpoint(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    tree_size: Option<i64>,
) -> sqlx::Result<Option<CheckpointRow>> {
    sqlx::query_as(&format!(
        "SELECT {CHECKPOINT_COLUMNS} FROM audit_checkpoints WHERE tenant_id = $1 \
         AND ($2 IS NULL OR tree_size = $2) ORDER BY tree_size DESC LIMIT 1"
    ))
    .bind(tenant)
    .bind(tree_size)
    .fetch_optional(conn)
    .await
}

/// Checkpoints newest first, and how many there are.
pub async fn checkpoints(
    store: &Store,
    tenant: &TenantId,
    limit: i64,
    offset: i64,
) -> sqlx::Result<(Vec<CheckpointRow>, i64)> {
    let rows = sqlx::query_as(&format!(
        "SELECT {CHECKPOINT_COLUMNS} FROM audit_checkpoints WHERE tenant_id = $1 \
         ORDER BY tree_size DESC LIMIT $2 OFFSET $3"
    ))
    .bind(tenant)
    .bind(limit)
    .bind(offset)
    .fetch_all(store.reader())
    .await?;
    let (total,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM audit_checkpoints WHERE tenant_id = $1")
            .bind(tenant)
            .fetch_one(store.reader())
            .await?;
    Ok((rows, total))
}

/// Sizes of the checkpoints in `(after, through]`.
pub async fn checkpoint_sizes(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    after: i64,
    through: i64,
) -> sqlx::Result<Vec<i64>> {
    let rows: Vec<(i64,)> = sqlx::query_as(
        "SELECT tree_size FROM audit_checkpoints WHERE tenant_id = $1 \
         AND tree_size > $2 AND tree_size <= $3",
    )
    .bind(tenant)
    .bind(after)
    .bind(through)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|(size,)| size).collect())
}

/// Removes the records up to `through`; returns how many went.
pub async fn delete_records_through(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    through: i64,
) -> sqlx::Result<u64> {
    let done = sqlx::query("DELETE FROM audit_records WHERE tenant_id = $1 AND sequence <= $2")
        .bind(tenant)
        .bind(through)
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}

/// Publishes a signing key (once; a known key is left as it is).
pub async fn register_key(store: &Store, key_id: &str, public_key: &str) -> sqlx::Result<()> {
    let mut conn = store.begin().await?;
    sqlx::query(
        "INSERT INTO checkpoint_keys (key_id, public_key, first_seen_at) VALUES ($1, $2, $3) \
         ON CONFLICT (key_id) DO NOTHING",
    )
    .bind(key_id)
    .bind(public_key)
    .bind(crate::time::now_ms())
    .execute(&mut *conn)
    .await?;
    conn.commit().await
}

/// Every published key: `(key id, base64 public key, first seen)`, oldest first.
pub async fn keys(store: &Store) -> sqlx::Result<Vec<(String, String, Millis)>> {
    sqlx::query_as(
        "SELECT key_id, public_key, first_seen_at FROM checkpoint_keys ORDER BY first_seen_at",
    )
    .fetch_all(store.reader())
    .await
}

/// Parses a stored edge.
pub fn parse_edge(text: &str) -> Option<Vec<Hash>> {
    text.split(',')
        .filter(|part| !part.is_empty())
        .map(crate::audit::merkle::from_hex)
        .collect()
}

/// A stored edge's text.
pub fn edge_text(hashes: &[Hash]) -> String {
    hashes
        .iter()
        .map(crate::audit::merkle::hex)
        .collect::<Vec<_>>()
        .join(",")
}
