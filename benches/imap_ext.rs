//! IMAP extension benchmarks: CONDSTORE/QRESYNC and SORT/THREAD traffic,
//! decoded by mailwire, by `imap-codec` 2.0.0-alpha.6 with its
//! `ext_condstore_qresync` feature (the 1.0 release decodes none of these
//! responses) and by `imap-proto` 0.17, in the same run, on the same
//! inputs, where each can decode them: imap-codec refuses VANISHED, and
//! imap-proto has no THREAD.
//!
//! Run with `cargo bench --bench imap_ext -- --warm-up-time 1 --measurement-time 5`;
//! `benches/README.md` has the results.
//!
//! Groups (throughput counts wire bytes):
//!
//! - `imap_condstore_fetch_decode`: 10,000 FETCH responses of a CONDSTORE
//!   resynchronisation (`UID FETCH 1:* (FLAGS) (CHANGEDSINCE m)`): `UID`,
//!   `MODSEQ (m)` and `FLAGS`.
//! - `imap_vanished_decode`: one `* VANISHED (EARLIER)` of 100,000
//!   scattered UIDs (a QRESYNC SELECT after a large expunge).
//! - `imap_sort_decode`: one `* SORT` of 100,000 UIDs in date order.
//! - `imap_thread_decode`: one `* THREAD` (REFERENCES) of 100,000
//!   messages in 20,000 threads of varied shape.

// `criterion_group!` generates an undocumented `pub fn`.
#![allow(missing_docs)]

#[path = "common/mod.rs"]
mod common;

use std::hint::black_box;
use std::time::Duration;

use common::Rng;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use imap_codec_next::ResponseCodec;
use imap_codec_next::decode::Decoder as _;
use mailwire::imap::{DecoderConfig, MessageDataItem, Response, decode_response};

/// What a decoded stream holds, counted the same way for every decoder:
/// responses, and the numbers (UIDs, mod-sequences, message numbers) in
/// them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Tally {
    responses: usize,
    numbers: u64,
}

// ---------------------------------------------------------------------------
// Corpora
// ---------------------------------------------------------------------------

fn condstore_fetch() -> Vec<u8> {
    let mut rng = Rng(0x5eed_c0de);
    let mut out = Vec::new();
    let mut modseq = 90_000_000_000u64;
    for seq in 1..=10_000u32 {
        modseq += 1 + rng.below(40) as u64;
        let flags = [
            "\\Seen",
            "\\Seen \\Answered",
            "",
            "\\Seen $Forwarded",
            "\\Flagged \\Seen",
        ][rng.below(5)];
        out.extend_from_slice(
            format!(
                "* {seq} FETCH (UID {} MODSEQ ({modseq}) FLAGS ({flags}))\r\n",
                seq * 3 + 1_000
            )
            .as_bytes(),
        );
    }
    out
}

