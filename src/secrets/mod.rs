//! Secrets at rest: values the service must read back in clear (webhook signing secrets; later
//! OpenIntent vault credentials) are stored sealed with XChaCha20-Poly1305 under a server key,
//! so a copy of the database (a backup, a dump, a read-only SQL injection) does not reveal them.
//!
//! A [`SecretBox`] holds the configured keys ([`keys`]): the first seals, every one opens, so a
//! new key can be put in front while values sealed under older ones are still read, until
//! `intendedops secrets rotate` has re-sealed them. Each [`Sealed`] value names its key. The
//! caller passes a *context* naming what the value belongs to (authenticated, not stored): a
//! sealed value copied onto another row does not open there. Nonces are 24 random bytes, which
//! XChaCha20 makes safe to draw at random for any number of values under one key.
//!
//! Neither keys nor opened values appear in `Debug` output or logs.

pub mod keys;

use base64::{engine::general_purpose::STANDARD as BASE64, Engine};
use chacha20poly1305::{
    aead::{Aead, KeyInit, Payload},
    XChaCha20Poly1305, XNonce,
};
use rand::{rngs::OsRng, RngCore};
use zeroize::Zeroizing;

pub use keys::{KeySource, KeyText};

/// Length of a key, in bytes.
pub const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 24;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("no secret key is configured")]
    NoKey,
    #[error(
        "a stored secret is sealed under key '{0}', which the configured secret keys do not \
         hold (keep the older key after the new one until `intendedops secrets rotate` has run)"
    )]
    UnknownKey(String),
    #[error(
        "a stored secret does not open with key '{0}': that id names different key material \
         than the secret was sealed with, or the stored value was altered"
    )]
    DoesNotOpen(String),
    #[error("a stored sealed secret is malformed")]
    Malformed,
}

/// A sealed value: what is stored (the nonce and ciphertext as one text, see [`Sealed::text`])
/// and the id of the key that opens it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    pub key_id: String,
    pub nonce: [u8; NONCE_LEN],
    pub ciphertext: Vec<u8>,
}

impl Sealed {
    /// The stored form: base64 of the nonce followed by the ciphertext.
    pub fn text(&self) -> String {
        let mut bytes = Vec::with_capacity(NONCE_LEN + self.ciphertext.len());
        bytes.extend_from_slice(&self.nonce);
        bytes.extend_from_slice(&self.ciphertext);
        BASE64.encode(bytes)
    }

    /// Reads the stored form back.
    pub fn from_text(key_id: &str, text: &str) -> Result<Sealed, SecretError> {
        let bytes = BASE64.decode(text).map_err(|_| SecretError::Malformed)?;
        if bytes.len() < NONCE_LEN {
            return Err(SecretError::Malformed);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        Ok(Sealed {
            key_id: key_id.to_string(),
            nonce: nonce.try_into().expect("split at the nonce length"),
            ciphertext: ciphertext.to_vec(),
        })
    }
}

/// An opened value, wiped from memory when dropped.
pub struct Opened(Zeroizing<Vec<u8>>);

impl Opened {
    pub fn new(bytes: Vec<u8>) -> Opened {
        Opened(Zeroizing::new(bytes))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The value as text (what was sealed was text).
    pub fn into_text(mut self) -> Result<Zeroizing<String>, SecretError> {
        let bytes = std::mem::take(&mut *self.0);
        String::from_utf8(bytes).map(Zeroizing::new).map_err(|err| {
            drop(Zeroizing::new(err.into_bytes()));
            SecretError::Malformed
        })
    }
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Opened(<redacted>)")
    }
}

struct Key {
    id: String,
    cipher: XChaCha20Poly1305,
}

/// The configured keys: the first seals, all open.
pub struct SecretBox {
    keys: Vec<Key>,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|key| key.id.as_str()).collect();
        f.debug_struct("SecretBox").field("key_ids", &ids).finish()
    }
}

impl SecretBox {
    /// A box over `keys` (id and key material), the first sealing; none for a command that
    /// never reads or writes secrets (sealing and opening then fail).
    pub fn new(keys: Vec<(String, Zeroizing<[u8; KEY_LEN]>)>) -> SecretBox {
        let keys = keys
            .into_iter()
            .map(|(id, material)| Key {
                id,
                cipher: XChaCha20Poly1305::new(material.as_ref().into()),
            })
            .collect();
        SecretBox { keys }
    }

    /// The id of the key new values are sealed under.
    pub fn current_key_id(&self) -> Option<&str> {
        self.keys.first().map(|key| key.id.as_str())
    }

    /// Whether a key with this id is configured.
    pub fn holds(&self, key_id: &str) -> bool {
        self.key(key_id).is_some()
    }

