//! The API key format, parsed before any database work.
//!
//! Tenant keys look like `intendedops_<tenantId>_<secret>`: `tenantId` is `[A-Za-z0-9-]{1,64}`
//! (no `_`, so the key splits unambiguously) and `secret` is 16–128 characters of
//! `[A-Za-z0-9]`. In development mode the seed's fixed keys are accepted as well.
//!
//! Keys issued now end with a checksum: the secret is 40 random base62 characters and then
//! [`CHECKSUM_LEN`] more, the CRC-32 (ISO-HDLC, as zlib's) of everything before them in base62,
//! zero-padded. A secret of exactly that length must carry a valid checksum, so a mistyped or
//! truncated key is refused before any lookup, and secret scanners can match
//! `intendedops_[A-Za-z0-9-]{1,64}_[A-Za-z0-9]{46}` and confirm a find offline. Keys issued
//! before checksums have 40-character secrets and keep working unchecked.

use rand::{distributions::Alphanumeric, rngs::OsRng, Rng};

use super::TenantId;

const KEY_PREFIX: &str = "intendedops_";
const MIN_SECRET_LEN: usize = 16;
const MAX_SECRET_LEN: usize = 128;
/// Random characters of generated secrets: 40 base62 characters ≈ 238 bits.
const GENERATED_SECRET_LEN: usize = 40;
/// Base62 characters of the checksum: 62^6 > 2^32, so every CRC-32 fits.
pub const CHECKSUM_LEN: usize = 6;
/// The length of a checksummed secret.
const CHECKSUMMED_SECRET_LEN: usize = GENERATED_SECRET_LEN + CHECKSUM_LEN;
/// The pattern secret scanners match issued keys with (the checksum confirms a match).
pub const SCANNER_PATTERN: &str = r"intendedops_[A-Za-z0-9-]{1,64}_[A-Za-z0-9]{46}";
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const CRC32: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);
/// Characters of the secret kept in clear as the lookup prefix (not enough to guess the rest).
const LOOKUP_PREFIX_LEN: usize = 8;

/// The tenant of the development keys.
pub const DEV_TENANT: &str = "dev";

/// The seed's development keys and the scope each gets.
pub const DEV_KEYS: [(&str, super::Scope, Option<&str>); 3] = [
    ("dev-user-key", super::Scope::Admin, None),
    (
        "agent-research-key",
        super::Scope::Agent,
        Some("research-agent"),
    ),
    ("agent-synth-key", super::Scope::Agent, Some("synth-agent")),
];

/// A syntactically valid key as presented by a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresentedKey<'a> {
    /// The whole key: what the stored hash was computed from.
    pub raw: &'a str,
    pub tenant: TenantId,
    /// Non-secret handle to find the stored hash.
    pub lookup_prefix: &'a str,
}

/// Why a presented key was refused without looking it up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MalformedKey {
    #[error("API key is malformed")]
    Shape,
    /// The right shape, but the checksum does not match: mistyped, truncated or made up.
    #[error("API key checksum does not match")]
    Checksum,
}

/// Parses a presented key. Development keys are recognised only when `dev_mode` is on.
pub fn parse(raw: &str, dev_mode: bool) -> Result<PresentedKey<'_>, MalformedKey> {
    if dev_mode && DEV_KEYS.iter().any(|(name, ..)| *name == raw) {
        return Ok(PresentedKey {
            raw,
            tenant: TenantId::parse(DEV_TENANT).map_err(|_| MalformedKey::Shape)?,
            lookup_prefix: raw,
        });
    }
    let rest = raw.strip_prefix(KEY_PREFIX).ok_or(MalformedKey::Shape)?;
    let (tenant, secret) = rest.split_once('_').ok_or(MalformedKey::Shape)?;
    let tenant = TenantId::parse(tenant).map_err(|_| MalformedKey::Shape)?;
    let secret_ok = (MIN_SECRET_LEN..=MAX_SECRET_LEN).contains(&secret.len())
        && secret.bytes().all(|b| b.is_ascii_alphanumeric());
    if !secret_ok {
        return Err(MalformedKey::Shape);
    }
    if secret.len() == CHECKSUMMED_SECRET_LEN {
        let (body, checksum) = raw.split_at(raw.len() - CHECKSUM_LEN);
        if checksum_of(body) != checksum.as_bytes() {
            return Err(MalformedKey::Checksum);
        }
    }
    Ok(PresentedKey {
        raw,
        tenant,
        lookup_prefix: &secret[..LOOKUP_PREFIX_LEN],
    })
}

/// Whether `raw` is a well-formed key that carries a (valid) checksum: one issued since keys
/// have checksums, which anyone may report leaked.
pub fn carries_checksum(raw: &str) -> bool {
    parse(raw, false).is_ok()
        && raw
            .rsplit_once('_')
            .is_some_and(|(_, secret)| secret.len() == CHECKSUMMED_SECRET_LEN)
}

/// A freshly generated key and its lookup prefix.
pub struct GeneratedKey {
    pub key: String,
    pub lookup_prefix: String,
}

