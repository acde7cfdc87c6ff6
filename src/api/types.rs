//! Envelopes shared by every `/v1` operation: `{"data": …}` and paginated lists.

use std::{borrow::Cow, marker::PhantomData};

use poem_openapi::{
    registry::{MetaSchema, MetaSchemaRef, Registry},
    types::{ParseError, ParseFromJSON, ParseFromParameter, ParseResult, ToJSON, Type},
    Object,
};

use crate::pagination::Page;

/// The success envelope: `{"data": …}`.
#[derive(Debug, Object)]
pub struct Data<T: ParseFromJSON + ToJSON> {
    pub data: T,
}

impl<T: ParseFromJSON + ToJSON> Data<T> {
    pub fn new(data: T) -> Self {
        Data { data }
    }
}

/// One page of a list: `{"items": [...], "total", "page", "pageSize"}`.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct ListPage<T: ParseFromJSON + ToJSON> {
    pub items: Vec<T>,
    /// Items across all pages.
    pub total: i64,
    /// This page's number, from 1.
    pub page: u32,
    pub page_size: u32,
}

impl<T: ParseFromJSON + ToJSON> ListPage<T> {
    /// Maps a core page into the envelope, converting each item.
    pub fn from_page<U>(page: Page<U>, convert: impl FnMut(U) -> T) -> Self {
        ListPage {
            items: page.items.into_iter().map(convert).collect(),
            total: page.total,
            page: page.request.page,
            page_size: page.request.page_size,
        }
    }
}

/// A value documented in OpenAPI with `T`'s schema but read and written as `R` (raw JSON by
/// default). Request bodies use it so the core can report every failing field with its path
/// (the framework's parser stops at the first error and has no paths); the OpenIntent face
/// uses it to answer the core's JSON as built while documenting its shape; fields use it to
/// document a vocabulary (an enum) without changing what the wire accepts.
pub struct Documented<T, R = serde_json::Value> {
    pub value: R,
    _schema: PhantomData<fn() -> T>,
}

impl<T, R> Documented<T, R> {
    pub fn new(value: R) -> Self {
        Documented {
            value,
            _schema: PhantomData,
        }
    }
}

impl<T, R: Clone> Clone for Documented<T, R> {
    fn clone(&self) -> Self {
        Documented::new(self.value.clone())
    }
}

impl<T, R: std::fmt::Debug> std::fmt::Debug for Documented<T, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.value.fmt(f)
    }
}

impl<T: Type, R: Type> Type for Documented<T, R> {
    const IS_REQUIRED: bool = R::IS_REQUIRED;
    type RawValueType = R::RawValueType;
    type RawElementValueType = R::RawElementValueType;

    fn name() -> Cow<'static, str> {
        T::name()
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry)
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        self.value.as_raw_value()
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        self.value.raw_element_iter()
    }
}

impl<T: Type, R: ParseFromJSON> ParseFromJSON for Documented<T, R> {
    fn parse_from_json(value: Option<serde_json::Value>) -> ParseResult<Self> {
        R::parse_from_json(value)
            .map(Documented::new)
            .map_err(ParseError::propagate)
    }
}

impl<T: Type, R: ToJSON> ToJSON for Documented<T, R> {
    fn to_json(&self) -> Option<serde_json::Value> {
        self.value.to_json()
    }
}

impl<T: Type, R: ParseFromParameter> ParseFromParameter for Documented<T, R> {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        R::parse_from_parameter(value)
            .map(Documented::new)
            .map_err(ParseError::propagate)
    }

    fn parse_from_parameters<I: IntoIterator<Item = A>, A: AsRef<str>>(
        iter: I,
    ) -> ParseResult<Self> {
        R::parse_from_parameters(iter)
            .map(Documented::new)
            .map_err(ParseError::propagate)
    }
}

/// A free-form JSON object (intent params and state, metadata, audit data): documented as
/// `type: object`, carried as the JSON it is.
#[derive(Debug, Clone, Default)]
pub struct JsonObject(pub serde_json::Value);

impl Type for JsonObject {
    const IS_REQUIRED: bool = true;
    type RawValueType = serde_json::Value;
    type RawElementValueType = serde_json::Value;

    fn name() -> Cow<'static, str> {
        "object".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema::new("object")))
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(&self.0)
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(std::iter::once(&self.0))
    }
}

impl ParseFromJSON for JsonObject {
    fn parse_from_json(value: Option<serde_json::Value>) -> ParseResult<Self> {
        match value.unwrap_or_default() {
            value @ serde_json::Value::Object(_) => Ok(JsonObject(value)),
            other => Err(ParseError::expected_type(other)),
        }
    }
}

impl ToJSON for JsonObject {
    fn to_json(&self) -> Option<serde_json::Value> {
        Some(self.0.clone())
    }
}

impl From<serde_json::Value> for JsonObject {
    fn from(value: serde_json::Value) -> Self {
        JsonObject(value)
    }
}

/// An optional JSON request body: an empty body (with or without a content type) is `None`,
/// anything else must be JSON of `T`'s shape.
pub struct OptionalJson<T>(pub Option<T>);

impl<'a, T: ParseFromJSON + Send> poem_openapi::ApiExtractor<'a> for OptionalJson<T> {
    const TYPES: &'static [poem_openapi::ApiExtractorType] =
        &[poem_openapi::ApiExtractorType::RequestObject];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut poem_openapi::registry::Registry) {
        T::register(registry);
    }

    fn request_meta() -> Option<poem_openapi::registry::MetaRequest> {
        Some(poem_openapi::registry::MetaRequest {
            description: None,
            content: vec![poem_openapi::registry::MetaMediaType {
                content_type: "application/json",
                schema: T::schema_ref(),
            }],
            required: false,
        })
    }

    async fn from_request(
        request: &'a poem::Request,
        body: &mut poem::RequestBody,
        _param_opts: poem_openapi::ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        use poem_openapi::error::{ContentTypeError, ParseRequestPayloadError};
        let bytes = body.take()?.into_vec().await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(None));
        }
        match request.content_type() {
            Some(content_type) if content_type.starts_with("application/json") => {}
            Some(content_type) => {
                return Err(ContentTypeError::NotSupported {
                    content_type: content_type.to_string(),
                }
                .into())
            }
            None => return Err(ContentTypeError::ExpectContentType.into()),
        }
        let value: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|err| ParseRequestPayloadError {
                reason: err.to_string(),
            })?;
        let parsed = T::parse_from_json(Some(value)).map_err(|err| ParseRequestPayloadError {
            reason: err.into_message(),
        })?;
        Ok(OptionalJson(Some(parsed)))
    }
}

/// A PATCH field: `None` when absent (leave it), `Some(None)` when null (clear it), else the
/// converted value.
pub fn patch<T, U>(
    field: poem_openapi::types::MaybeUndefined<T>,
    convert: impl FnOnce(T) -> U,
) -> Option<Option<U>> {
    use poem_openapi::types::MaybeUndefined;
    match field {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(value) => Some(Some(convert(value))),
    }
}
