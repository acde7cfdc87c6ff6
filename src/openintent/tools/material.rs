//! A credential's secret material: the named secret values (`api_key`, `password`, …) that
//! only the tool proxy reads. Stored sealed under the server's key and bound to the
//! credential ([`crate::secrets`]); opened only to make a call; wiped from memory after;
//! never in `Debug` output. What comes back from a call has every one of these values
//! redacted ([`Material::redact`]), whatever the upstream echoed.

use std::collections::BTreeMap;

use anyhow::anyhow;
use base64::{engine::general_purpose::STANDARD as BASE64, Engine};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::{
    error::{Error, Result},
    ids::TenantId,
    secrets::{Sealed, SecretBox},
};

/// The fields that are secret wherever a credential names them: sent in `metadata` (as the
/// reference server's clients do), they are moved into the sealed material.
pub const SECRET_FIELDS: [&str; 9] = [
    "api_key",
    "token",
    "access_token",
    "refresh_token",
    "client_id",
    "client_secret",
    "username",
    "password",
    "signing_secret",
];
/// What replaces a secret value in anything answered or recorded.
pub const REDACTED: &str = "[REDACTED]";
/// Values shorter than this are not searched for in replies (they would match everywhere).
const MIN_REDACTED_LEN: usize = 4;
const MAX_SECRET_LEN: usize = 8_192;

/// The sealed form, as the credential document keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SealedMaterial {
    pub key_id: String,
    pub text: String,
}

/// Opened material: secret values by field name.
#[derive(Default)]
pub struct Material(BTreeMap<String, Zeroizing<String>>);

impl std::fmt::Debug for Material {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.keys()).finish()
    }
}

/// What a sealed value is bound to: copied onto another credential, it does not open.
fn context(tenant: &TenantId, credential_id: &str) -> String {
    format!("openintent-credential/{tenant}/{credential_id}")
}

impl Material {
    /// The secret values of a new credential: the `secret` object's, and the secret fields
    /// found in `metadata` (taken out of it). Every value must be a non-empty string.
    pub fn take(
        metadata: &mut Map<String, Value>,
        secret: Option<Map<String, Value>>,
    ) -> Result<Self> {
        let mut values = BTreeMap::new();
        let lifted = SECRET_FIELDS.iter().filter_map(|field| {
            metadata
                .remove(*field)
                .map(|value| (field.to_string(), value, "metadata"))
        });
        let given = secret
            .into_iter()
            .flatten()
            .map(|(field, value)| (field, value, "secret"));
        for (field, value, from) in lifted.chain(given) {
            match value {
                Value::String(text) if !text.is_empty() && text.len() <= MAX_SECRET_LEN => {
                    values.insert(field, Zeroizing::new(text));
                }
                _ => {
                    return Err(Error::invalid(
                        &[&format!("{from}.{field}")],
                        format!("must be a non-empty string of at most {MAX_SECRET_LEN} bytes"),
                    ))
                }
            }
        }
        Ok(Material(values))
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.get(field).map(|value| value.as_str())
    }

    pub fn has(&self, field: &str) -> bool {
        self.0.contains_key(field)
    }