/// `len` base62 characters from the OS CSPRNG (about 5.95 bits each).
pub fn random_secret(len: usize) -> String {
    OsRng
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// The checksum a key ending in `body` carries: CRC-32 of `body` in base62, fixed width (as
/// bytes: every request with a key checks one, so nothing is allocated).
fn checksum_of(body: &str) -> [u8; CHECKSUM_LEN] {
    let mut value = CRC32.checksum(body.as_bytes());
    let mut digits = [b'0'; CHECKSUM_LEN];
    for digit in digits.iter_mut().rev() {
        *digit = BASE62[(value % 62) as usize];
        value /= 62;
    }
    digits
}

/// Generates a key for `tenant`: a secret from the OS CSPRNG, then its checksum.
pub fn generate(tenant: &TenantId) -> GeneratedKey {
    let secret = random_secret(GENERATED_SECRET_LEN);
    let body = format!("{KEY_PREFIX}{}_{secret}", tenant.as_str());
    GeneratedKey {
        key: format!("{body}{}", String::from_utf8_lossy(&checksum_of(&body))),
        lookup_prefix: secret[..LOOKUP_PREFIX_LEN].to_string(),
    }
}

/// How a key is shown after creation: enough to recognise it, never enough to use it.
pub fn display_prefix(tenant: &str, lookup_prefix: &str) -> String {
    if tenant == DEV_TENANT && DEV_KEYS.iter().any(|(name, ..)| *name == lookup_prefix) {
        lookup_prefix.to_string()
    } else {
        format!("{KEY_PREFIX}{tenant}_{lookup_prefix}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_seed_example() {
        let key = parse("intendedops_tenant123_xK9mN2pQ7rS4tU6v", false).unwrap();
        assert_eq!(key.tenant.as_str(), "tenant123");
        assert_eq!(key.lookup_prefix, "xK9mN2pQ");
    }

    #[test]
    fn rejects_malformed_keys() {
        for bad in [
            "",
            "intendedops_",
            "intendedops_tenant123",
            "intendedops__xK9mN2pQ7rS4tU6v",
            "intendedops_tenant123_short",
            "intendedops_my_tenant_xK9mN2pQ7rS4tU6v",
            "intendedops_tenant123_xK9mN2pQ7rS4tU6v!",
            "intendedops_tenant123_xK9mN2pQ7rS4tU6vé",
            "other_tenant123_xK9mN2pQ7rS4tU6v",
            "dev-user-key",
        ] {
            assert_eq!(parse(bad, false), Err(MalformedKey::Shape), "{bad:?}");
        }
        let long_secret = format!("intendedops_t_{}", "a".repeat(MAX_SECRET_LEN + 1));
        assert_eq!(parse(&long_secret, false), Err(MalformedKey::Shape));
        let long_tenant = format!("intendedops_{}_xK9mN2pQ7rS4tU6v", "t".repeat(65));
        assert_eq!(parse(&long_tenant, false), Err(MalformedKey::Shape));
    }

    #[test]
    fn dev_keys_only_in_dev_mode() {
        let key = parse("agent-synth-key", true).unwrap();
        assert_eq!(
            (key.tenant.as_str(), key.lookup_prefix),
            ("dev", "agent-synth-key")
        );
        assert!(parse("agent-synth-key", false).is_err());
    }

    #[test]
    fn generated_keys_parse_back() {
        let tenant = TenantId::parse("acme-1").unwrap();
        let generated = generate(&tenant);
        let parsed = parse(&generated.key, false).unwrap();
        assert_eq!(parsed.tenant.as_str(), "acme-1");
        assert_eq!(parsed.lookup_prefix, generated.lookup_prefix);
        assert_ne!(generate(&tenant).key, generated.key);
        // What SCANNER_PATTERN matches: the tenant, then 46 base62 characters.
        let secret = generated.key.strip_prefix("intendedops_acme-1_").unwrap();
        assert_eq!(secret.len(), CHECKSUMMED_SECRET_LEN);
        assert!(secret.bytes().all(|b| b.is_ascii_alphanumeric()));
    }

    #[test]
    fn checksums_catch_any_changed_character() {
        let key = generate(&TenantId::parse("acme").unwrap()).key;
        for at in "intendedops_acme_".len()..key.len() {
            let mut changed = key.clone().into_bytes();
            changed[at] = if changed[at] == b'x' { b'y' } else { b'x' };
            let changed = String::from_utf8(changed).unwrap();
            assert_eq!(
                parse(&changed, false),
                Err(MalformedKey::Checksum),
                "{changed}"
            );
        }
        assert!(carries_checksum(&key));
        // A key from before checksums (40-character secret) is taken as it is.
        let legacy = format!("intendedops_acme_{}", "k".repeat(GENERATED_SECRET_LEN));
        assert!(parse(&legacy, false).is_ok());
        assert!(!carries_checksum(&legacy));
    }

    #[test]
    fn the_checksum_is_zlib_crc32_in_base62() {
        // Python: zlib.crc32(b"intendedops_acme_" + b"a" * 40) == 0xC5D51F48, which is
        // "3ccVzs" in base62 (0-9, A-Z, a-z), zero-padded to six characters.
        let body = format!("intendedops_acme_{}", "a".repeat(40));
        assert_eq!(CRC32.checksum(body.as_bytes()), 0xC5D5_1F48);
        assert_eq!(&checksum_of(&body), b"3ccVzs");
        assert_eq!(&checksum_of(""), b"000000");
    }
}
