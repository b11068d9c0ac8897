//! A Server-Sent Events reader for the live-feed tests: frames parsed from the body as
//! it arrives.

use std::time::Duration;

/// One frame of the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// An event: its `id`, `event` and `data` lines.
    Event {
        /// `id:`.
        id: String,
        /// `event:`.
        event: String,
        /// `data:` (the event JSON).
        data: String,
    },
    /// A comment line (heartbeat, closing words).
    Comment(String),
}

/// An open stream.
pub struct SseReader {
    response: reqwest::Response,
    buffer: String,
    /// Frames parsed but not yet taken.
    ready: std::collections::VecDeque<Frame>,
}

/// Opens `url` with the headers (no overall timeout: the stream stays open).
pub async fn open(url: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    let mut req = client.get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.expect("the stream is answered")
}

impl SseReader {
    /// Opens a stream that must answer 200 `text/event-stream`.
    pub async fn connect(url: &str, headers: &[(&str, &str)]) -> Self {
        let response = open(url, headers).await;
        assert_eq!(response.status().as_u16(), 200, "{url} did not open");
        let ct = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(ct.starts_with("text/event-stream"), "content type {ct}");
        Self {
            response,
            buffer: String::new(),
            ready: Default::default(),
        }
    }

    /// The next frame within `wait`; `None` when the stream ended or nothing came.
    pub async fn next(&mut self, wait: Duration) -> Option<Frame> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(f) = self.ready.pop_front() {
                return Some(f);
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk()).await;
            match chunk {
                Ok(Ok(Some(bytes))) => {
                    self.buffer.push_str(&String::from_utf8_lossy(&bytes));
                    self.parse();
                }
                _ => return None,
            }
        }
    }

    /// The next event (skipping comments) within `wait`.
    pub async fn next_event(&mut self, wait: Duration) -> Option<(String, String, String)> {
        loop {
            match self.next(wait).await? {
                Frame::Event { id, event, data } => return Some((id, event, data)),
                Frame::Comment(_) => {}
            }
        }
    }

    fn parse(&mut self) {
        while let Some(end) = self.buffer.find("\n\n") {
            let frame: String = self.buffer.drain(..end + 2).collect();
            let (mut id, mut event, mut data) = (String::new(), String::new(), Vec::new());
            for line in frame.lines() {
                if let Some(c) = line.strip_prefix(':') {
                    self.ready.push_back(Frame::Comment(c.trim().to_owned()));
                } else if let Some(v) = line.strip_prefix("id:") {
                    id = v.trim_start().to_owned();
                } else if let Some(v) = line.strip_prefix("event:") {
                    event = v.trim_start().to_owned();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push(v.strip_prefix(' ').unwrap_or(v).to_owned());
                }
            }
            if !id.is_empty() || !data.is_empty() {
                self.ready.push_back(Frame::Event {
                    id,
                    event,
                    data: data.join("\n"),
                });
            }
        }
    }
}
