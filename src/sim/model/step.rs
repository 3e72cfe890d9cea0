//! What a test scripts: the answer to one call, its usage and how its stream behaves.

use std::time::Duration;

use serde_json::Value;

/// The answer to one generating call (messages, chat completions, responses).
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    pub reply: Reply,
    /// Token counts to report; `None` derives them from the request and the reply.
    pub usage: Option<SimUsage>,
    /// Wait this long before each streamed event.
    pub event_delay: Option<Duration>,
    /// Send this many events, then hold the stream until [`super::ModelSim::open_gate`].
    pub gate_after: Option<usize>,
    /// Send this many events, then end the connection without the rest.
    pub cut_after: Option<usize>,
}

/// What the model answers.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    Text(String),
    ToolCall {
        name: String,
        input: Value,
    },
    /// An HTTP error in the provider's shape, with `retry-after: N` when set.
    Error {
        status: u16,
        retry_after: Option<u64>,
    },
}

/// Token counts in Anthropic's terms: `input` excludes the cached tokens. OpenAI routes report
/// `prompt_tokens = input + cache_write + cache_read` with `cached_tokens = cache_read`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SimUsage {
    pub input: u64,
    pub output: u64,
    pub cache_write: u64,
    pub cache_read: u64,
}

impl Step {
    fn new(reply: Reply) -> Step {
        Step {
            reply,
            usage: None,
            event_delay: None,
            gate_after: None,
            cut_after: None,
        }
    }

    pub fn text(s: &str) -> Step {
        Step::new(Reply::Text(s.to_string()))
    }

    pub fn tool_call(name: &str, input: Value) -> Step {
        Step::new(Reply::ToolCall {
            name: name.to_string(),
            input,
        })
    }

    pub fn error(status: u16) -> Step {
        Step::new(Reply::Error {
            status,
            retry_after: None,
        })
    }

    pub fn usage(mut self, usage: SimUsage) -> Step {
        self.usage = Some(usage);
        self
    }

    pub fn event_delay(mut self, delay: Duration) -> Step {
        self.event_delay = Some(delay);
        self
    }

    pub fn gate_after(mut self, n: usize) -> Step {
        self.gate_after = Some(n);
        self
    }

    pub fn cut_after(mut self, n: usize) -> Step {
        self.cut_after = Some(n);
        self
    }

    /// Sets `retry-after` on an error step; no effect on other replies.
    pub fn retry_after(mut self, seconds: u64) -> Step {
        if let Reply::Error { retry_after, .. } = &mut self.reply {
            *retry_after = Some(seconds);
        }
        self
    }
}

impl Default for Step {
    /// What an unscripted call gets: the text `ok`.
    fn default() -> Step {
        Step::text("ok")
    }
}
