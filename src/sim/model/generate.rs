//! What a generating call produces: the output, its usage, and whether `max_tokens` cut it.

use serde_json::Value;

use super::step::SimUsage;

/// The model's output, before any provider shapes it.
#[derive(Clone, Debug)]
pub(crate) enum Output {
    Text(String),
    Tool { name: String, input: Value },
}

/// One generated answer.
#[derive(Clone, Debug)]
pub(crate) struct Outcome {
    /// The request's `model`, echoed as the providers do.
    pub model: String,
    pub output: Output,
    pub usage: SimUsage,
    /// The output reached the request's token limit.
    pub clamped: bool,
}

impl Outcome {
    /// Builds the answer to a request of `body_len` bytes limited to `max_tokens`. Without
    /// scripted usage, input is `ceil(body_len / 4)` and output the number of words (min 1;
    /// for a tool call, `ceil(len(arguments) / 4)`).
    pub fn new(
        model: &str,
        output: Output,
        usage: Option<SimUsage>,
        body_len: usize,
        max_tokens: Option<u64>,
    ) -> Outcome {
        let mut usage = usage.unwrap_or_else(|| SimUsage {
            input: (body_len as u64).div_ceil(4),
            output: match &output {
                Output::Text(text) => text.split_whitespace().count().max(1) as u64,
                Output::Tool { input, .. } => (input.to_string().len() as u64).div_ceil(4).max(1),
            },
            cache_write: 0,
            cache_read: 0,
        });
        let mut output = output;
        let clamped = max_tokens.is_some_and(|max| usage.output > max);
        if let (true, Some(max)) = (clamped, max_tokens) {
            usage.output = max;
            if let Output::Text(text) = &output {
                let kept: String = pieces(text).into_iter().take(max as usize).collect();
                output = Output::Text(kept);
            }
        }
        Outcome {
            model: model.to_string(),
            output,
            usage,
            clamped,
        }
    }

    /// The tool input as the JSON text the providers stream and OpenAI returns.
    pub fn arguments(input: &Value) -> String {
        input.to_string()
    }

    /// Prompt tokens as OpenAI counts them (cached ones included).
    pub fn openai_prompt_tokens(&self) -> u64 {
        self.usage.input + self.usage.cache_write + self.usage.cache_read
    }
}

/// `text` in streaming deltas: one per word, each carrying the whitespace before it.
pub(crate) fn pieces(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut current = String::new();
    for c in text.chars() {
        let word_ended = current.chars().last().is_some_and(|l| !l.is_whitespace());
        if c.is_whitespace() && word_ended {
            out.push(std::mem::take(&mut current));
        }
        current.push(c);
    }
    match out.last_mut() {
        Some(last) if current.chars().all(char::is_whitespace) => last.push_str(&current),
        _ if !current.is_empty() => out.push(current),
        _ => {}
    }
    out
}

/// A JSON text in streaming deltas of at most 8 characters.
pub(crate) fn json_pieces(json: &str) -> Vec<String> {
    let chars: Vec<char> = json.chars().collect();
    chars.chunks(8).map(|c| c.iter().collect()).collect()
}

#[cfg(test)]
mod unit {
    use super::pieces;

    #[test]
    fn pieces_keep_every_character() {
        assert_eq!(pieces("Hello big  world"), ["Hello", " big", "  world"]);
        assert_eq!(pieces(" lead trail "), [" lead", " trail "]);
        assert!(pieces("").is_empty());
    }
}
