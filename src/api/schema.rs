//! Schemas that exist only in the documents: values the core carries as JSON or strings,
//! described precisely (any JSON value, one of two shapes, a word of a closed vocabulary).
//! They are carried by [`Documented`](super::types::Documented) fields and bodies.

use std::{borrow::Cow, marker::PhantomData};

use poem_openapi::{
    registry::{MetaSchema, MetaSchemaRef, Registry},
    types::{ParseFromJSON, Type},
};

use super::types::Documented;

/// A closed vocabulary the core defines (statuses, tiers, event names): its words, listed by
/// the core, so the document names exactly what the service uses.
pub trait Vocabulary {
    /// The schema's name in the document.
    const NAME: &'static str;
    /// The schema's description (empty: none).
    const DESCRIPTION: &'static str;
    fn words() -> Vec<&'static str>;
}

/// Documentation of one word of `V`: a string enum.
pub struct Words<V>(PhantomData<fn() -> V>);

/// A string from the vocabulary `V`: documented as `V`'s enum, carried as the string (the core
/// parses it and reports its own errors).
pub type Word<V> = Documented<Words<V>, String>;

/// Declares vocabularies, each `Name => a list of words` (the core's list where it keeps one);
/// a doc comment becomes the schema's description.
macro_rules! vocabularies {
    ($($(#[doc = $doc:literal])* $name:ident => $words:expr;)*) => {$(
        $(#[doc = $doc])*
        pub enum $name {}

        impl $crate::api::schema::Vocabulary for $name {
            const NAME: &'static str = stringify!($name);
            const DESCRIPTION: &'static str = concat!($($doc),*);

            fn words() -> Vec<&'static str> {
                $words.to_vec()
            }
        }
    )*};
}
pub(crate) use vocabularies;

impl<V: Vocabulary> Type for Words<V> {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        V::NAME.into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Reference(V::NAME.into())
    }

    fn register(registry: &mut Registry) {
        let description = V::DESCRIPTION.trim();
        registry.create_schema::<Self, _>(V::NAME.into(), |_| MetaSchema {
            description: (!description.is_empty()).then_some(description),
            enum_items: V::words().into_iter().map(Into::into).collect(),
            ..MetaSchema::new("string")
        })
    }

    fn as_raw_value(&self) -> Option<&Self> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
        Box::new(std::iter::once(self))
    }
}

/// Documentation of any JSON value (what a state patch sets, what an agent reports): each
/// kind named, so the document still says what may come.
pub struct JsonValue;

impl Type for JsonValue {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "JsonValue".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        let scalars = || {
            ["object", "string", "number", "boolean"]
                .map(|ty| MetaSchemaRef::Inline(Box::new(MetaSchema::new(ty))))
                .to_vec()
        };
        let array = MetaSchema {
            items: Some(Box::new(MetaSchemaRef::Inline(Box::new(MetaSchema {
                any_of: scalars(),
                ..MetaSchema::ANY
            })))),
            ..MetaSchema::new("array")
        };
        let mut kinds = scalars();
        kinds.push(MetaSchemaRef::Inline(Box::new(array)));
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            any_of: kinds,
            ..MetaSchema::ANY
        }))
    }

    fn as_raw_value(&self) -> Option<&Self> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
        Box::new(std::iter::once(self))
    }
}

/// Documentation of a value that is an `A` or a `B` (`anyOf`); carried by [`Documented`].
pub struct AnyOf<A, B>(PhantomData<fn() -> (A, B)>);

impl<A: Type, B: Type> Type for AnyOf<A, B> {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        format!("{}_or_{}", A::name(), B::name()).into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            any_of: vec![A::schema_ref(), B::schema_ref()],
            ..MetaSchema::ANY
        }))
    }

    fn register(registry: &mut Registry) {
        A::register(registry);
        B::register(registry);
    }

    fn as_raw_value(&self) -> Option<&Self> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
        Box::new(std::iter::once(self))
    }
}

/// Implements [`Example`](poem_openapi::types::Example) for documentation types from the JSON
/// they document.
macro_rules! examples {
    ($($(#[$doc:meta])* $name:ident => $json:tt)*) => {$(
        $(#[$doc])*
        impl poem_openapi::types::Example for $name {
            fn example() -> Self {
                $crate::api::schema::example(serde_json::json!($json))
            }
        }
    )*};
}
pub(crate) use examples;

/// The JSON of `T`'s example, to build larger examples from.
pub fn example_json<T: poem_openapi::types::Example + poem_openapi::types::ToJSON>(
) -> serde_json::Value {
    T::example().to_json().unwrap_or_default()
}

/// An example written as the JSON it documents, read into its documentation type: a value
/// of the wrong type fails every test that builds the document.
pub fn example<T: ParseFromJSON>(value: serde_json::Value) -> T {
    T::parse_from_json(Some(value))
        .unwrap_or_else(|err| panic!("an example does not fit {}: {}", T::name(), err.message()))
}
