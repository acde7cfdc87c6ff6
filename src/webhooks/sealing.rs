//! Signing secrets at rest: sealed under the server's key ([`crate::secrets`]), bound to their
//! endpoint, opened only to sign. Also the start-up check that the configured keys open what
//! is stored, and the re-sealing behind start-up (secrets from before sealing) and
//! `intendedops secrets rotate`.

use anyhow::anyhow;
use zeroize::Zeroizing;

use crate::{
    error::{Error, Result},
    secrets::{Opened, Sealed, SecretBox, SecretError},
    store::{
        webhooks::{self, EndpointSecrets, SecretColumns},
        Store,
    },
    time::Millis,
};

/// What a sealed signing secret is bound to: copied onto another endpoint's row, it does not
/// open. (Not the column: a rotation moves the current secret to `previous_secret` as it is.)
fn context(tenant: &str, endpoint: &str) -> String {
    format!("webhook-signing-secret/{tenant}/{endpoint}")
}

/// Seals a new signing secret: the stored text and its key id.
pub fn seal(secrets: &SecretBox, tenant: &str, endpoint: &str, secret: &str) -> Result<Sealed> {
    secrets
        .seal(&context(tenant, endpoint), secret.as_bytes())
        .map_err(internal)
}

/// An endpoint's secrets, opened to sign with.
pub struct SigningSecrets {
    pub current: Zeroizing<String>,
    /// The secret a rotation replaced, while it still signs.
    pub previous: Option<Zeroizing<String>>,
}

impl SigningSecrets {
    /// Opens what `stored` holds for signing at `now`. A failure is the operator's to fix
    /// (a key missing from the configuration), so it is logged as well as returned.
    pub fn open(
        secrets: &SecretBox,
        tenant: &str,
        endpoint: &str,
        stored: &SecretColumns,
        now: Millis,
    ) -> Result<SigningSecrets, SecretError> {
        let context = context(tenant, endpoint);
        let open = |value: &str, key_id: &Option<String>| {
            open_one(secrets, &context, value, key_id)?.into_text()
        };
        let still_signs = stored
            .previous_secret_until
            .is_some_and(|until| now < until);
        let opened = open(&stored.secret, &stored.secret_key_id).and_then(|current| {
            let previous = match &stored.previous_secret {
                Some(previous) if still_signs => {
                    Some(open(previous, &stored.previous_secret_key_id)?)
                }
                _ => None,
            };
            Ok(SigningSecrets { current, previous })
        });
        if let Err(err) = &opened {
            tracing::warn!(tenant, endpoint, error = %err, "cannot open a webhook signing secret");
        }
        opened
    }
}

/// A stored secret opened; one without a key id was stored in clear before sealing existed.
fn open_one(
    secrets: &SecretBox,
    context: &str,
    stored: &str,
    key_id: &Option<String>,
) -> Result<Opened, SecretError> {
    match key_id {
        Some(key_id) => secrets.open(context, &Sealed::from_text(key_id, stored)?),
        None => Ok(Opened::new(stored.as_bytes().to_vec())),
    }
}

/// Which stored secrets to re-seal under the current key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reseal {
    /// Those still in clear (from before sealing existed): at every start.
    InClear,
    /// Every one not sealed under the current key: `intendedops secrets rotate`, once every
    /// instance holds the new key (a start-up re-sealing under a new key would lock out the
    /// instances still running with the old configuration).
    NotUnderCurrentKey,
}

/// Fails when a key stored secrets are sealed under is missing, or does not open one of them
/// (the right id with other key material): a clear start-up error instead of deliveries that
/// fail for hours.
pub async fn check_keys(store: &Store, secrets: &SecretBox) -> Result<()> {
    let mut conn = store.reader().acquire().await?;
    for key_id in webhooks::secret_key_ids(&mut conn).await? {
        if !secrets.holds(&key_id) {
            return Err(internal(SecretError::UnknownKey(key_id)));
        }
        if let Some(sample) = webhooks::one_sealed_under(&mut conn, &key_id).await? {
            open_stored(secrets, &sample)?;
        }
    }
    Ok(())
}

/// Re-seals `which` secrets under the current key; returns how many endpoints changed.
pub async fn reseal(store: &Store, secrets: &SecretBox, which: Reseal) -> Result<usize> {
    let current = secrets
        .current_key_id()
        .ok_or_else(|| internal(SecretError::NoKey))?;
    let filter = match which {
        Reseal::InClear => None,
        Reseal::NotUnderCurrentKey => Some(current),
    };
    let mut conn = store.reader().acquire().await?;
    let candidates = webhooks::secrets_not_sealed_under(&mut conn, filter).await?;
    drop(conn);
    let mut changed = 0;
    for endpoint in candidates {
        let resealed = resealed(secrets, &endpoint)?;
        let mut tx = store.begin().await?;
        let (tenant, id) = (&endpoint.tenant_id, &endpoint.id);
        if webhooks::replace_secrets(&mut tx, tenant, id, &endpoint.secrets, &resealed).await? {
            changed += 1;
        }
        tx.commit().await?;
    }
    Ok(changed)
}

/// Opens both of an endpoint's stored secrets (the previous one even when it no longer signs:
/// it is kept as long as the row keeps it).
fn open_stored(
    secrets: &SecretBox,
    endpoint: &EndpointSecrets,
) -> Result<(Opened, Option<Opened>)> {
    let context = context(endpoint.tenant_id.as_str(), &endpoint.id);
    let stored = &endpoint.secrets;
    let open = |value: &str, key_id: &Option<String>| {
        open_one(secrets, &context, value, key_id).map_err(|err| {
            Error::Internal(anyhow!(err).context(format!(
                "endpoint {} of tenant {}",
                endpoint.id, endpoint.tenant_id
            )))
        })
    };
    let current = open(&stored.secret, &stored.secret_key_id)?;
    let previous = stored
        .previous_secret
        .as_deref()
        .map(|previous| open(previous, &stored.previous_secret_key_id))
        .transpose()?;
    Ok((current, previous))
}

/// `endpoint`'s secrets sealed under the current key.
fn resealed(secrets: &SecretBox, endpoint: &EndpointSecrets) -> Result<SecretColumns> {
    let context = context(endpoint.tenant_id.as_str(), &endpoint.id);
    let (current, previous) = open_stored(secrets, endpoint)?;
    let seal = |opened: Opened| secrets.seal(&context, opened.as_bytes()).map_err(internal);
    let current = seal(current)?;
    let previous = previous.map(seal).transpose()?;
    Ok(SecretColumns {
        secret: current.text(),
        secret_key_id: Some(current.key_id),
        previous_secret_key_id: previous.as_ref().map(|sealed| sealed.key_id.clone()),
        previous_secret: previous.map(|sealed| sealed.text()),
        previous_secret_until: endpoint.secrets.previous_secret_until,
    })
}

fn internal(err: SecretError) -> Error {
    Error::Internal(anyhow!(err))
}
