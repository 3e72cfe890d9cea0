//! Which delivery ids the inbox may have seen: a Bloom filter over every id in the table and
//! in the journal, so that a new id (nearly every delivery) is known to be new without
//! asking SQLite. "Maybe" is confirmed against the table; "no" is certain.
//!
//! Layers of 16 bits per id and 8 probes (about 1 in 1,700 new ids needs the lookup); when
//! the newest layer holds as many ids as it was sized for, a layer twice as large takes the
//! next ones, so growing never rereads the table (a scalable Bloom filter).

use std::hash::{DefaultHasher, Hash, Hasher};

pub const MIN_CAPACITY: usize = 1 << 16;
const BITS_PER_ID: usize = 16;
const PROBES: u64 = 8;

pub struct Seen {
    layers: Vec<Layer>,
}

struct Layer {
    bits: Vec<u64>,
    mask: u64,
    count: usize,
    capacity: usize,
}

impl Seen {
    /// An empty filter whose first layer is sized for `capacity` ids.
    pub fn with_capacity(capacity: usize) -> Seen {
        Seen {
            layers: vec![Layer::new(capacity)],
        }
    }

    pub fn insert(&mut self, id: &str) {
        let newest = self.layers.last().expect("never empty");
        if newest.count >= newest.capacity {
            let capacity = 2 * newest.capacity.max(1);
            self.layers.push(Layer::new(capacity));
        }
        self.layers.last_mut().expect("never empty").insert(id);
    }

    /// False: certainly never inserted. True: perhaps.
    pub fn may_contain(&self, id: &str) -> bool {
        let hash = hash(id);
        self.layers.iter().any(|layer| layer.may_contain(hash))
    }
}

impl Layer {
    fn new(capacity: usize) -> Layer {
        let bits = (capacity * BITS_PER_ID).next_power_of_two().max(64);
        Layer {
            bits: vec![0; bits / 64],
            mask: bits as u64 - 1,
            count: 0,
            capacity,
        }
    }

    fn insert(&mut self, id: &str) {
        for bit in probes(hash(id), self.mask) {
            self.bits[(bit / 64) as usize] |= 1 << (bit % 64);
        }
        self.count += 1;
    }

    fn may_contain(&self, hash: u64) -> bool {
        probes(hash, self.mask).all(|bit| self.bits[(bit / 64) as usize] & (1 << (bit % 64)) != 0)
    }
}

fn hash(id: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    id.hash(&mut hasher);
    hasher.finish()
}

/// Double hashing: bit i = h1 + i·h2 over one 64-bit hash.
fn probes(hash: u64, mask: u64) -> impl Iterator<Item = u64> {
    let (h1, h2) = (hash & 0xffff_ffff, (hash >> 32) | 1);
    (0..PROBES).map(move |i| h1.wrapping_add(i.wrapping_mul(h2)) & mask)
}

#[cfg(test)]
mod tests;
