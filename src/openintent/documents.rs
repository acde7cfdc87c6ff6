//! Resources kept as versioned JSON documents (tasks, plans, memory entries, triggers): the
//! typed resource is serialized whole, as the face answers it, and the columns lists filter
//! on are derived from it. One place reads, writes and version-checks them all.

use serde::{de::DeserializeOwned, Serialize};

use super::{Caller, Change, Context};
use crate::{
    error::{Error, Result},
    store::{
        self,
        openintent::documents::{self as rows, DocumentQuery, DocumentRow, Group},
    },
    time::Millis,
};

/// What the store indexes of a document.
#[derive(Debug, Default)]
pub struct Columns {
    pub parent: String,
    pub status: String,
    pub namespace: Option<String>,
    pub tags: Vec<String>,
    pub unique_key: Option<String>,
    pub due_at: Option<Millis>,
}

/// A resource stored as a document. Its creation time is the row's (an update keeps it).
pub trait Document: Serialize + DeserializeOwned {
    /// Its `kind` in the store.
    const KIND: &'static str;
    /// How errors name it (`task not found`).
    const WHAT: &'static str;

    fn id(&self) -> &str;
    fn version(&self) -> i64;
    fn columns(&self) -> Columns;
}

/// Writes a [`Document`]'s `id` and `version` from the fields holding them
/// (`identified_by!(id, version)`, `identified_by!(info.id, info.version)`).
macro_rules! identified_by {
    ($($id:ident).+, $($version:ident).+) => {
        fn id(&self) -> &str {
            &self.$($id).+
        }

        fn version(&self) -> i64 {
            self.$($version).+
        }
    };
}
pub(crate) use identified_by;

fn to_row<D: Document>(caller: &Caller, doc: &D, now: Millis) -> Result<DocumentRow> {
    let columns = doc.columns();
    let tags = match columns.tags.is_empty() {
        true => ",".to_string(),
        false => format!(",{},", columns.tags.join(",")),
    };
    Ok(DocumentRow {
        tenant_id: caller.tenant.clone(),
        id: doc.id().to_string(),
        kind: D::KIND.to_string(),
        parent: columns.parent,
        status: columns.status,
        namespace: columns.namespace,
        tags,
        unique_key: columns.unique_key,
        due_at: columns.due_at,
        version: doc.version(),
        doc: serde_json::to_string(doc).map_err(|err| Error::Internal(err.into()))?,
        created_at: now,
        updated_at: now,
    })
}

pub(crate) fn from_row<D: Document>(row: &DocumentRow) -> Result<D> {
    serde_json::from_str(&row.doc).map_err(|err| {
        Error::Internal(anyhow::anyhow!(
            "stored {} {} does not read back: {err}",
            D::KIND,
            row.id
        ))
    })
}

/// A document that belongs to an intent (tasks, plans): who may read the intent may read it.
pub trait OfIntent: Document {
    fn intent_id(&self) -> &str;
}

/// A tag as lists match it: non-empty, at most 100 characters, no commas.
pub fn check_tags(tags: &[String], field: &str) -> Result<()> {
    match tags
        .iter()
        .all(|tag| !tag.is_empty() && tag.chars().count() <= 100 && !tag.contains(','))
    {
        true => Ok(()),
        false => Err(Error::invalid(
            &[field],
            "tags must be 1-100 characters without commas",
        )),
    }
}

impl Context {
    /// The caller's tenant's document of this kind, or 404.
    pub(crate) async fn document<D: Document>(&self, caller: &Caller, id: &str) -> Result<D> {
        let row = rows::get(self.store(), &caller.tenant, D::KIND, id)
            .await?
            .ok_or(Error::NotFound { what: D::WHAT })?;
        from_row(&row)
    }

    /// A document of an intent the caller may read (the intent's access rules apply), or
    /// 404 / 403.
    pub(crate) async fn intent_document<D: OfIntent>(
        &self,
        caller: &Caller,
        id: &str,
    ) -> Result<D> {
        let doc: D = self.document(caller, id).await?;
        self.intent(caller, doc.intent_id()).await?;
        Ok(doc)
    }

    /// The documents a query selects in the caller's tenant.
    pub(crate) async fn documents<D: Document>(
        &self,
        caller: &Caller,
        query: &DocumentQuery<'_>,
    ) -> Result<Vec<D>> {
        rows::list(self.store(), &caller.tenant, query)
            .await?
            .iter()
            .map(from_row)
            .collect()
    }
}

