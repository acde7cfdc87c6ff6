//! Standard Webhooks (<https://www.standardwebhooks.com>): the `webhook-id`,
//! `webhook-timestamp` and `webhook-signature` headers every delivery carries beside the seed's
//! `x-intendedops-*`, so receivers can verify with the `standardwebhooks` libraries.
//!
//! The signature is `v1,<base64 HMAC-SHA256 over "{id}.{timestamp}.{body}">`, keyed with the
//! bytes the secret's text after `whsec_` decodes to (base64). Every secret we issue decodes:
//! new ones are base64 of 24 random bytes, older ones 32 base62 characters, which are base64
//! text too. During a rotation the header carries both signatures, space-separated.

use base64::{
    alphabet,
    engine::{general_purpose::STANDARD, DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig},
    Engine,
};
use hmac::{Hmac, Mac};
use rand::{rngs::OsRng, RngCore};
use sha2::Sha256;

/// What every issued secret starts with.
pub const SECRET_PREFIX: &str = "whsec_";
/// Random bytes in a new secret (Svix's size: 32 base64 characters, no padding).
const SECRET_BYTES: usize = 24;

/// Decodes a secret's base64 with or without padding, as the reference libraries do.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A new signing secret, `whsec_<base64>`.
pub fn new_secret() -> String {
    let mut bytes = [0u8; SECRET_BYTES];
    OsRng.fill_bytes(&mut bytes);
    format!("{SECRET_PREFIX}{}", STANDARD.encode(bytes))
}

/// The HMAC key a secret stands for. A secret that is not base64 (none we issue) signs with
/// its own bytes, so a delivery still carries a signature its holder can compute.
fn signing_key(secret: &str) -> Vec<u8> {
    let text = secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret);
    LENIENT
        .decode(text)
        .ok()
        .filter(|key| !key.is_empty())
        .unwrap_or_else(|| text.as_bytes().to_vec())
}

/// `v1,<signature>` of one message under one secret.
fn signature(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(&signing_key(secret))
        .expect("HMAC takes keys of any length");
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// The `webhook-signature` value: the current secret's signature, then the previous one's
/// while a rotation lets it sign.
pub fn signature_header(
    secrets: (&str, Option<&str>),
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    let (current, previous) = secrets;
    let mut header = signature(current, id, timestamp, body);
    if let Some(previous) = previous {
        header.push(' ');
        header.push_str(&signature(previous, id, timestamp, body));
    }
    header
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification and its libraries' tests.
    #[test]
    fn signs_the_specification_example() {
        let signed = signature_header(
            ("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", None),
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(signed, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn a_rotation_carries_both_signatures() {
        let (old, new) = (new_secret(), new_secret());
        let both = signature_header((&new, Some(&old)), "whk_1", 1700000000, b"{}");
        let parts: Vec<&str> = both.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0], signature(&new, "whk_1", 1700000000, b"{}"));
        assert_eq!(parts[1], signature(&old, "whk_1", 1700000000, b"{}"));
        assert_ne!(parts[0], parts[1]);
    }

    #[test]
    fn new_and_older_secrets_decode_to_their_keys() {
        let secret = new_secret();
        assert!(
            secret.starts_with(SECRET_PREFIX) && secret.len() == 6 + 32,
            "{secret}"
        );
        assert_eq!(signing_key(&secret).len(), SECRET_BYTES);
        // Before Standard Webhooks: 32 base62 characters, which decode as base64 too.
        let older = "whsec_4f9a1c7e2b8d3f6a0c5e9b1d7f3a8c2e";
        assert_eq!(signing_key(older).len(), 24);
        assert_eq!(signing_key("whsec_not base64!"), b"not base64!".to_vec());
    }
}
