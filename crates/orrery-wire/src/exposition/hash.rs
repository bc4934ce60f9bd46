//! A keyed 64-bit hasher for series text and labels, faster than SipHash on short
//! byte strings: 8-byte words mixed by a folded 128-bit multiply (the wyhash
//! primitive). Shared by the parser's duplicate check and family map and by the
//! agent's scrape cache.
//!
//! Hash values live only in memory and are never written anywhere. The key is random
//! per [`SeededWords::random`], so a scrape target cannot craft colliding series to
//! make a map quadratic; users confirm a match by comparing, so a collision is only
//! ever slower, never wrong.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

/// The hasher: feed it with [`WordHasher::word`] and [`WordHasher::bytes`] (or as a
/// [`Hasher`]) and read the state with [`Hasher::finish`].
pub struct WordHasher(u64);

impl WordHasher {
    /// A hasher keyed with `seed`.
    pub fn new(seed: u64) -> Self {
        WordHasher(seed)
    }

    /// Mixes in one word.
    pub fn word(&mut self, w: u64) {
        let m = u128::from(self.0 ^ w ^ 0xa076_1d64_78bd_642f) * 0xe703_7ed1_a0b4_28db_u128;
        self.0 = (m as u64) ^ ((m >> 64) as u64);
    }

    /// Mixes in a byte string, 8 bytes at a time.
    pub fn bytes(&mut self, b: &[u8]) {
        let mut chunks = b.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.word(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        // The length tells "a" from "a\0" and keeps word boundaries unambiguous.
        self.word(u64::from_le_bytes(w) ^ ((b.len() as u64) << 56));
    }
}

impl Hasher for WordHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.bytes(bytes);
    }

    fn write_u8(&mut self, i: u8) {
        self.word(u64::from(i));
    }

    fn write_u64(&mut self, i: u64) {
        self.word(i);
    }

    fn write_usize(&mut self, i: usize) {
        self.word(i as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// [`WordHasher`] as a keyed [`BuildHasher`] for maps; clones share the key.
#[derive(Clone)]
pub struct SeededWords(u64);

impl SeededWords {
    /// A fresh random key.
    pub fn random() -> Self {
        SeededWords(RandomState::new().hash_one(0x6f72_7265_7279u64))
    }

    /// The key, for hashing by hand with [`WordHasher::new`].
    pub fn seed(&self) -> u64 {
        self.0
    }
}

impl BuildHasher for SeededWords {
    type Hasher = WordHasher;

    fn build_hasher(&self) -> WordHasher {
        WordHasher(self.0)
    }
}