/// 100,000 UIDs, mostly isolated, some in short runs.
fn vanished() -> Vec<u8> {
    let mut rng = Rng(0xdead_beef);
    let mut out = b"* VANISHED (EARLIER) ".to_vec();
    let mut uid = 1_000u64;
    let mut count = 0;
    let mut first = true;
    while count < 100_000 {
        uid += 2 + rng.below(5) as u64;
        if !first {
            out.push(b',');
        }
        first = false;
        if rng.below(10) == 0 {
            let run = 2 + rng.below(4) as u64;
            out.extend_from_slice(format!("{uid}:{}", uid + run - 1).as_bytes());
            uid += run;
            count += run;
        } else {
            out.extend_from_slice(uid.to_string().as_bytes());
            count += 1;
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

fn sort() -> Vec<u8> {
    let mut rng = Rng(0x50_47);
    let mut uids: Vec<u32> = (1..=100_000u32).map(|i| i * 7 + 40_000).collect();
    // A date order: mostly increasing, with local shuffles.
    for i in 0..uids.len() {
        let j = (i + rng.below(50)).min(uids.len() - 1);
        uids.swap(i, j);
    }
    let mut out = b"* SORT".to_vec();
    for u in uids {
        out.push(b' ');
        out.extend_from_slice(u.to_string().as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// Threads of 1 to 12 messages: chains, and chains that split in two or
/// three, nested up to three levels, as REFERENCES gives for a mailing list.
fn thread() -> Vec<u8> {
    fn subtree(rng: &mut Rng, next: &mut u32, budget: u32, depth: u32, out: &mut Vec<u8>) {
        // A chain of one or more messages, then maybe a split.
        let chain = 1 + rng.below(3) as u32;
        out.push(b'(');
        for i in 0..chain.min(budget) {
            if i > 0 {
                out.push(b' ');
            }
            out.extend_from_slice(next.to_string().as_bytes());
            *next += 1;
        }
        let left = budget.saturating_sub(chain);
        if left >= 2 && depth < 3 {
            out.push(b' ');
            let ways = 2 + (rng.below(2) as u32).min(left - 2);
            let each = left / ways;
            for _ in 0..ways {
                subtree(rng, next, each.max(1), depth + 1, out);
            }
        }
        out.push(b')');
    }
    let mut rng = Rng(0x7e_ad);
    let mut out = b"* THREAD ".to_vec();
    let mut next = 1u32;
    while next <= 100_000 {
        let size = 1 + rng.below(12) as u32;
        subtree(&mut rng, &mut next, size, 0, &mut out);
    }
    out.extend_from_slice(b"\r\n");
    out
}

// ---------------------------------------------------------------------------
// Drivers
// ---------------------------------------------------------------------------

fn mw_decode(stream: &[u8], config: &DecoderConfig) -> Tally {
    let mut t = Tally::default();
    let mut rest = stream;
    while !rest.is_empty() {
        let (r, n) = decode_response(rest, config)
            .unwrap()
            .complete()
            .expect("complete response");
        t.responses += 1;
        t.numbers += match &r {
            Response::Fetch { items, .. } => items
                .iter()
                .filter(|i| matches!(i, MessageDataItem::Uid(_) | MessageDataItem::ModSeq(_)))
                .count() as u64,
            Response::Vanished { uids, .. } => uids.count(),
            Response::Sort { numbers, .. } => numbers.len() as u64,
            Response::Thread(threads) => threads.iter().map(thread_size).sum(),
            other => panic!("{other:?}"),
        };
        black_box(r);
        rest = &rest[n..];
    }
    t
}

fn thread_size(t: &mailwire::imap::Thread) -> u64 {
    t.messages.len() as u64 + t.children.iter().map(thread_size).sum::<u64>()
}

fn codec_thread_size(t: &imap_codec_next::imap_types::extensions::thread::Thread) -> u64 {
    use imap_codec_next::imap_types::extensions::thread::Thread;
    match t {
        Thread::Members { prefix, answers } => {
            prefix.as_ref().len() as u64
                + answers
                    .as_ref()
                    .map_or(0, |a| a.as_ref().iter().map(codec_thread_size).sum())
        }
        Thread::Nested { answers } => answers.as_ref().iter().map(codec_thread_size).sum(),
    }
}

fn codec_decode(stream: &[u8]) -> Tally {
    use imap_codec_next::imap_types::fetch::MessageDataItem as Item;
    use imap_codec_next::imap_types::response::{Data, Response as R};
    let codec = ResponseCodec::default();
    let mut t = Tally::default();
    let mut rest = stream;
    while !rest.is_empty() {
        let (remaining, r) = codec.decode(rest).unwrap_or_else(|e| panic!("imap-codec: {e:?}"));
        t.responses += 1;
        t.numbers += match &r {
            R::Data(Data::Fetch { items, .. }) => items
                .as_ref()
                .iter()
                .filter(|i| matches!(i, Item::Uid(_) | Item::ModSeq(_)))
                .count() as u64,
            R::Data(Data::Vanished { known_uids, .. }) => known_uids
                .0
                .as_ref()
                .iter()
                .map(|s| {
                    use imap_codec_next::imap_types::sequence::{SeqOrUid, Sequence};
                    let v = |s: &SeqOrUid| match s {
                        SeqOrUid::Value(v) => u64::from(v.get()),
                        SeqOrUid::Asterisk => panic!("*"),
                    };
                    match s {
                        Sequence::Single(_) => 1,
                        Sequence::Range(a, b) => v(b).abs_diff(v(a)) + 1,
                    }
                })
                .sum(),
            R::Data(Data::Sort(numbers, _)) => numbers.len() as u64,
            R::Data(Data::Thread(threads)) => threads.iter().map(codec_thread_size).sum(),
            other => panic!("{other:?}"),
        };
        black_box(r);
        rest = remaining;
    }
    t
}

fn proto_decode(stream: &[u8]) -> Tally {
    use imap_proto::{AttributeValue, MailboxDatum, Response as R};
    let mut t = Tally::default();
    let mut rest = stream;
    while !rest.is_empty() {
        let (remaining, r) = R::parse(rest).unwrap_or_else(|e| panic!("imap-proto: {e:?}"));
        t.responses += 1;
        t.numbers += match &r {
            R::Fetch(_, items) => items
                .iter()
                .filter(|i| matches!(i, AttributeValue::Uid(_) | AttributeValue::ModSeq(_)))
                .count() as u64,
            R::Vanished { uids, .. } => uids.iter().map(|r| u64::from(r.end() - r.start()) + 1).sum(),
            R::MailboxData(MailboxDatum::Sort(numbers)) => numbers.len() as u64,
            other => panic!("{other:?}"),
        };
        black_box(r);
        rest = remaining;
    }
    t
}

// ---------------------------------------------------------------------------
// Benchmarks
// ---------------------------------------------------------------------------

/// Which other decoders can read a corpus.
#[derive(Clone, Copy)]
struct Others {
    codec: bool,
    proto: bool,
}

fn bench(c: &mut Criterion, name: &str, stream: &[u8], Others { codec, proto }: Others) {
    let config = DecoderConfig::default();
    // Every decoder must read the whole corpus, and the same things in it.
    let want = mw_decode(stream, &config);
    if codec {
        assert_eq!(codec_decode(stream), want, "{name}: imap-codec disagrees");
    }
    if proto {
        assert_eq!(proto_decode(stream), want, "{name}: imap-proto disagrees");
    }
    let mut g = c.benchmark_group(format!("imap_{name}_decode"));
    g.throughput(Throughput::Bytes(stream.len() as u64));
    g.bench_function("mailwire", |b| b.iter(|| mw_decode(black_box(stream), &config)));
    if codec {
        g.bench_function("imap-codec", |b| b.iter(|| codec_decode(black_box(stream))));
    }
    if proto {
        g.bench_function("imap-proto", |b| b.iter(|| proto_decode(black_box(stream))));
    }
    g.finish();
}

const BOTH: Others = Others {
    codec: true,
    proto: true,
};

fn bench_condstore(c: &mut Criterion) {
    bench(c, "condstore_fetch", &condstore_fetch(), BOTH);
    // imap-codec 2.0.0-alpha.6 reads VANISHED only after a message number
    // (`* 5 VANISHED ...`, its message-data parser), so it refuses every
    // real VANISHED response.
    bench(
        c,
        "vanished",
        &vanished(),
        Others {
            codec: false,
            proto: true,
        },
    );
}

fn bench_sort_thread(c: &mut Criterion) {
    bench(c, "sort", &sort(), BOTH);
    // imap-proto 0.17 has no THREAD response.
    bench(
        c,
        "thread",
        &thread(),
        Others {
            codec: true,
            proto: false,
        },
    );
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .sample_size(50)
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_condstore, bench_sort_thread
}
criterion_main!(benches);
