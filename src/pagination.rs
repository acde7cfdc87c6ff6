//! Page requests for list endpoints: `page` from 1, `pageSize` 1–100 (default 20).

use crate::error::{Error, FieldError};

pub const DEFAULT_PAGE_SIZE: u32 = 20;
pub const MAX_PAGE_SIZE: u32 = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub page: u32,
    pub page_size: u32,
}

impl PageRequest {
    /// Validates the raw query values; every bad one is reported.
    pub fn parse(page: Option<i64>, page_size: Option<i64>) -> Result<Self, Error> {
        let mut errors = Vec::new();
        let page = page.unwrap_or(1);
        if !(1..=i64::from(u32::MAX)).contains(&page) {
            errors.push(FieldError::new(&["page"], "must be at least 1"));
        }
        let page_size = page_size.unwrap_or(i64::from(DEFAULT_PAGE_SIZE));
        if !(1..=i64::from(MAX_PAGE_SIZE)).contains(&page_size) {
            errors.push(FieldError::new(
                &["pageSize"],
                format!("must be between 1 and {MAX_PAGE_SIZE}"),
            ));
        }
        if !errors.is_empty() {
            return Err(Error::Validation(errors));
        }
        Ok(PageRequest {
            page: page as u32,
            page_size: page_size as u32,
        })
    }

    pub fn limit(&self) -> i64 {
        i64::from(self.page_size)
    }

    pub fn offset(&self) -> i64 {
        (i64::from(self.page) - 1) * i64::from(self.page_size)
    }
}

/// One page of results and the total across all pages.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: i64,
    pub request: PageRequest,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_offsets() {
        let req = PageRequest::parse(None, None).unwrap();
        assert_eq!((req.page, req.page_size, req.offset()), (1, 20, 0));
        let req = PageRequest::parse(Some(3), Some(50)).unwrap();
        assert_eq!((req.limit(), req.offset()), (50, 100));
    }

    #[test]
    fn reports_every_bad_value() {
        match PageRequest::parse(Some(0), Some(101)) {
            Err(Error::Validation(errors)) => assert_eq!(errors.len(), 2),
            other => panic!("unexpected {other:?}"),
        }
    }
}
