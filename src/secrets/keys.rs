//! Where the secret keys come from, and their text form `<id>:<base64 of 32 bytes>`.
//!
//! Keys are given inline (`--secret-key`, `INTENDEDOPS_SECRET_KEY`) or in a file
//! (`--secret-key-file`, `INTENDEDOPS_SECRET_KEY_FILE`), several separated by commas or lines,
//! the first sealing. With neither, a development server over a SQLite file generates one into
//! `<database file>.key` (mode 0600) and warns; anything else refuses to start, because
//! a key the operator does not hold apart from the database protects nothing.

use std::{
    io::Write,
    path::{Path, PathBuf},
    str::FromStr,
};

use base64::{engine::general_purpose::STANDARD as BASE64, Engine};
use rand::{rngs::OsRng, RngCore};
use zeroize::Zeroizing;

use super::{SecretBox, KEY_LEN};
use crate::store::sqlite_file;

/// The environment variable holding the keys (SPEC.md §1).
pub const KEY_ENV: &str = "INTENDEDOPS_SECRET_KEY";
const MAX_ID_LEN: usize = 64;

/// Key text as configured: never shown.
#[derive(Clone)]
pub struct KeyText(Zeroizing<String>);

impl FromStr for KeyText {
    type Err = std::convert::Infallible;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(KeyText(Zeroizing::new(text.to_string())))
    }
}

impl std::fmt::Debug for KeyText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyText(<redacted>)")
    }
}

/// Where a process gets its keys.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// `--secret-key` / `INTENDEDOPS_SECRET_KEY`.
    Inline(KeyText),
    /// `--secret-key-file` / `INTENDEDOPS_SECRET_KEY_FILE`.
    File(PathBuf),
    /// Nothing configured: a generated key file in development mode over SQLite, else refused.
    Unset,
    /// A command that never reads or writes secrets (`tenant`, `key`, …): no key is loaded.
    NotNeeded,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(
        "no secret key is configured: set INTENDEDOPS_SECRET_KEY (or --secret-key-file) to \
         `<id>:<base64 of 32 random bytes>`, for example the line `intendedops secrets \
         generate-key` prints; only a development server over SQLite generates its own"
    )]
    Missing,
    #[error(
        "secret key {position} is not `<id>:<base64 of 32 random bytes>`: {problem} (the \
         value is not shown)"
    )]
    Invalid {
        position: usize,
        problem: &'static str,
    },
    #[error("secret key id '{0}' is given twice")]
    DuplicateId(String),
    #[error("cannot use the secret key file {}: {source}", path.display())]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The keys `source` names; `database_url` and `dev_mode` decide what [`KeySource::Unset`] means.
pub fn load(source: &KeySource, database_url: &str, dev_mode: bool) -> Result<SecretBox, KeyError> {
    match source {
        KeySource::Inline(text) => parse(&text.0),
        KeySource::File(path) => parse(&read(path)?),
        KeySource::NotNeeded => Ok(SecretBox::new(Vec::new())),
        KeySource::Unset => match sqlite_file(database_url).filter(|_| dev_mode) {
            Some(database) => development_keys(&database),
            None => Err(KeyError::Missing),
        },
    }
}

/// Parses keys separated by commas or lines (blank lines and `#` comments are skipped).
pub fn parse(text: &str) -> Result<SecretBox, KeyError> {
    let mut keys: Vec<(String, Zeroizing<[u8; KEY_LEN]>)> = Vec::new();
    let entries = text
        .split([',', '\n'])
        .map(str::trim)
        .filter(|entry| !entry.is_empty() && !entry.starts_with('#'));
    for (index, entry) in entries.enumerate() {
        let invalid = |problem| KeyError::Invalid {
            position: index + 1,
            problem,
        };
        let (id, material) = entry.split_once(':').ok_or(invalid("no ':'"))?;
        let valid_id = (1..=MAX_ID_LEN).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        if !valid_id {
            return Err(invalid(
                "the id must be 1-64 letters, digits, '-', '_' or '.'",
            ));
        }
        let bytes = Zeroizing::new(
            BASE64
                .decode(material)
                .map_err(|_| invalid("the key is not base64"))?,
        );
        let material: [u8; KEY_LEN] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| invalid("the key is not 32 bytes long"))?;
        if keys.iter().any(|(known, _)| known == id) {
            return Err(KeyError::DuplicateId(id.to_string()));
        }
        keys.push((id.to_string(), Zeroizing::new(material)));
    }
    if keys.is_empty() {
        return Err(KeyError::Missing);
    }
    Ok(SecretBox::new(keys))
}

