//! Envelopes shared by every `/v1` operation: `{"data": …}` and paginated lists.

use poem_openapi::{
    types::{ParseFromJSON, ToJSON},
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

/// A JSON body documented in OpenAPI with `T`'s schema but handed to the core as raw JSON,
/// so the core can report every failing field with its path (the framework's parser stops at
/// the first error and has no paths).
pub struct Documented<T> {
    pub value: serde_json::Value,
    _schema: std::marker::PhantomData<fn() -> T>,
}

impl<T: poem_openapi::types::Type> poem_openapi::types::Type for Documented<T> {
    const IS_REQUIRED: bool = true;
    type RawValueType = serde_json::Value;
    type RawElementValueType = serde_json::Value;

    fn name() -> std::borrow::Cow<'static, str> {
        T::name()
    }

    fn schema_ref() -> poem_openapi::registry::MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut poem_openapi::registry::Registry) {
        T::register(registry)
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(&self.value)
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(std::iter::once(&self.value))
    }
}

impl<T: poem_openapi::types::Type> ParseFromJSON for Documented<T> {
    fn parse_from_json(value: Option<serde_json::Value>) -> poem_openapi::types::ParseResult<Self> {
        Ok(Documented {
            value: value.unwrap_or_default(),
            _schema: std::marker::PhantomData,
        })
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
