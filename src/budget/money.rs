//! Money in millionths of a US dollar: sums are exact, and a cost is always rounded up.

use serde::Serialize;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct MicroUsd(pub i64);

impl MicroUsd {
    /// Dollars as configured (`2.5`), rounded up to the next micro-dollar.
    pub fn from_usd(usd: f64) -> MicroUsd {
        MicroUsd((usd * 1e6).ceil() as i64)
    }

    pub fn as_usd(self) -> f64 {
        self.0 as f64 / 1e6
    }
}

impl std::ops::Sub for MicroUsd {
    type Output = MicroUsd;
    fn sub(self, other: MicroUsd) -> MicroUsd {
        MicroUsd(self.0.saturating_sub(other.0))
    }
}

impl std::ops::Add for MicroUsd {
    type Output = MicroUsd;
    fn add(self, other: MicroUsd) -> MicroUsd {
        MicroUsd(self.0.saturating_add(other.0))
    }
}

impl std::iter::Sum for MicroUsd {
    fn sum<I: Iterator<Item = MicroUsd>>(iter: I) -> MicroUsd {
        iter.fold(MicroUsd(0), |a, b| a + b)
    }
}

/// `$0.42`, `$12.00`; under a cent, `$0.0031` (four places), so a small spend never reads as
/// nothing.
impl std::fmt::Display for MicroUsd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let usd = self.as_usd();
        if self.0 != 0 && usd.abs() < 0.01 {
            write!(f, "${usd:.4}")
        } else {
            write!(f, "${usd:.2}")
        }
    }
}
