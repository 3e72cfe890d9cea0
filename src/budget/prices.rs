//! What models cost: a table built in for current models, which the operator's config file can
//! extend or override (`[prices."MODEL-ID"]`).

use std::collections::BTreeMap;

use super::{MicroUsd, Usage};

/// USD per million tokens, which is also micro-dollars per token.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Price {
    pub input: f64,
    pub output: f64,
    pub cache_write: f64,
    pub cache_read: f64,
}

impl Price {
    /// What `usage` costs, rounded up.
    pub fn cost(&self, usage: &Usage) -> MicroUsd {
        let micro = usage.input as f64 * self.input
            + usage.output as f64 * self.output
            + usage.cache_write as f64 * self.cache_write
            + usage.cache_read as f64 * self.cache_read;
        MicroUsd(micro.ceil() as i64)
    }

    /// The most one input token can cost (it may be written to the cache).
    pub fn dearest_input(&self) -> f64 {
        self.input.max(self.cache_write).max(self.cache_read)
    }
}

/// `(model, input, output, cache write, cache read)`, USD per million tokens, as the providers
/// publish them. Anthropic writes to its cache at 1.25× and reads at 0.1× the input price;
/// OpenAI caches without a write charge.
const BUILT_IN: &[(&str, f64, f64, f64, f64)] = &[
    ("claude-opus-4-5", 5.0, 25.0, 6.25, 0.5),
    ("claude-opus-4-1", 15.0, 75.0, 18.75, 1.5),
    ("claude-opus-4-0", 15.0, 75.0, 18.75, 1.5),
    ("claude-opus-4", 15.0, 75.0, 18.75, 1.5),
    ("claude-sonnet-4-5", 3.0, 15.0, 3.75, 0.3),
    ("claude-sonnet-4-0", 3.0, 15.0, 3.75, 0.3),
    ("claude-sonnet-4", 3.0, 15.0, 3.75, 0.3),
    ("claude-3-7-sonnet", 3.0, 15.0, 3.75, 0.3),
    ("claude-haiku-4-5", 1.0, 5.0, 1.25, 0.1),
    ("claude-3-5-haiku", 0.8, 4.0, 1.0, 0.08),
    ("claude-3-haiku", 0.25, 1.25, 0.3, 0.03),
    ("gpt-5.1", 1.25, 10.0, 1.25, 0.125),
    ("gpt-5.1-codex", 1.25, 10.0, 1.25, 0.125),
    ("gpt-5.1-codex-mini", 0.25, 2.0, 0.25, 0.025),
    ("gpt-5", 1.25, 10.0, 1.25, 0.125),
    ("gpt-5-codex", 1.25, 10.0, 1.25, 0.125),
    ("gpt-5-mini", 0.25, 2.0, 0.25, 0.025),
    ("gpt-5-nano", 0.05, 0.4, 0.05, 0.005),
    ("gpt-4.1", 2.0, 8.0, 2.0, 0.5),
    ("gpt-4.1-mini", 0.4, 1.6, 0.4, 0.1),
    ("gpt-4.1-nano", 0.1, 0.4, 0.1, 0.025),
    ("gpt-4o", 2.5, 10.0, 2.5, 1.25),
    ("gpt-4o-mini", 0.15, 0.6, 0.15, 0.075),
    ("o3", 2.0, 8.0, 2.0, 0.5),
    ("o4-mini", 1.1, 4.4, 1.1, 0.275),
    ("codex-mini-latest", 1.5, 6.0, 1.5, 0.375),
];

#[derive(Debug, PartialEq, thiserror::Error)]
#[error("prices.\"{model}\": {problem}")]
pub struct PriceError {
    pub model: String,
    pub problem: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct PriceTable(BTreeMap<String, Price>);

impl Default for PriceTable {
    fn default() -> PriceTable {
        PriceTable(
            BUILT_IN
                .iter()
                .map(|&(model, input, output, cache_write, cache_read)| {
                    let price = Price {
                        input,
                        output,
                        cache_write,
                        cache_read,
                    };
                    (model.to_string(), price)
                })
                .collect(),
        )
    }
}

impl PriceTable {
    /// The built-in table with the operator's entries over it (a configured entry wins).
    /// `input` and `output` are required; a missing cache price is the input price (never
    /// less than the truth for a provider that charges one).
    pub fn with_overrides(table: &toml::Table) -> Result<PriceTable, PriceError> {
        let mut prices = PriceTable::default();
        for (model, value) in table {
            let fail = |problem: &str| PriceError {
                model: model.clone(),
                problem: problem.to_string(),
            };
            let entry = value
                .as_table()
                .ok_or_else(|| fail("must be a table like { input = 3.0, output = 15.0 }"))?;
            let number = |key: &str| -> Result<Option<f64>, PriceError> {
                match entry.get(key) {
                    None => Ok(None),
                    Some(v) => v
                        .as_float()
                        .or_else(|| v.as_integer().map(|i| i as f64))
                        .filter(|n| n.is_finite() && *n >= 0.0)
                        .map(Some)
                        .ok_or_else(|| {
                            fail(&format!("{key} must be USD per million tokens, 0 or more"))
                        }),
                }
            };
            if let Some(key) = entry
                .keys()
                .find(|k| !["input", "output", "cache_write", "cache_read"].contains(&k.as_str()))
            {
                return Err(fail(&format!(
                    "unknown key {key} (known: input, output, cache_write, cache_read)"
                )));
            }
            let input = number("input")?.ok_or_else(|| fail("input is missing"))?;
            let output = number("output")?.ok_or_else(|| fail("output is missing"))?;
            let price = Price {
                input,
                output,
                cache_write: number("cache_write")?.unwrap_or(input),
                cache_read: number("cache_read")?.unwrap_or(input),
            };
            prices.0.insert(model.clone(), price);
        }
        Ok(prices)
    }

    /// The price of `model`: its own entry, else that of the id without a date or `-latest`
    /// suffix (`claude-sonnet-4-5-20250929`, `gpt-4o-2024-08-06`, `claude-3-5-haiku-latest`).
    pub fn get(&self, model: &str) -> Option<Price> {
        self.0
            .get(model)
            .or_else(|| self.0.get(undated(model)?))
            .copied()
    }
}

fn undated(model: &str) -> Option<&str> {
    if let Some(base) = model.strip_suffix("-latest") {
        return Some(base);
    }
    let (base, date) = model.rsplit_once('-')?;
    if date.len() == 8 && date.bytes().all(|b| b.is_ascii_digit()) {
        return Some(base);
    }
    // -YYYY-MM-DD
    let bytes = model.as_bytes();
    let n = bytes.len();
    let dated = n > 11
        && bytes[n - 11] == b'-'
        && bytes[n - 6] == b'-'
        && bytes[n - 3] == b'-'
        && model[n - 10..].bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    dated.then(|| &model[..n - 11])
}