/// A new key line, `<id>:<base64 of 32 random bytes>`.
pub fn generate(id: &str) -> Zeroizing<String> {
    let mut material = Zeroizing::new([0u8; KEY_LEN]);
    OsRng.fill_bytes(material.as_mut());
    Zeroizing::new(format!("{id}:{}", BASE64.encode(material.as_ref())))
}

fn read(path: &Path) -> Result<Zeroizing<String>, KeyError> {
    std::fs::read_to_string(path)
        .map(Zeroizing::new)
        .map_err(|source| KeyError::File {
            path: path.to_path_buf(),
            source,
        })
}

/// The development key file beside `database`, created with a new key when absent.
fn development_keys(database: &Path) -> Result<SecretBox, KeyError> {
    let mut path = database.as_os_str().to_owned();
    path.push(".key");
    let path = PathBuf::from(path);
    let file_error = |source| KeyError::File {
        path: path.clone(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    // `create_new`: two processes starting at once do not overwrite each other's key.
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(&path) {
        Ok(mut file) => {
            let line = generate("dev");
            writeln!(
                file,
                "# IntendedOps development secret key (seals webhook secrets in the database \
                 beside this file).\n{}",
                *line
            )
            .map_err(file_error)?;
            tracing::warn!(path = %path.display(), "generated a development secret key file; \
                production deployments set {KEY_ENV} and keep the key apart from the database");
        }
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
            tracing::warn!(path = %path.display(), "development mode: secrets are sealed with \
                the key file beside the database; production deployments set {KEY_ENV}");
        }
        Err(err) => return Err(file_error(err)),
    }
    parse(&read(&path)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_from_commas_or_lines_and_the_first_seals() {
        let (k1, k2) = (generate("k1"), generate("k2"));
        let inline = parse(&format!("{},{}", *k2, *k1)).unwrap();
        assert_eq!(inline.current_key_id(), Some("k2"));
        assert!(inline.holds("k1"));
        let file = parse(&format!("# comment\n{}\n\n{}\n", *k1, *k2)).unwrap();
        assert_eq!(file.current_key_id(), Some("k1"));
    }

    #[test]
    fn bad_keys_are_named_by_position_without_their_value() {
        let good = generate("k1");
        let short = format!("k2:{}", BASE64.encode([1u8; 16]));
        for (text, expected) in [
            (format!("{},{short}", *good), "key 2 is not"),
            ("k1:not base64!".to_string(), "not base64"),
            ("k1".to_string(), "no ':'"),
            (format!("bad id{}", &good[2..]), "the id must be"),
            (format!("{},{}", *good, *good), "given twice"),
            (String::new(), "no secret key is configured"),
        ] {
            let message = parse(&text).unwrap_err().to_string();
            assert!(message.contains(expected), "{text}: {message}");
            assert!(!message.contains(&good[3..]), "{message}");
        }
    }

    #[test]
    fn without_a_key_only_development_over_sqlite_generates_one() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/dev.db", dir.path().display());
        let generated = load(&KeySource::Unset, &url, true).unwrap();
        let file = dir.path().join("dev.db.key");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // The next start reads the same key.
        let again = load(&KeySource::Unset, &url, true).unwrap();
        let sealed = generated.seal("c", b"value").unwrap();
        assert_eq!(again.open("c", &sealed).unwrap().as_bytes(), b"value");
        for (url, dev_mode) in [(url.as_str(), false), ("postgres://h/db", true)] {
            assert!(matches!(
                load(&KeySource::Unset, url, dev_mode),
                Err(KeyError::Missing)
            ));
        }
        let nothing = load(&KeySource::NotNeeded, "postgres://h/db", false).unwrap();
        assert_eq!(nothing.current_key_id(), None);
    }
}
