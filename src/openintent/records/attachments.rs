//! RFC-0005: files attached to an intent by reference.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{object, require_text, Announced, Record};
use crate::{
    error::Result,
    openintent::{Caller, Records},
};

#[derive(Debug, Deserialize)]
pub struct AttachmentIn {
    pub filename: String,
    /// The async SDK client names the fields `content_type`, `url` and `size_bytes`.
    #[serde(alias = "content_type")]
    pub mime_type: String,
    #[serde(default, alias = "size_bytes")]
    pub size: u64,
    #[serde(alias = "url")]
    pub storage_url: String,
    #[serde(default)]
    pub metadata: Value,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Attachment {
    pub intent_id: String,
    pub filename: String,
    pub mime_type: String,
    /// Bytes.
    pub size: u64,
    pub storage_url: String,
    pub metadata: Value,
    pub uploaded_by: String,
}

impl Records {
    pub async fn add_attachment(
        &self,
        caller: &Caller,
        intent_id: &str,
        input: AttachmentIn,
    ) -> Result<Record<Attachment>> {
        require_text(&input.filename, "filename", 1000)?;
        require_text(&input.mime_type, "mime_type", 200)?;
        require_text(&input.storage_url, "storage_url", 4000)?;
        let fields = Attachment {
            intent_id: intent_id.to_string(),
            filename: input.filename,
            mime_type: input.mime_type,
            size: input.size,
            storage_url: input.storage_url,
            metadata: object(input.metadata, "metadata")?,
            uploaded_by: caller.agent_id.clone(),
        };
        let announced = Announced {
            event: "attachment_added",
            replaces: false,
        };
        self.add_record(caller, fields, announced).await
    }
}

super::intent_records! {
    Attachment => Attachment;
}
