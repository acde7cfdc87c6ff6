//! RFC-0018 agent identities: an agent proves it holds an Ed25519 key by signing a challenge,
//! and is then known by that key's `did:key`; signatures over canonical JSON (the same
//! canonical form as the audit trail's, RFC 8785-compatible) verify against it; a new key
//! replaces it only by a rotation signed with the old key.
//!
//! Registration is two steps: `POST /agents/{id}/identity` with the public key answers a
//! single-use challenge (32 random bytes, base64url) valid for [`CHALLENGE_TTL_MS`]; the
//! agent signs it (the challenge text as sent, or its decoded bytes) and posts the signature
//! to `…/identity/challenge`. Only the agent itself (or an admin key) registers or rotates
//! its key. A wrong signature is 403, an agent with no key 404, a second registration 409.

use rand::{rngs::OsRng, RngCore};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{
    documents::{identified_by, Columns, Document},
    Caller, Identities,
};
use crate::{
    canonical,
    error::{Error, Result},
    signing::{self, PublicKey},
    time::{now_ms, parse_instant, protocol_instant, DayBound, Millis},
};

/// How long a registration challenge may be answered.
pub const CHALLENGE_TTL_MS: Millis = 5 * 60 * 1000;
const ALGORITHM: &str = "Ed25519";

/// An agent's identity as stored: the registered key (if any) and a pending challenge.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdentityRecord {
    pub agent_id: String,
    pub version: i64,
    pub public_key: Option<String>,
    pub did: Option<String>,
    pub registered_at: Option<String>,
    pub key_expires_at: Option<String>,
    pub previous_keys: Vec<String>,
    pub metadata: Value,
    pub pending: Option<PendingChallenge>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingChallenge {
    pub public_key: String,
    pub challenge: String,
    pub expires_at: Millis,
    pub key_expires_at: Option<String>,
}

impl Document for IdentityRecord {
    const KIND: &'static str = "agent_identity";
    const WHAT: &'static str = "agent identity";

    identified_by!(agent_id, version);

    fn columns(&self) -> Columns {
        Columns {
            parent: self.agent_id.clone(),
            status: if self.public_key.is_some() {
                "registered"
            } else {
                "pending"
            }
            .into(),
            ..Columns::default()
        }
    }
}

/// An identity as the face shows it (the SDK's `AgentIdentity`).
#[derive(Debug, Clone, Serialize)]
pub struct Identity {
    pub agent_id: String,
    pub public_key: String,
    pub did: String,
    pub key_algorithm: &'static str,
    pub registered_at: Option<String>,
    pub key_expires_at: Option<String>,
    pub previous_keys: Vec<String>,
    pub metadata: Value,
}

