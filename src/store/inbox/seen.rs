//! Which delivery ids the inbox may have seen: a Bloom filter over every id in the table and
//! in the journal, so that a new id (nearly every delivery) is known to be new without
//! asking SQLite. "Maybe" is confirmed against the table; "no" is certain.
//!
//! Sized for twice the ids it was loaded with (at least [`MIN_CAPACITY`]), 16 bits per id
//! and 8 probes: about 1 in 1,700 new ids needs the lookup. When full, the writer loads a
//! filter twice as large.

use std::hash::{DefaultHasher, Hash, Hasher};

pub const MIN_CAPACITY: usize = 1 << 16;
const BITS_PER_ID: usize = 16;
const PROBES: u64 = 8;

pub struct Seen {
    bits: Vec<u64>,
    mask: u64,
    count: usize,
    capacity: usize,
}

impl Seen {
    /// An empty filter for at least `capacity` ids.
    pub fn with_capacity(capacity: usize) -> Seen {
        let bits = (capacity * BITS_PER_ID).next_power_of_two().max(64);
        Seen {
            bits: vec![0; bits / 64],
            mask: bits as u64 - 1,
            count: 0,
            capacity,
        }
    }

    pub fn insert(&mut self, id: &str) {
        for bit in probes(id, self.mask) {
            self.bits[(bit / 64) as usize] |= 1 << (bit % 64);
        }
        self.count += 1;
    }

    /// False: certainly never inserted. True: perhaps.
    pub fn may_contain(&self, id: &str) -> bool {
        probes(id, self.mask).all(|bit| self.bits[(bit / 64) as usize] & (1 << (bit % 64)) != 0)
    }

    /// More ids than it was sized for: false "maybe"s grow; time for a larger one.
    pub fn is_full(&self) -> bool {
        self.count >= self.capacity
    }

    pub fn len(&self) -> usize {
        self.count
    }
}

/// Double hashing: bit i = h1 + i·h2 over one 64-bit hash.
fn probes(id: &str, mask: u64) -> impl Iterator<Item = u64> {
    let mut hasher = DefaultHasher::new();
    id.hash(&mut hasher);
    let h = hasher.finish();
    let (h1, h2) = (h & 0xffff_ffff, (h >> 32) | 1);
    (0..PROBES).map(move |i| h1.wrapping_add(i.wrapping_mul(h2)) & mask)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_inserted_id_is_found_and_few_others_are() {
        let mut seen = Seen::with_capacity(50_000);
        for n in 0..50_000 {
            seen.insert(&format!("delivery-{n}"));
        }
        assert!((0..50_000).all(|n| seen.may_contain(&format!("delivery-{n}"))));
        let false_maybes = (0..100_000)
            .filter(|n| seen.may_contain(&format!("other-{n}")))
            .count();
        // Expected about 60 (1 in 1,700); far below 1 in 100 unless the probes are broken.
        assert!(false_maybes < 300, "{false_maybes} of 100000");
        assert!(seen.is_full());
        assert_eq!(seen.len(), 50_000);
    }

    #[test]
    fn an_empty_filter_knows_nothing() {
        let seen = Seen::with_capacity(0);
        assert!(!seen.may_contain(""));
        assert!(!seen.may_contain("a"));
    }
}
