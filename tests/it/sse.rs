//! A Server-Sent Events reader for the tests of both faces' streams.

use std::time::Duration;

use reqwest::RequestBuilder;
use serde_json::Value;

/// Longest a test waits for the next message.
const SSE_WAIT: Duration = Duration::from_secs(10);

/// One message of an SSE stream.
#[derive(Debug)]
pub struct SseMessage {
    pub id: Option<String>,
    pub event: String,
    pub data: Value,
    /// The `data:` text exactly as sent.
    pub raw: String,
}

/// An open `text/event-stream` response, read message by message.
pub struct SseStream {
    response: reqwest::Response,
    buffer: Vec<u8>,
}

impl SseStream {
    /// Sends the stream request; asserts it opened as an event stream.
    pub async fn connect(request: RequestBuilder, path: &str) -> SseStream {
        let response = request.send().await.expect("stream opened");
        assert_eq!(response.status(), 200, "GET {path}");
        let content_type = response.headers()["content-type"].to_str().unwrap();
        assert!(
            content_type.starts_with("text/event-stream"),
            "{content_type}"
        );
        SseStream {
            response,
            buffer: Vec::new(),
        }
    }

    pub async fn next(&mut self) -> SseMessage {
        loop {
            if let Some(message) = self.take_message() {
                return message;
            }
            let chunk = tokio::time::timeout(SSE_WAIT, self.response.chunk())
                .await
                .expect("no SSE message within 10 s")
                .expect("stream readable")
                .expect("stream ended");
            self.buffer.extend_from_slice(&chunk);
        }
    }

    pub async fn take(&mut self, n: usize) -> Vec<SseMessage> {
        let mut messages = Vec::with_capacity(n);
        for _ in 0..n {
            messages.push(self.next().await);
        }
        messages
    }

    /// The next complete message in the buffer; keep-alive comments are skipped.
    fn take_message(&mut self) -> Option<SseMessage> {
        while let Some(end) = self.buffer.windows(2).position(|w| w == b"\n\n") {
            let block: Vec<u8> = self.buffer.drain(..end + 2).collect();
            if let Some(message) = parse_block(std::str::from_utf8(&block).expect("UTF-8")) {
                return Some(message);
            }
        }
        None
    }
}

fn parse_block(block: &str) -> Option<SseMessage> {
    let (mut id, mut event, mut data) = (None, None, Vec::new());
    for line in block.lines() {
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "id" => id = Some(value.to_string()),
            "event" => event = Some(value.to_string()),
            "data" => data.push(value),
            // Comments (`: keep-alive`) and fields these tests do not use.
            _ => {}
        }
    }
    if event.is_none() && data.is_empty() {
        return None;
    }
    let raw = data.join("\n");
    Some(SseMessage {
        id,
        event: event.unwrap_or_else(|| "message".into()),
        data: serde_json::from_str(&raw).expect("SSE data is JSON"),
        raw,
    })
}
