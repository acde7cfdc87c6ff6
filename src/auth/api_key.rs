//! The API key format, parsed before any database work.
//!
//! Tenant keys look like `intendedops_<tenantId>_<secret>`: `tenantId` is `[A-Za-z0-9-]{1,64}`
//! (no `_`, so the key splits unambiguously) and `secret` is 16–128 characters of
//! `[A-Za-z0-9]`. In development mode the seed's fixed keys are accepted as well.

use rand::{distributions::Alphanumeric, rngs::OsRng, Rng};

use super::TenantId;

const KEY_PREFIX: &str = "intendedops_";
const MIN_SECRET_LEN: usize = 16;
const MAX_SECRET_LEN: usize = 128;
/// Length of generated secrets: 40 base62 characters ≈ 238 bits.
const GENERATED_SECRET_LEN: usize = 40;
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("API key is malformed")]
pub struct MalformedKey;

/// Parses a presented key. Development keys are recognised only when `dev_mode` is on.
pub fn parse(raw: &str, dev_mode: bool) -> Result<PresentedKey<'_>, MalformedKey> {
    if dev_mode && DEV_KEYS.iter().any(|(name, ..)| *name == raw) {
        return Ok(PresentedKey {
            raw,
            tenant: TenantId::parse(DEV_TENANT).map_err(|_| MalformedKey)?,
            lookup_prefix: raw,
        });
    }
    let rest = raw.strip_prefix(KEY_PREFIX).ok_or(MalformedKey)?;
    let (tenant, secret) = rest.split_once('_').ok_or(MalformedKey)?;
    let tenant = TenantId::parse(tenant).map_err(|_| MalformedKey)?;
    let secret_ok = (MIN_SECRET_LEN..=MAX_SECRET_LEN).contains(&secret.len())
        && secret.bytes().all(|b| b.is_ascii_alphanumeric());
    if !secret_ok {
        return Err(MalformedKey);
    }
    Ok(PresentedKey {
        raw,
        tenant,
        lookup_prefix: &secret[..LOOKUP_PREFIX_LEN],
    })
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

/// Generates a key for `tenant` with a secret from the OS CSPRNG.
pub fn generate(tenant: &TenantId) -> GeneratedKey {
    let secret = random_secret(GENERATED_SECRET_LEN);
    GeneratedKey {
        key: format!("{KEY_PREFIX}{}_{secret}", tenant.as_str()),
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
            assert_eq!(parse(bad, false), Err(MalformedKey), "{bad:?}");
        }
        let long_secret = format!("intendedops_t_{}", "a".repeat(MAX_SECRET_LEN + 1));
        assert_eq!(parse(&long_secret, false), Err(MalformedKey));
        let long_tenant = format!("intendedops_{}_xK9mN2pQ7rS4tU6v", "t".repeat(65));
        assert_eq!(parse(&long_tenant, false), Err(MalformedKey));
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
    }
}