impl IdentityRecord {
    /// The registered identity, or 404 for an agent that has none (yet).
    fn registered(self) -> Result<(Identity, PublicKey)> {
        let (Some(public_key), Some(did)) = (self.public_key, self.did) else {
            return Err(Error::NotFound {
                what: "agent identity",
            });
        };
        let key = signing::parse_public_key(&public_key).ok_or_else(|| {
            Error::Internal(anyhow::anyhow!("a stored identity key does not parse"))
        })?;
        let identity = Identity {
            agent_id: self.agent_id,
            public_key,
            did,
            key_algorithm: ALGORITHM,
            registered_at: self.registered_at,
            key_expires_at: self.key_expires_at,
            previous_keys: self.previous_keys,
            metadata: self.metadata,
        };
        Ok((identity, key))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterIdentity {
    pub public_key: String,
    #[serde(default)]
    pub key_algorithm: Option<String>,
    #[serde(default)]
    pub key_expires_at: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChallengeAnswer {
    pub challenge: String,
    pub signature: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedPayload {
    pub payload: Value,
    pub signature: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRotation {
    #[serde(default)]
    pub action: Option<String>,
    pub new_public_key: String,
    pub old_public_key: String,
    pub signature: String,
}

impl KeyRotation {
    /// What the old key signs: the canonical JSON of the rotation without its signature.
    pub fn signed_text(&self) -> String {
        canonical::to_canonical(&json!({
            "action": "rotate",
            "new_public_key": self.new_public_key,
            "old_public_key": self.old_public_key,
        }))
    }
}

/// A registration challenge to sign.
#[derive(Debug, Clone, Serialize)]
pub struct Challenge {
    pub challenge: String,
    pub challenge_expires_at: String,
}

/// The outcome of a signature check.
#[derive(Debug, Clone, Serialize)]
pub struct SignatureCheck {
    pub valid: bool,
    pub agent_id: String,
    pub did: String,
    pub verified_at: String,
}

fn key_of(text: &str, field: &str) -> Result<PublicKey> {
    signing::parse_public_key(text).ok_or_else(|| {
        Error::invalid(
            &[field],
            "an Ed25519 public key: `ed25519:<base64url of 32 bytes>`, the base64 of the 32 \
             bytes or of their DER SubjectPublicKeyInfo, or a did:key",
        )
    })
}

fn signature_of(text: &str) -> Result<Vec<u8>> {
    signing::decode_base64(text)
        .filter(|bytes| bytes.len() == 64)
        .ok_or_else(|| Error::invalid(&["signature"], "a base64url Ed25519 signature (64 bytes)"))
}

fn refused(message: &str) -> Error {
    Error::Forbidden(message.to_string())
}

/// The constant-time comparison of a presented challenge (no timing hint on how much matched).
fn same_challenge(presented: &str, issued: &str) -> bool {
    presented.len() == issued.len()
        && presented
            .bytes()
            .zip(issued.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

impl Identities {
    /// Only the agent itself, or an admin key, manages its key.
    fn check_owner(caller: &Caller, agent_id: &str) -> Result<()> {
        match caller.admin || caller.agent_id == agent_id {
            true => Ok(()),
            false => Err(refused(
                "only the agent itself (or an admin key) manages its identity",
            )),
        }
    }

    async fn stored(&self, caller: &Caller, agent_id: &str) -> Result<Option<IdentityRecord>> {
        match self.document::<IdentityRecord>(caller, agent_id).await {
            Err(Error::NotFound { .. }) => Ok(None),
            other => other.map(Some),
        }
    }

    /// Step 1: a challenge for the key the agent means to register.
    pub async fn register(
        &self,
        caller: &Caller,
        agent_id: &str,
        input: RegisterIdentity,
    ) -> Result<Challenge> {
        Self::check_owner(caller, agent_id)?;
        super::intents::check_agent_id(agent_id)?;
        if let Some(algorithm) = input.key_algorithm.as_deref() {
            if !algorithm.eq_ignore_ascii_case(ALGORITHM) {
                return Err(Error::invalid(
                    &["key_algorithm"],
                    "only Ed25519 is supported",
                ));
            }
        }
        key_of(&input.public_key, "public_key")?;
        if let Some(at) = input.key_expires_at.as_deref() {
            parse_instant(at, DayBound::End)
                .ok_or_else(|| Error::invalid(&["key_expires_at"], "an RFC 3339 time"))?;
        }
        let mut bytes = [0u8; 32];
        OsRng.fill_bytes(&mut bytes);
        let now = now_ms();
        let pending = PendingChallenge {
            public_key: input.public_key,
            challenge: signing::base64url(&bytes),
            expires_at: now + CHALLENGE_TTL_MS,
            key_expires_at: input.key_expires_at,
        };
        let challenge = Challenge {
            challenge: pending.challenge.clone(),
            challenge_expires_at: protocol_instant(pending.expires_at),
        };
        let mut change = self.change(caller).await?;
        let existing = change
            .find_document::<IdentityRecord>(self.store(), agent_id)
            .await?;
        match existing {
            Some(record) if record.public_key.is_some() => {
                return Err(Error::Conflict(format!(
                    "agent '{agent_id}' already has an identity key; rotate it with a request \
                     signed by that key"
                )))
            }
            Some(mut record) => {
                let expected = record.version;
                record.pending = Some(pending);
                record.version += 1;
                change.save_document(&record, expected, now).await?;
            }
            None => {
                let record = IdentityRecord {
                    agent_id: agent_id.to_string(),
                    version: 1,
                    public_key: None,
                    did: None,
                    registered_at: None,
                    key_expires_at: None,
                    previous_keys: Vec::new(),
                    metadata: json!({}),
                    pending: Some(pending),
                };
                change
                    .insert_document(&record, now, "a challenge for this agent is being issued")
                    .await?;
            }
        }
        change
            .audit(
                "agent.identity.challenge_issued",
                agent_id,
                json!({ "expiresAt": challenge.challenge_expires_at }),
            )
            .await?;
        change.commit().await?;
        Ok(challenge)
    }

    /// Step 2: the signed challenge registers the key (single use; 403 for a wrong, used
    /// or expired challenge or signature).
    pub async fn complete(
        &self,
        caller: &Caller,
        agent_id: &str,
        answer: ChallengeAnswer,
    ) -> Result<Identity> {
        Self::check_owner(caller, agent_id)?;
        let signature = signature_of(&answer.signature)?;
        let now = now_ms();
        let mut change = self.change(caller).await?;
        let mut record = change
            .find_document::<IdentityRecord>(self.store(), agent_id)
            .await?
            .ok_or_else(|| refused("no challenge was issued to this agent"))?;
        if record.public_key.is_some() {
            return Err(Error::Conflict(format!(
                "agent '{agent_id}' already has an identity key"
            )));
        }
        let pending = record
            .pending
            .clone()
            .filter(|pending| same_challenge(&answer.challenge, &pending.challenge))
            .ok_or_else(|| refused("this challenge was not issued to this agent, or was used"))?;
        if pending.expires_at < now {
            return Err(refused("this challenge has expired: request a new one"));
        }
        let key = key_of(&pending.public_key, "public_key")?;
        let signed = [
            pending.challenge.as_bytes().to_vec(),
            signing::decode_base64(&pending.challenge).unwrap_or_default(),
        ];
        if !signed
            .iter()
            .any(|message| signing::verify(&key, message, &signature))
        {
            return Err(refused(
                "the signature does not verify with the key being registered",
            ));
        }
        let expected = record.version;
        record.version += 1;
        record.public_key = Some(pending.public_key);
        record.did = Some(signing::did_key(&key));
        record.registered_at = Some(protocol_instant(now));
        record.key_expires_at = pending.key_expires_at;
        record.pending = None;
        change.save_document(&record, expected, now).await?;
        change
            .audit(
                "agent.identity.registered",
                agent_id,
                json!({ "did": record.did, "publicKey": record.public_key }),
            )
            .await?;
        change.commit().await?;
        record.registered().map(|(identity, _)| identity)
    }

    /// The agent's registered identity, or 404.
    pub async fn get(&self, caller: &Caller, agent_id: &str) -> Result<Identity> {
        let record = self
            .stored(caller, agent_id)
            .await?
            .ok_or(Error::NotFound {
                what: "agent identity",
            })?;
        record.registered().map(|(identity, _)| identity)
    }

    /// Whether `signature` is the agent's current key's over the canonical JSON of `payload`
    /// (a key past its `key_expires_at` verifies nothing).
    pub async fn verify(
        &self,
        caller: &Caller,
        agent_id: &str,
        input: SignedPayload,
    ) -> Result<SignatureCheck> {
        let signature = signature_of(&input.signature)?;
        let record = self
            .stored(caller, agent_id)
            .await?
            .ok_or(Error::NotFound {
                what: "agent identity",
            })?;
        let (identity, key) = record.registered()?;
        let now = now_ms();
        let expired = identity
            .key_expires_at
            .as_deref()
            .and_then(|at| parse_instant(at, DayBound::End))
            .is_some_and(|at| at < now);
        let message = canonical::to_canonical(&input.payload);
        Ok(SignatureCheck {
            valid: !expired && signing::verify(&key, message.as_bytes(), &signature),
            agent_id: identity.agent_id,
            did: identity.did,
            verified_at: protocol_instant(now),
        })
    }

    /// Replaces the key, on a rotation signed by the current one.
    pub async fn rotate(
        &self,
        caller: &Caller,
        agent_id: &str,
        rotation: KeyRotation,
    ) -> Result<Identity> {
        Self::check_owner(caller, agent_id)?;
        if rotation
            .action
            .as_deref()
            .is_some_and(|action| action != "rotate")
        {
            return Err(Error::invalid(&["action"], "must be `rotate`"));
        }
        let signature = signature_of(&rotation.signature)?;
        let new_key = key_of(&rotation.new_public_key, "new_public_key")?;
        let old_key = key_of(&rotation.old_public_key, "old_public_key")?;
        if new_key == old_key {
            return Err(Error::invalid(
                &["new_public_key"],
                "must differ from the current key",
            ));
        }
        let now = now_ms();
        let mut change = self.change(caller).await?;
        let mut record = change
            .document::<IdentityRecord>(self.store(), agent_id)
            .await?;
        let (_, current) = record.clone().registered()?;
        if current != old_key {
            return Err(refused("old_public_key is not the agent's current key"));
        }
        if !signing::verify(&current, rotation.signed_text().as_bytes(), &signature) {
            return Err(refused("the rotation is not signed by the current key"));
        }
        let expected = record.version;
        record.version += 1;
        if let Some(old) = record.public_key.replace(rotation.new_public_key) {
            record.previous_keys.insert(0, old);
        }
        record.did = Some(signing::did_key(&new_key));
        record.registered_at = Some(protocol_instant(now));
        record.key_expires_at = None;
        change.save_document(&record, expected, now).await?;
        change
            .audit(
                "agent.identity.rotated",
                agent_id,
                json!({ "did": record.did, "previousKey": record.previous_keys.first() }),
            )
            .await?;
        change.commit().await?;
        record.registered().map(|(identity, _)| identity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rotation_signs_the_canonical_json_without_its_signature() {
        let rotation = KeyRotation {
            action: Some("rotate".into()),
            new_public_key: "ed25519:new".into(),
            old_public_key: "ed25519:old".into(),
            signature: "ignored".into(),
        };
        assert_eq!(
            rotation.signed_text(),
            r#"{"action":"rotate","new_public_key":"ed25519:new","old_public_key":"ed25519:old"}"#
        );
    }

    #[test]
    fn challenges_compare_whole() {
        assert!(same_challenge("abc", "abc"));
        assert!(!same_challenge("abd", "abc"));
        assert!(!same_challenge("ab", "abc"));
    }
}
