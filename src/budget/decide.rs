//! Before a call goes out: its worst case, and whether the caps leave room for it.

use super::{Cap, MicroUsd, Price};

/// The smallest answer worth asking for: when the budget cannot pay for this many output
/// tokens beyond the input, the call is refused instead of lowered.
pub const MIN_ANSWER_TOKENS: u64 = 256;

/// Input the provider adds to what the request holds: Anthropic's tool-use system prompt is
/// a few hundred tokens; this covers it with room to spare.
pub const INPUT_OVERHEAD_TOKENS: u64 = 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Send it, with `max_tokens` (lowered from what was asked when `lowered`), holding
    /// `reserve`, the most it can cost.
    Forward {
        reserve: MicroUsd,
        max_tokens: u64,
        lowered: bool,
    },
    /// Not even a small answer fits under `cap`.
    Refuse { cap: Cap },
}

/// The call's worst case is its input, counted as one token per byte of the request (a token
/// is at least a byte of text, so this never falls short) plus [`INPUT_OVERHEAD_TOKENS`], at
/// the dearest input price, plus `max_tokens` at the output price. `asked`: the request's own limit; without one, `ceiling`.
pub fn decide(
    price: &Price,
    request_bytes: usize,
    asked: Option<u64>,
    ceiling: u64,
    room: (MicroUsd, Cap),
) -> Decision {
    let input = (request_bytes as u64 + INPUT_OVERHEAD_TOKENS) as f64 * price.dearest_input();
    let wanted = asked.unwrap_or(ceiling).max(1);
    let worst = |tokens: u64| MicroUsd((input + tokens as f64 * price.output).ceil() as i64);
    let (left, cap) = room;
    if worst(wanted) <= left {
        return Decision::Forward {
            reserve: worst(wanted),
            max_tokens: wanted,
            lowered: asked.is_none_or(|a| a != wanted),
        };
    }
    let affordable = if price.output > 0.0 {
        ((left.0 as f64 - input) / price.output).floor()
    } else {
        0.0
    };
    if affordable >= MIN_ANSWER_TOKENS.min(wanted) as f64 {
        let tokens = (affordable as u64).min(wanted);
        if worst(tokens) <= left {
            return Decision::Forward {
                reserve: worst(tokens),
                max_tokens: tokens,
                lowered: true,
            };
        }
    }
    Decision::Refuse { cap }
}
