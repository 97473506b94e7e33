//! Test-data helpers shared by the benchmarks (each uses a part of them).
#![allow(dead_code)]

/// A small deterministic generator (xorshift64*), so every run benchmarks
/// the same bytes without a `rand` dependency.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// Common English and mail words for generated text.
pub const WORDS: &[&str] = &[
    "the",
    "of",
    "and",
    "to",
    "mailbox",
    "server",
    "message",
    "client",
    "attachment",
    "quarterly",
    "report",
    "please",
    "find",
    "below",
    "regards",
    "meeting",
    "schedule",
    "Thursday",
    "budget",
    "review",
    "draft",
    "version",
    "a",
    "in",
    "is",
    "for",
    "that",
    "with",
    "on",
    "as",
    "be",
    "at",
    "this",
    "by",
    "from",
];