    fn key(&self, key_id: &str) -> Option<&Key> {
        self.keys.iter().find(|key| key.id == key_id)
    }

    /// Seals `plaintext` under the current key, bound to `context`.
    pub fn seal(&self, context: &str, plaintext: &[u8]) -> Result<Sealed, SecretError> {
        let key = self.keys.first().ok_or(SecretError::NoKey)?;
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);
        let payload = Payload {
            msg: plaintext,
            aad: context.as_bytes(),
        };
        let ciphertext = key
            .cipher
            .encrypt(XNonce::from_slice(&nonce), payload)
            .expect("XChaCha20-Poly1305 seals any value that fits in memory");
        Ok(Sealed {
            key_id: key.id.clone(),
            nonce,
            ciphertext,
        })
    }

    /// Opens a value sealed under `context`.
    pub fn open(&self, context: &str, sealed: &Sealed) -> Result<Opened, SecretError> {
        let key = self
            .key(&sealed.key_id)
            .ok_or_else(|| SecretError::UnknownKey(sealed.key_id.clone()))?;
        let payload = Payload {
            msg: &sealed.ciphertext,
            aad: context.as_bytes(),
        };
        key.cipher
            .decrypt(XNonce::from_slice(&sealed.nonce), payload)
            .map(Opened::new)
            .map_err(|_| SecretError::DoesNotOpen(sealed.key_id.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str, byte: u8) -> (String, Zeroizing<[u8; KEY_LEN]>) {
        (id.to_string(), Zeroizing::new([byte; KEY_LEN]))
    }

    #[test]
    fn sealed_values_open_in_their_context_only() {
        let secrets = SecretBox::new(vec![key("k1", 1)]);
        let sealed = secrets.seal("endpoint/a", b"whsec_abc").unwrap();
        assert_eq!(sealed.key_id, "k1");
        assert!(!sealed.text().contains("whsec_abc"));
        let stored = Sealed::from_text("k1", &sealed.text()).unwrap();
        assert_eq!(stored, sealed);
        let opened = secrets.open("endpoint/a", &stored).unwrap();
        assert_eq!(opened.into_text().unwrap().as_str(), "whsec_abc");
        // Copied onto another row, it does not open.
        assert_eq!(
            secrets.open("endpoint/b", &stored).unwrap_err(),
            SecretError::DoesNotOpen("k1".into())
        );
        // Two seals of one value differ (fresh nonces).
        assert_ne!(secrets.seal("endpoint/a", b"whsec_abc").unwrap(), sealed);
    }

    #[test]
    fn the_first_key_seals_and_every_key_opens() {
        let old = SecretBox::new(vec![key("k1", 1)]);
        let sealed_before = old.seal("c", b"value").unwrap();
        let rotated = SecretBox::new(vec![key("k2", 2), key("k1", 1)]);
        assert_eq!(rotated.current_key_id(), Some("k2"));
        assert_eq!(rotated.seal("c", b"value").unwrap().key_id, "k2");
        assert_eq!(
            rotated.open("c", &sealed_before).unwrap().as_bytes(),
            b"value"
        );
        let without_old = SecretBox::new(vec![key("k2", 2)]);
        assert_eq!(
            without_old.open("c", &sealed_before).unwrap_err(),
            SecretError::UnknownKey("k1".into())
        );
        // The right id with other key material.
        let impostor = SecretBox::new(vec![key("k1", 9)]);
        assert_eq!(
            impostor.open("c", &sealed_before).unwrap_err(),
            SecretError::DoesNotOpen("k1".into())
        );
        let empty = SecretBox::new(Vec::new());
        assert_eq!(empty.seal("c", b"value").unwrap_err(), SecretError::NoKey);
    }

    #[test]
    fn tampered_or_malformed_values_do_not_open() {
        let secrets = SecretBox::new(vec![key("k1", 1)]);
        let mut sealed = secrets.seal("c", b"value").unwrap();
        sealed.ciphertext[0] ^= 1;
        assert!(secrets.open("c", &sealed).is_err());
        assert_eq!(
            Sealed::from_text("k1", "not base64!").unwrap_err(),
            SecretError::Malformed
        );
        assert_eq!(
            Sealed::from_text("k1", "c2hvcnQ=").unwrap_err(),
            SecretError::Malformed
        );
    }

    #[test]
    fn debug_output_shows_no_secret() {
        let secrets = SecretBox::new(vec![key("k1", 7)]);
        let shown = format!("{secrets:?}");
        assert!(shown.contains("k1") && !shown.contains("7"), "{shown}");
        let opened = secrets
            .open("c", &secrets.seal("c", b"whsec_x").unwrap())
            .unwrap();
        assert!(!format!("{opened:?}").contains("whsec_x"));
    }
}
