//! Resource ids: a short type prefix and a ULID (`key_01HN4X7KQZ8Y1A2B3C4D5E6F7G`), so ids
//! say what they name and sort by creation time. Within one process they are strictly
//! increasing, also inside one millisecond (a plain ULID's random part would sort ids of the
//! same millisecond at random, and event ids are the order of an intent's log).

use std::sync::Mutex;

use crate::error::Error;

static GENERATOR: Mutex<ulid::Generator> = Mutex::new(ulid::Generator::new());

/// The prefix of API key ids.
pub const API_KEY: &str = "key";

/// A new id of the given kind.
pub fn new_id(prefix: &str) -> String {
    let generated = GENERATOR
        .lock()
        .ok()
        .and_then(|mut generator| generator.generate().ok());
    let ulid = match generated {
        Some(ulid) => ulid,
        // Only after 2^80 ids in one millisecond, or with a poisoned lock.
        None => ulid::Ulid::new(),
    };
    format!("{prefix}_{ulid}")
}

/// Declares string ids that are parsed once, where they enter (a path, a body, a CLI
/// argument), and carried typed from there through the core into the store: each gets
/// `as_str`, `Display`, serde, sqlx (`Any`) and poem-openapi (a string parameter) support.
/// Its `parse(raw) -> Result<Self, Error>` is written beside the declaration, since what
/// makes an id valid differs (a tenant's name, a prefixed ULID).
macro_rules! string_ids {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(std::sync::Arc<str>);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        /// An id reads as its text wherever text is wanted (SQL, logs); text becomes an id
        /// only through `parse`.
        impl std::ops::Deref for $name {
            type Target = str;

            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl sqlx::Type<sqlx::Any> for $name {
            fn type_info() -> sqlx::any::AnyTypeInfo {
                <String as sqlx::Type<sqlx::Any>>::type_info()
            }

            fn compatible(ty: &sqlx::any::AnyTypeInfo) -> bool {
                <String as sqlx::Type<sqlx::Any>>::compatible(ty)
            }
        }

        impl<'q> sqlx::Encode<'q, sqlx::Any> for $name {
            fn encode_by_ref(
                &self,
                buf: &mut <sqlx::Any as sqlx::Database>::ArgumentBuffer<'q>,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <String as sqlx::Encode<'q, sqlx::Any>>::encode(self.0.to_string(), buf)
            }
        }

        impl<'r> sqlx::Decode<'r, sqlx::Any> for $name {
            fn decode(value: sqlx::any::AnyValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
                let raw = <String as sqlx::Decode<'r, sqlx::Any>>::decode(value)?;
                Ok($name(raw.into()))
            }
        }

        impl poem_openapi::types::Type for $name {
            const IS_REQUIRED: bool = true;
            type RawValueType = Self;
            type RawElementValueType = Self;

            fn name() -> std::borrow::Cow<'static, str> {
                "string".into()
            }

            fn schema_ref() -> poem_openapi::registry::MetaSchemaRef {
                poem_openapi::registry::MetaSchemaRef::Inline(Box::new(
                    poem_openapi::registry::MetaSchema::new("string"),
                ))
            }

            fn as_raw_value(&self) -> Option<&Self::RawValueType> {
                Some(self)
            }

            fn raw_element_iter<'a>(
                &'a self,
            ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
                Box::new(self.as_raw_value().into_iter())
            }
        }

        impl poem_openapi::types::ParseFromParameter for $name {
            fn parse_from_parameter(value: &str) -> poem_openapi::types::ParseResult<Self> {
                $name::parse(value).map_err(|err| poem_openapi::types::ParseError::custom(err.to_string()))
            }
        }

        impl poem_openapi::types::ToJSON for $name {
            fn to_json(&self) -> Option<serde_json::Value> {
                Some(serde_json::Value::String(self.0.to_string()))
            }
        }
    )*};
}

string_ids! {
    /// A validated tenant id: `[A-Za-z0-9-]{1,64}`.
    TenantId;
}

impl TenantId {
    pub fn parse(raw: &str) -> Result<Self, Error> {
        let valid = (1..=64).contains(&raw.len())
            && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if valid {
            Ok(TenantId(raw.into()))
        } else {
            Err(Error::invalid(
                &["tenantId"],
                "must be 1-64 characters of letters, digits and '-' (no '_': in an API key it \
                 separates the tenant id from the secret)",
            ))
        }
    }
}

/// Declares resource ids: `Name => "prefix"` gives a [`string_ids!`] type whose `generate()`
/// makes a new id of the kind and whose `parse` admits what an id of any age could look like
/// (up to 100 letters, digits, `_` and `-`): a well-formed id that names nothing is the
/// lookup's 404, not the parser's 400.
macro_rules! resource_ids {
    ($($(#[$doc:meta])* $name:ident => $prefix:literal;)*) => {$(
        string_ids! {
            $(#[$doc])*
            $name;
        }

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            pub fn generate() -> Self {
                $name(new_id(Self::PREFIX).into())
            }

            pub fn parse(raw: &str) -> Result<Self, Error> {
                match is_resource_id(raw) {
                    true => Ok($name(raw.into())),
                    false => Err(Error::invalid(
                        &["id"],
                        concat!("must be an id (", $prefix, "_…): up to 100 letters, digits, '_' and '-'"),
                    )),
                }
            }
        }
    )*};
}

fn is_resource_id(raw: &str) -> bool {
    (1..=100).contains(&raw.len())
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
}

resource_ids! {
    /// A governed intent (`/v1/intents`).
    IntentId => "int";
    /// An approval of the queue (`/v1/approvals`).
    ApprovalId => "apr";
    /// An API key (`/v1/keys`).
    KeyId => "key";
    /// A console user (`/v1/users`).
    UserId => "usr";
    /// A webhook endpoint (`/v1/webhooks`).
    EndpointId => "whe";
    /// One delivery of an event to an endpoint.
    DeliveryId => "dlv";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_carry_their_prefix_and_sort_by_time() {
        let first = new_id(API_KEY);
        std::thread::sleep(std::time::Duration::from_millis(2));
        let second = new_id(API_KEY);
        assert!(first.starts_with("key_") && first.len() == 30);
        assert!(first < second);
    }

    #[test]
    fn resource_ids_are_generated_with_their_prefix_and_parsed_leniently() {
        assert!(IntentId::generate().as_str().starts_with("int_"));
        assert!(ApprovalId::generate().as_str().starts_with("apr_"));
        assert!(IntentId::parse("int_none").is_ok());
        for bad in ["", "int_\0", "int/x", "a b", &"x".repeat(101)] {
            assert!(IntentId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn ids_made_in_one_millisecond_still_sort_in_order() {
        let ids: Vec<String> = (0..1000).map(|_| new_id("oev")).collect();
        assert!(ids.windows(2).all(|pair| pair[0] < pair[1]));
    }
}
