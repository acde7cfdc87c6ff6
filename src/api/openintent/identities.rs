//! RFC-0018 routes: an agent's Ed25519 identity, its registration challenge, signature checks
//! and key rotation.

use poem::Request;
use poem_openapi::{param::Path, Object, OpenApi};

use super::{
    created_document, document, parse, reader, writer, Body, DocAnswer, DocCreated, OiResult, OiTag,
};
use crate::{
    api::{
        schema::{examples, JsonValue},
        security::TenantKey,
        types::{Documented, JsonObject},
    },
    openintent::{
        identities::{ChallengeAnswer, KeyRotation, RegisterIdentity, SignedPayload},
        Identities,
    },
};

#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct RegisterIdentityBody {
    /// `ed25519:<base64url of the 32-byte key>` (also: the base64 of the key or of its DER
    /// SubjectPublicKeyInfo, or a did:key).
    public_key: String,
    /// `Ed25519`, the only algorithm.
    key_algorithm: Option<String>,
    /// When the key stops verifying signatures (RFC 3339).
    key_expires_at: Option<String>,
}

#[derive(Debug, Object)]
#[oai(example)]
pub struct ChallengeDoc {
    /// 32 random bytes, base64url: sign it (the text as sent, or its decoded bytes).
    challenge: String,
    challenge_expires_at: String,
}

#[derive(Debug, Object)]
#[oai(example)]
pub struct ChallengeAnswerBody {
    challenge: String,
    /// The Ed25519 signature, base64url.
    signature: String,
}

#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct IdentityDoc {
    agent_id: String,
    public_key: String,
    /// `did:key:z6Mk…`, derived from the key.
    did: String,
    key_algorithm: String,
    registered_at: Option<String>,
    key_expires_at: Option<String>,
    /// Keys rotated away from, newest first.
    previous_keys: Vec<String>,
    metadata: JsonObject,
}

#[derive(Debug, Object)]
#[oai(example)]
pub struct VerifyBody {
    /// Signed as its canonical JSON (sorted keys, no whitespace, RFC 8785).
    payload: Documented<JsonValue>,
    /// The Ed25519 signature, base64url.
    signature: String,
}

#[derive(Debug, Object)]
#[oai(example)]
pub struct VerificationDoc {
    valid: bool,
    agent_id: String,
    did: String,
    verified_at: String,
}

#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct RotateBody {
    /// `rotate`.
    action: Option<String>,
    new_public_key: String,
    old_public_key: String,
    /// The current (old) key's signature over the canonical JSON of
    /// `{action: "rotate", new_public_key, old_public_key}`.
    signature: String,
}

examples! {
    RegisterIdentityBody => {
        "public_key": "ed25519:11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
        "key_algorithm": "Ed25519"
    }
    ChallengeDoc => {
        "challenge": "q2x0K0bU8XfQ1d7oQ2sR9m3VnJ4yZp6LhTqW5eCkA1E",
        "challenge_expires_at": "2026-02-07T10:05:00.000+00:00"
    }
    ChallengeAnswerBody => {
        "challenge": "q2x0K0bU8XfQ1d7oQ2sR9m3VnJ4yZp6LhTqW5eCkA1E",
        "signature": "5VZDAMNgrHKQhuLMgG6CioSHfx645dl02HPgZSJJAVVfuIIVkKM7rMYeOXAc-bRr0lv18FlbviRlUUFDjnoQCw"
    }
    IdentityDoc => {
        "agent_id": "research-agent",
        "public_key": "ed25519:11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
        "did": "did:key:z6MktwupdmLXVVqTzCw4i46r4uGyosGXRnR3XjN4Zq7oMMsw",
        "key_algorithm": "Ed25519",
        "registered_at": "2026-02-07T10:01:00.000+00:00",
        "previous_keys": [],
        "metadata": {}
    }
    VerifyBody => {
        "payload": {"action": "publish", "intent_id": "oin_01HN4X7KQZ8Y1A2B3C4D5E6F7G"},
        "signature": "5VZDAMNgrHKQhuLMgG6CioSHfx645dl02HPgZSJJAVVfuIIVkKM7rMYeOXAc-bRr0lv18FlbviRlUUFDjnoQCw"
    }
    VerificationDoc => {
        "valid": true,
        "agent_id": "research-agent",
        "did": "did:key:z6MktwupdmLXVVqTzCw4i46r4uGyosGXRnR3XjN4Zq7oMMsw",
        "verified_at": "2026-02-07T10:02:00.000+00:00"
    }
    RotateBody => {
        "action": "rotate",
        "new_public_key": "ed25519:PUAXw-hDiVqStwqnTRt-vJyYLM8uxJaMwM1V8Sr0Zgw",
        "old_public_key": "ed25519:11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
        "signature": "kqAJqfDUyrhyDoILX2QlQKKye1QWUD-PtnYiI-vbadoIWsHkPhWZbkWPNhPQ8R2MOHsurrQwKu6wDSkWErsMAA"
    }
}

pub struct IdentitiesOi(pub Identities);

#[OpenApi(tag = "OiTag::Lifecycle")]
impl IdentitiesOi {
    /// Step 1 of registering the agent's Ed25519 key: a single-use challenge to sign, valid
    /// five minutes. Only the agent itself (or an admin key); 409 when it has a key already.
    #[oai(
        path = "/agents/:id/identity",
        method = "post",
        operation_id = "oi_register_identity"
    )]
    async fn register(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
        body: Body<RegisterIdentityBody>,
    ) -> OiResult<DocAnswer<ChallengeDoc>> {
        let caller = writer(&key, req)?;
        let input = parse::<RegisterIdentity, _>(body)?;
        document(self.0.register(&caller, &id, input).await)
    }

    /// Step 2: the signed challenge registers the key; 403 for a wrong signature or a used
    /// or expired challenge.
    #[oai(
        path = "/agents/:id/identity/challenge",
        method = "post",
        operation_id = "oi_complete_identity_challenge"
    )]
    async fn complete(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
        body: Body<ChallengeAnswerBody>,
    ) -> OiResult<DocCreated<IdentityDoc>> {
        let caller = writer(&key, req)?;
        let input = parse::<ChallengeAnswer, _>(body)?;
        created_document(self.0.complete(&caller, &id, input).await)
    }

    /// The agent's identity; 404 when it has registered no key.
    #[oai(
        path = "/agents/:id/identity",
        method = "get",
        operation_id = "oi_get_identity"
    )]
    async fn get(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
    ) -> OiResult<DocAnswer<IdentityDoc>> {
        let caller = reader(&key, req)?;
        document(self.0.get(&caller, &id).await)
    }

    /// Whether a signature over a payload's canonical JSON is the agent's current key's.
    #[oai(
        path = "/agents/:id/identity/verify",
        method = "post",
        operation_id = "oi_verify_signature"
    )]
    async fn verify(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
        body: Body<VerifyBody>,
    ) -> OiResult<DocAnswer<VerificationDoc>> {
        let caller = reader(&key, req)?;
        let input = parse::<SignedPayload, _>(body)?;
        document(self.0.verify(&caller, &id, input).await)
    }

    /// Replaces the agent's key, on a request signed by the current one (403 otherwise).
    #[oai(
        path = "/agents/:id/identity/rotate",
        method = "post",
        operation_id = "oi_rotate_identity_key"
    )]
    async fn rotate(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
        body: Body<RotateBody>,
    ) -> OiResult<DocAnswer<IdentityDoc>> {
        let caller = writer(&key, req)?;
        let input = parse::<KeyRotation, _>(body)?;
        document(self.0.rotate(&caller, &id, input).await)
    }
}