impl Change<'_> {
    /// Stores a new document; a taken unique key is a 409 with `duplicate`.
    pub(crate) async fn insert_document<D: Document>(
        &mut self,
        doc: &D,
        now: Millis,
        duplicate: &str,
    ) -> Result<()> {
        let row = to_row(self.caller, doc, now)?;
        match rows::insert(self.tx(), &row).await {
            Err(err) if store::is_unique_violation(&err) => Err(Error::Conflict(duplicate.into())),
            other => Ok(other?),
        }
    }

    /// The document, read for update, or 404.
    pub(crate) async fn document<D: Document>(
        &mut self,
        store: &store::Store,
        id: &str,
    ) -> Result<D> {
        let tenant = self.tenant().clone();
        let row = rows::get_for_update(self.tx(), store, &tenant, D::KIND, id)
            .await?
            .ok_or(Error::NotFound { what: D::WHAT })?;
        from_row(&row)
    }

    /// The document, read for update, if there is one.
    pub(crate) async fn find_document<D: Document>(
        &mut self,
        store: &store::Store,
        id: &str,
    ) -> Result<Option<D>> {
        match self.document::<D>(store, id).await {
            Err(Error::NotFound { .. }) => Ok(None),
            other => other.map(Some),
        }
    }

    /// A document of this intent, read for update, that a request names in `field`; 400
    /// when there is none (or it belongs to another intent).
    pub(crate) async fn document_of_intent<D: OfIntent>(
        &mut self,
        store: &store::Store,
        id: &str,
        intent_id: &str,
        field: &str,
    ) -> Result<D> {
        self.find_document::<D>(store, id)
            .await?
            .filter(|doc| doc.intent_id() == intent_id)
            .ok_or_else(|| {
                Error::invalid(
                    &[field],
                    format!("'{id}' is not a {} of this intent", D::WHAT),
                )
            })
    }

    /// The documents of this kind under a parent, inside the change.
    pub(crate) async fn documents_of<D: Document>(&mut self, parent: &str) -> Result<Vec<D>> {
        self.documents_grouped(Group::Parent(parent)).await
    }

    /// The documents of this kind in a namespace, inside the change.
    pub(crate) async fn documents_in<D: Document>(&mut self, namespace: &str) -> Result<Vec<D>> {
        self.documents_grouped(Group::Namespace(namespace)).await
    }

    async fn documents_grouped<D: Document>(&mut self, group: Group<'_>) -> Result<Vec<D>> {
        let tenant = self.tenant().clone();
        rows::of_group(self.tx(), &tenant, D::KIND, group)
            .await?
            .iter()
            .map(from_row)
            .collect()
    }

    /// Writes the document back; it must still be at `expected` (else 409 naming the
    /// current version).
    pub(crate) async fn save_document<D: Document>(
        &mut self,
        doc: &D,
        expected: i64,
        now: Millis,
    ) -> Result<()> {
        let row = to_row(self.caller, doc, now)?;
        match rows::update(self.tx(), &row, expected).await? {
            true => Ok(()),
            false => Err(Error::Conflict(format!(
                "the {} changed while this change was made; read it again and retry",
                D::WHAT
            ))),
        }
    }

    pub(crate) async fn delete_document<D: Document>(&mut self, id: &str) -> Result<()> {
        let tenant = self.tenant().clone();
        match rows::delete(self.tx(), &tenant, D::KIND, id).await? {
            true => Ok(()),
            false => Err(Error::NotFound { what: D::WHAT }),
        }
    }

    /// How many documents of this kind the parent holds.
    pub(crate) async fn count_documents<D: Document>(&mut self, parent: &str) -> Result<i64> {
        self.count_documents_since::<D>(parent, Millis::MIN).await
    }

    /// How many documents of this kind the parent holds that were created at `since` or after.
    pub(crate) async fn count_documents_since<D: Document>(
        &mut self,
        parent: &str,
        since: Millis,
    ) -> Result<i64> {
        let tenant = self.tenant().clone();
        Ok(rows::count_of_parent(self.tx(), &tenant, D::KIND, parent, since).await?)
    }
}

/// Checks `If-Match` against a document's version (409 naming the current one).
pub fn expect_version<D: Document>(doc: &D, expected: super::Version) -> Result<()> {
    match doc.version() == expected.0 {
        true => Ok(()),
        false => Err(Error::VersionConflict {
            what: D::WHAT,
            current: doc.version(),
        }),
    }
}
