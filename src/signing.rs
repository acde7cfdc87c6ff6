//! Ed25519 (RFC 8032) signatures and `did:key` identifiers: the server's key that signs audit
//! checkpoints, and the agents' keys of OpenIntent RFC-0018.
//!
//! A key is known by its *key id*: the first 8 bytes of SHA-256 over the 32-byte public key, in
//! hex. A `did:key` is `did:key:z` followed by base58btc of the multicodec prefix `0xed 0x01`
//! and the public key (so an Ed25519 one always starts `did:key:z6Mk`).

use base64::{
    engine::general_purpose::{STANDARD as BASE64, URL_SAFE_NO_PAD as BASE64URL},
    Engine,
};
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use rand::{rngs::OsRng, RngCore};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// The multicodec prefix of an Ed25519 public key.
const ED25519_MULTICODEC: [u8; 2] = [0xed, 0x01];

/// A 32-byte Ed25519 public key.
pub type PublicKey = [u8; 32];

/// A private key and its id. Its bytes never appear in `Debug` output.
pub struct Signer {
    key: SigningKey,
    key_id: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
#[error(
    "a signing key is the base64 of 32 random bytes (`intendedops audit signing-key` makes one)"
)]
pub struct MalformedKey;

impl Signer {
    /// The key whose 32-byte seed is `seed`.
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        let key = SigningKey::from_bytes(seed);
        let key_id = key_id(&key.verifying_key().to_bytes());
        Signer { key, key_id }
    }

    /// The key a configured text names: base64 of its 32-byte seed.
    pub fn from_base64(text: &str) -> Result<Self, MalformedKey> {
        let bytes = Zeroizing::new(BASE64.decode(text.trim()).map_err(|_| MalformedKey)?);
        let seed: &[u8; 32] = bytes.as_slice().try_into().map_err(|_| MalformedKey)?;
        Ok(Signer::from_seed(seed))
    }

    /// A fresh random key.
    pub fn generate() -> Self {
        let mut seed = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(seed.as_mut());
        Signer::from_seed(&seed)
    }

    /// The base64 of the seed: what configures this key (shown once, by the CLI).
    pub fn seed_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(BASE64.encode(self.key.to_bytes()))
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    pub fn public_key(&self) -> PublicKey {
        self.key.verifying_key().to_bytes()
    }

    /// The signature of `message`, base64.
    pub fn sign(&self, message: &[u8]) -> String {
        BASE64.encode(self.sign_bytes(message))
    }

    /// The 64-byte signature of `message`.
    pub fn sign_bytes(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }
}

