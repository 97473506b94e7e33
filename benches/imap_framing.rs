//! Framing cost of a command that arrives in pieces: a SEARCH of many
//! small literals (`TEXT {1}` keys, 12 bytes each), fed 4 KiB at a time as
//! socket reads deliver it, to mailwire's `CommandReader`, which resumes
//! framing where the previous call stopped. The per-byte cost must stay
//! flat from 1 MB to 100 MB.
//!
//! For contrast, `decode_command` called again on the growing buffer at
//! every read frames from the first byte each time: its per-byte cost grows
//! with the size (quadratic time), so it runs on the two small sizes only.
//!
//! Run with `cargo bench --bench imap_framing -- --warm-up-time 1 --measurement-time 10`.

// `criterion_group!` generates an undocumented `pub fn`.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use mailwire::imap::{CommandBody, CommandReader, Decoded, DecoderConfig, decode_command};

/// One socket read.
const PIECE: usize = 4096;

/// `A1 SEARCH TEXT {1}\r\nx TEXT {1}\r\ny ...` of about `bytes` bytes.
fn command(bytes: usize) -> (Vec<u8>, usize) {
    let keys = bytes / 12;
    let mut c = Vec::with_capacity(keys * 12 + 16);
    c.extend_from_slice(b"A1 SEARCH");
    for i in 0..keys {
        c.extend_from_slice(b" TEXT {1}\r\n");
        c.push(b'a' + (i % 26) as u8);
    }
    c.extend_from_slice(b"\r\n");
    (c, keys)
}

/// Limits that admit the 100 MB command: more keys than the default list
/// limit, a larger whole-message limit.
fn config() -> DecoderConfig {
    let mut config = DecoderConfig::default();
    config.limits.list = 1 << 24;
    config.limits.command_message = 1 << 30;
    config
}

/// Feeds `wire` in pieces through `decode` until a command is complete;
/// answers its number of search keys.
fn feed(wire: &[u8], mut decode: impl FnMut(&[u8]) -> Option<usize>) -> usize {
    let mut end = 0;
    loop {
        end = (end + PIECE).min(wire.len());
        if let Some(keys) = decode(&wire[..end]) {
            return keys;
        }
        assert!(end < wire.len(), "command never completed");
    }
}

fn keys_of(d: Decoded<mailwire::imap::Command<'_>>) -> Option<usize> {
    match d {
        Decoded::Complete { value, .. } => match value.body {
            CommandBody::Search { search, .. } => Some(search.keys.len()),
            other => panic!("{other:?}"),
        },
        _ => None,
    }
}

fn bench_pieces(c: &mut Criterion) {
    let config = config();
    let mut g = c.benchmark_group("imap_command_in_pieces");
    g.sample_size(10);
    for mb in [1usize, 10, 100] {
        let (wire, keys) = command(mb * 1_000_000);
        g.throughput(Throughput::Bytes(wire.len() as u64));
        g.bench_with_input(
            BenchmarkId::new("mailwire_reader", format!("{mb}MB")),
            &wire,
            |b, wire| {
                b.iter(|| {
                    let mut reader = CommandReader::new(config);
                    let n = feed(wire, |input| keys_of(reader.decode(input).unwrap()));
                    assert_eq!(n, keys);
                    black_box(n)
                })
            },
        );
        if mb <= 1 {
            for small in [250_000usize, 1_000_000] {
                let (wire, keys) = command(small);
                g.throughput(Throughput::Bytes(wire.len() as u64));
                g.bench_with_input(
                    BenchmarkId::new("mailwire_stateless", format!("{}KB", small / 1000)),
                    &wire,
                    |b, wire| {
                        b.iter(|| {
                            let n = feed(wire, |input| keys_of(decode_command(input, &config).unwrap()));
                            assert_eq!(n, keys);
                            black_box(n)
                        })
                    },
                );
            }
        }
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(10));
    targets = bench_pieces
}
criterion_main!(benches);
