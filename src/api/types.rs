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