/// The id of a public key: hex of the first 8 bytes of its SHA-256.
pub fn key_id(public_key: &PublicKey) -> String {
    Sha256::digest(public_key)[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether `signature` (64 bytes) is `public_key`'s over `message`. Strict verification: a
/// signature some other encoding would also accept (malleable forms) is refused.
pub fn verify(public_key: &PublicKey, message: &[u8], signature: &[u8]) -> bool {
    let Ok(key) = VerifyingKey::from_bytes(public_key) else {
        return false;
    };
    let Ok(signature) = Signature::from_slice(signature) else {
        return false;
    };
    key.verify_strict(message, &signature).is_ok()
}

/// Bytes from base64 in either alphabet, padded or not (clients differ).
pub fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let trimmed = text.trim().trim_end_matches('=');
    let url = trimmed.replace('+', "-").replace('/', "_");
    BASE64URL.decode(url).ok()
}

/// Base64url without padding, as the OpenIntent RFCs write keys and signatures.
pub fn base64url(bytes: &[u8]) -> String {
    BASE64URL.encode(bytes)
}

/// The standard base64 of `bytes`.
pub fn base64(bytes: &[u8]) -> String {
    BASE64.encode(bytes)
}

/// The DER SubjectPublicKeyInfo prefix of an Ed25519 key (RFC 8410), before its 32 bytes.
const SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// An Ed25519 public key as clients write it: `ed25519:<base64url>` (RFC-0018), a `did:key`,
/// or the base64 (either alphabet) of the 32 bytes or of their DER SubjectPublicKeyInfo.
pub fn parse_public_key(text: &str) -> Option<PublicKey> {
    let text = text.trim();
    if text.starts_with("did:key:") {
        return from_did_key(text);
    }
    let encoded = text
        .strip_prefix("ed25519:")
        .or_else(|| text.strip_prefix("Ed25519:"))
        .unwrap_or(text);
    let bytes = decode_base64(encoded)?;
    let raw = bytes.strip_prefix(&SPKI_PREFIX).unwrap_or(&bytes);
    let key: PublicKey = raw.try_into().ok()?;
    VerifyingKey::from_bytes(&key).ok().map(|_| key)
}

/// The `did:key` of an Ed25519 public key.
pub fn did_key(public_key: &PublicKey) -> String {
    let mut bytes = ED25519_MULTICODEC.to_vec();
    bytes.extend_from_slice(public_key);
    format!("did:key:z{}", bs58::encode(bytes).into_string())
}

/// The Ed25519 public key a `did:key` names, if it names one.
pub fn from_did_key(did: &str) -> Option<PublicKey> {
    let encoded = did.strip_prefix("did:key:z")?;
    let bytes = bs58::decode(encoded).into_vec().ok()?;
    let key = bytes.strip_prefix(&ED25519_MULTICODEC)?;
    key.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    /// RFC 8032 §7.1, tests 1 and 2: the public key and signature each secret key gives.
    #[test]
    fn rfc_8032_vectors() {
        let vectors = [
            (
                "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
                "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
                "",
                "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
            ),
            (
                "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
                "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
                "72",
                "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
            ),
        ];
        for (secret, public, message, signature) in vectors {
            let seed: [u8; 32] = unhex(secret).try_into().unwrap();
            let signer = Signer::from_seed(&seed);
            assert_eq!(signer.public_key().to_vec(), unhex(public));
            let signed = BASE64.decode(signer.sign(&unhex(message))).unwrap();
            assert_eq!(signed, unhex(signature));
            let public: PublicKey = unhex(public).try_into().unwrap();
            assert!(verify(&public, &unhex(message), &signed));
            assert!(!verify(&public, b"another message", &signed));
            let mut flipped = signed.clone();
            flipped[10] ^= 1;
            assert!(!verify(&public, &unhex(message), &flipped));
        }
    }

    /// A published did:key document: its DID is the encoding of its base58 public key.
    #[test]
    fn did_key_matches_a_published_example() {
        let did = "did:key:z6MkmjY8GnV5i9YTDtPETC2uUAW6ejw3nk5mXF5yci5ab7th";
        let public: PublicKey = bs58::decode("8HH5gYEeNc3z7PYXmd54d4x6qAfCNrqQqEB3nS7Zfu7K")
            .into_vec()
            .unwrap()
            .try_into()
            .unwrap();
        assert_eq!(did_key(&public), did);
        assert_eq!(from_did_key(did), Some(public));
        assert!(did_key(&Signer::generate().public_key()).starts_with("did:key:z6Mk"));
        assert_eq!(
            from_did_key("did:key:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme"),
            None
        );
        assert_eq!(from_did_key("did:web:example.com"), None);
    }

    #[test]
    fn keys_are_configured_as_base64_seeds() {
        let signer = Signer::generate();
        let again = Signer::from_base64(&signer.seed_base64()).unwrap();
        assert_eq!(again.public_key(), signer.public_key());
        assert_eq!(again.key_id(), key_id(&signer.public_key()));
        assert_eq!(signer.key_id().len(), 16);
        assert!(Signer::from_base64("c2hvcnQ=").is_err());
        assert!(!format!("{signer:?}").contains(signer.seed_base64().as_str()));
    }

    #[test]
    fn public_keys_parse_in_every_written_form() {
        let signer = Signer::generate();
        let key = signer.public_key();
        let mut spki = SPKI_PREFIX.to_vec();
        spki.extend_from_slice(&key);
        for text in [
            format!("ed25519:{}", base64url(&key)),
            BASE64.encode(key),
            BASE64.encode(&spki),
            did_key(&key),
        ] {
            assert_eq!(parse_public_key(&text), Some(key), "{text}");
        }
        assert_eq!(parse_public_key("ed25519:c2hvcnQ"), None);
    }

    #[test]
    fn base64_of_either_alphabet_decodes() {
        let bytes = [0xfb, 0xff, 0x3e, 0x01];
        for text in [BASE64.encode(bytes), base64url(&bytes)] {
            assert_eq!(decode_base64(&text).unwrap(), bytes);
        }
    }
}