    pub fn fields(&self) -> Vec<String> {
        self.0.keys().cloned().collect()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Replaces (or adds) one value: a refreshed OAuth2 token.
    pub fn set(&mut self, field: &str, value: String) {
        self.0.insert(field.to_string(), Zeroizing::new(value));
    }

    pub fn seal(
        &self,
        secrets: &SecretBox,
        tenant: &TenantId,
        credential_id: &str,
    ) -> Result<SealedMaterial> {
        let plain: BTreeMap<&str, &str> = self
            .0
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let json =
            Zeroizing::new(serde_json::to_vec(&plain).map_err(|err| Error::Internal(err.into()))?);
        let sealed = secrets
            .seal(&context(tenant, credential_id), &json)
            .map_err(|err| Error::Internal(anyhow!(err)))?;
        Ok(SealedMaterial {
            text: sealed.text(),
            key_id: sealed.key_id,
        })
    }

    pub fn open(
        secrets: &SecretBox,
        tenant: &TenantId,
        credential_id: &str,
        sealed: &SealedMaterial,
    ) -> Result<Self> {
        let opened = Sealed::from_text(&sealed.key_id, &sealed.text)
            .and_then(|sealed| secrets.open(&context(tenant, credential_id), &sealed))
            .map_err(|err| {
                tracing::warn!(tenant = %tenant, credential_id, error = %err, "cannot open a credential's secret material");
                Error::Internal(anyhow!(err).context(format!("credential {credential_id}")))
            })?;
        let values: BTreeMap<String, String> =
            serde_json::from_slice(opened.as_bytes()).map_err(|_| {
                Error::Internal(anyhow!(
                    "credential {credential_id}: sealed material is malformed"
                ))
            })?;
        Ok(Material(
            values
                .into_iter()
                .map(|(k, v)| (k, Zeroizing::new(v)))
                .collect(),
        ))
    }

    /// The forms a value can take on the wire: as is, and within HTTP Basic credentials.
    fn needles(&self) -> Vec<Zeroizing<String>> {
        let mut needles: Vec<Zeroizing<String>> = self
            .0
            .values()
            .filter(|value| value.len() >= MIN_REDACTED_LEN)
            .cloned()
            .collect();
        if let (Some(user), Some(password)) = (self.get("username"), self.get("password")) {
            needles.push(Zeroizing::new(BASE64.encode(format!("{user}:{password}"))));
        }
        // Longest first, so a value containing another is redacted whole.
        needles.sort_by_key(|needle| std::cmp::Reverse(needle.len()));
        needles
    }

    /// `text` with every secret value replaced by [`REDACTED`].
    pub fn redact(&self, text: &str) -> String {
        let mut redacted = text.to_string();
        for needle in self.needles() {
            if redacted.contains(needle.as_str()) {
                redacted = redacted.replace(needle.as_str(), REDACTED);
            }
        }
        redacted
    }
}

/// Parameters as recorded: values of fields whose names look secret are redacted.
pub fn redacted_parameters(parameters: &Map<String, Value>) -> Map<String, Value> {
    fn looks_secret(name: &str) -> bool {
        let name = name.to_ascii_lowercase();
        [
            "secret",
            "password",
            "token",
            "api_key",
            "apikey",
            "authorization",
            "credential",
        ]
        .iter()
        .any(|word| name.contains(word))
    }
    fn walk(value: &Value, depth: usize) -> Value {
        match value {
            Value::Object(fields) if depth < 10 => Value::Object(
                fields
                    .iter()
                    .map(|(name, value)| match looks_secret(name) {
                        true => (name.clone(), Value::from(REDACTED)),
                        false => (name.clone(), walk(value, depth + 1)),
                    })
                    .collect(),
            ),
            Value::Array(items) if depth < 10 => {
                Value::Array(items.iter().map(|item| walk(item, depth + 1)).collect())
            }
            other => other.clone(),
        }
    }
    match walk(&Value::Object(parameters.clone()), 0) {
        Value::Object(fields) => fields,
        _ => unreachable!("an object walks to an object"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn secrets() -> SecretBox {
        SecretBox::new(vec![(
            "k1".into(),
            Zeroizing::new([7u8; crate::secrets::KEY_LEN]),
        )])
    }

    #[test]
    fn secret_fields_leave_the_metadata() {
        let mut metadata = json!({"base_url": "https://api.example.com", "api_key": "sk-live-1"})
            .as_object()
            .unwrap()
            .clone();
        let secret = json!({"password": "hunter22"}).as_object().cloned();
        let material = Material::take(&mut metadata, secret).unwrap();
        assert_eq!(metadata.len(), 1, "{metadata:?}");
        assert_eq!(material.fields(), ["api_key", "password"]);
        assert!(!format!("{material:?}").contains("sk-live-1"));
        let bad = json!({"api_key": 5}).as_object().cloned();
        assert!(Material::take(&mut Map::new(), bad).is_err());
    }

    #[test]
    fn material_opens_for_its_credential_only() {
        let secrets = secrets();
        let tenant = TenantId::parse("acme").unwrap();
        let mut material = Material::default();
        material.set("token", "tok-123456".into());
        let sealed = material.seal(&secrets, &tenant, "cred_1").unwrap();
        assert!(!sealed.text.contains("tok-123456"));
        let opened = Material::open(&secrets, &tenant, "cred_1", &sealed).unwrap();
        assert_eq!(opened.get("token"), Some("tok-123456"));
        assert!(Material::open(&secrets, &tenant, "cred_2", &sealed).is_err());
    }

    #[test]
    fn every_form_of_a_secret_is_redacted() {
        let mut material = Material::default();
        material.set("username", "svc".into());
        material.set("password", "pa55word".into());
        material.set("api_key", "sk-abcdef".into());
        let basic = BASE64.encode("svc:pa55word");
        let echoed = format!("key sk-abcdef pw pa55word auth Basic {basic} user svc");
        let redacted = material.redact(&echoed);
        assert_eq!(
            redacted,
            "key [REDACTED] pw [REDACTED] auth Basic [REDACTED] user svc"
        );
    }

    #[test]
    fn secret_looking_parameters_are_redacted() {
        let params = json!({"q": "x", "nested": {"api_key": "k", "ok": 1}, "Password": "p"});
        let redacted = redacted_parameters(params.as_object().unwrap());
        assert_eq!(
            Value::Object(redacted),
            json!({"q": "x", "nested": {"api_key": REDACTED, "ok": 1}, "Password": REDACTED})
        );
    }
}
