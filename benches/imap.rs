//! IMAP codec benchmarks: mailwire against `imap-codec` 1.0 and
//! `imap-proto` 0.17 in the same run, on the same inputs.
//!
//! Run with `cargo bench --bench imap -- --warm-up-time 1 --measurement-time 5`;
//! see `benches/README.md` for the results and what each implementation
//! does.
//!
//! Groups (throughput counts wire bytes of the input, for encoding too):
//!
//! - `imap_fetch_decode` / `imap_fetch_encode`: 1,000 FETCH responses
//!   (`UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODYSTRUCTURE`) as
//!   Dovecot sends them.
//! - `imap_list_decode` / `imap_list_encode`: 5,000 LIST responses.
//! - `imap_search_decode` / `imap_search_encode`: one SEARCH response of
//!   100,000 numbers.
//! - `imap_command_decode` / `imap_command_encode`: UID FETCH, a nested UID
//!   SEARCH and an APPEND with a 4 KiB literal, one command per iteration
//!   (imap-proto has no command parser).
//! - `imap_literal_decode`: `* 1 FETCH (UID 1 BODY[] {16777216} ...)`.
//!
//! Decoders loop over a stream response by response, as a client does, and
//! drop each response. Encoders write every response of a stream into one
//! reused buffer: mailwire through `Response::encode` (fragments) and
//! `Response::encode_into` (straight into the buffer), imap-codec through
//! its `Encoded` fragments.

// `criterion_group!` generates an undocumented `pub fn`.
#![allow(missing_docs)]

#[path = "common/mod.rs"]
mod common;
#[path = "imap/data.rs"]
mod data;

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use imap_codec::decode::Decoder as _;
use imap_codec::encode::{Encoder as _, Fragment as CodecFragment};
use imap_codec::{CommandCodec, ResponseCodec};
use mailwire::imap::{
    Command, Decoded, DecoderConfig, Fragment, LiteralPolicy, MessageDataItem, ReadEvent, Response,
    ResponseReader, decode_command, decode_response,
};

/// How many bytes a socket read hands over at a time; also the size above
/// which [`ResponseReader`] streams a literal.
const READ_CHUNK: usize = 64 * 1024;

/// The literal benchmark's body: 16 MiB.
const LITERAL_SIZE: usize = 16 * 1024 * 1024;

/// mailwire's decoder configuration: the defaults (their response line
/// limit, 32 MiB, lets the 100,000-number SEARCH line of 589 KB through).
fn mw_config() -> DecoderConfig {
    DecoderConfig::default()
}

// ---------------------------------------------------------------------------
// mailwire drivers
// ---------------------------------------------------------------------------

/// Decodes every response of `stream`; returns how many there were.
fn mw_decode_all<'a>(stream: &'a [u8], config: &DecoderConfig, mut each: impl FnMut(Response<'a>)) -> usize {
    let mut rest = stream;
    let mut n = 0;
    while !rest.is_empty() {
        match decode_response(rest, config) {
            Ok(Decoded::Complete { value, consumed }) => {
                each(value);
                rest = &rest[consumed..];
                n += 1;
            }
            other => panic!("mailwire: {other:?}"),
        }
    }
    n
}

fn mw_decode(stream: &[u8], config: &DecoderConfig) -> usize {
    mw_decode_all(stream, config, |r| {
        black_box(r);
    })
}

/// The same through [`ResponseReader`], which a client that streams large
/// literals uses for every response.
fn mw_reader_decode(stream: &[u8], config: &DecoderConfig) -> usize {
    let mut reader = ResponseReader::new(*config, READ_CHUNK as u64);
    let mut rest = stream;
    let mut n = 0;
    while !rest.is_empty() {
        match reader.decode(rest) {
            Ok(Decoded::Complete {
                value: ReadEvent::Response(r),
                consumed,
            }) => {
                black_box(r);
                rest = &rest[consumed..];
                n += 1;
            }
            other => panic!("mailwire reader: {other:?}"),
        }
    }
    n
}

fn mw_write<'a>(fragments: impl IntoIterator<Item = Fragment<'a>>, out: &mut Vec<u8>) {
    for f in fragments {
        match f {
            Fragment::Line(line) => out.extend_from_slice(&line),
            Fragment::Literal { data, .. } => out.extend_from_slice(&data),
        }
    }
}

/// Through [`Response::encode`]: fragments, each line in its own `Vec`.
fn mw_encode(responses: &[Response<'_>], out: &mut Vec<u8>) -> usize {
    out.clear();
    for r in responses {
        mw_write(r.encode(), out);
    }
    out.len()
}

/// Through [`Response::encode_into`]: straight into the reused buffer.
fn mw_encode_into(responses: &[Response<'_>], out: &mut Vec<u8>) -> usize {
    out.clear();
    for r in responses {
        r.encode_into(out);
    }
    out.len()
}

/// Streams the literal response through [`ResponseReader`], the bytes
/// arriving `chunk` at a time. The wire buffer is contiguous, so keeping
/// the unconsumed tail is free here; [`mw_literal_read_buf`] pays for
/// copying into a read buffer. Returns the literal's length.
fn mw_literal_windows(wire: &[u8], chunk: usize, config: &DecoderConfig) -> usize {
    let mut reader = ResponseReader::new(*config, READ_CHUNK as u64);
    let (mut pos, mut end) = (0, chunk.min(wire.len()));
    let mut total = 0;
    loop {
        match reader.decode(&wire[pos..end]) {
            Ok(Decoded::Complete { value, consumed }) => {
                pos += consumed;
                match value {
                    ReadEvent::LiteralData(d) => total += black_box(d).len(),
                    ReadEvent::FetchEnd { items, .. } => {
                        black_box(items);
                        assert_eq!(pos, wire.len());
                        return total;
                    }
                    other => {
                        black_box(other);
                    }
                }
            }
            Ok(Decoded::Incomplete) => {
                assert!(end < wire.len(), "ran out of input");
                end = (end + chunk).min(wire.len());
            }
            other => panic!("mailwire reader: {other:?}"),
        }
    }
}

/// Like [`mw_literal_windows`], with every read copied into a reused
/// buffer and the unconsumed tail moved to its front before the next
/// read: what a blocking socket client pays besides the system call.
fn mw_literal_read_buf(wire: &[u8], buf: &mut Vec<u8>, chunk: usize, config: &DecoderConfig) -> usize {
    let mut reader = ResponseReader::new(*config, READ_CHUNK as u64);
    buf.clear();
    let mut fed = 0;
    let mut read = |buf: &mut Vec<u8>, pos: usize| {
        buf.drain(..pos);
        let n = chunk.min(wire.len() - fed);
        assert!(n > 0, "ran out of input");
        buf.extend_from_slice(&wire[fed..fed + n]);
        fed += n;
    };
    read(buf, 0);
    let (mut pos, mut total) = (0, 0);
    loop {
        match reader.decode(&buf[pos..]) {
            Ok(Decoded::Complete { value, consumed }) => {
                pos += consumed;
                match value {
                    ReadEvent::LiteralData(d) => total += black_box(d).len(),
                    ReadEvent::FetchEnd { items, .. } => {
                        black_box(items);
                        return total;
                    }
                    other => {
                        black_box(other);
                    }
                }
            }
            Ok(Decoded::Incomplete) => {
                read(buf, pos);
                pos = 0;
            }
            other => panic!("mailwire reader: {other:?}"),
        }
    }
}

/// Length of the `BODY[]` data of a FETCH response.
fn mw_body_len(r: &Response<'_>) -> usize {
    let Response::Fetch { items, .. } = r else {
        panic!("not FETCH: {r:?}")
    };
    items
        .iter()
        .find_map(|i| match i {
            MessageDataItem::BodySection { data, .. } => data.as_bytes().map(<[u8]>::len),
            _ => None,
        })
        .expect("BODY[] item")
}

fn mw_literal_one_shot(wire: &[u8], config: &DecoderConfig) -> usize {
    match decode_response(wire, config) {
        Ok(Decoded::Complete { value, consumed }) => {
            assert_eq!(consumed, wire.len());
            mw_body_len(black_box(&value))
        }
        other => panic!("mailwire: {other:?}"),
    }
}

fn mw_decode_command<'a>(cmd: &'a [u8], config: &DecoderConfig) -> Command<'a> {
    match decode_command(cmd, config) {
        Ok(Decoded::Complete { value, consumed }) => {
            assert_eq!(consumed, cmd.len());
            value
        }
        other => panic!("mailwire: {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// imap-codec and imap-proto drivers
// ---------------------------------------------------------------------------

type CodecResponse<'a> = imap_codec::imap_types::response::Response<'a>;
type CodecCommand<'a> = imap_codec::imap_types::command::Command<'a>;

fn codec_decode_all<'a>(stream: &'a [u8], mut each: impl FnMut(CodecResponse<'a>)) -> usize {
    let codec = ResponseCodec::new();
    let mut rest = stream;
    let mut n = 0;
    while !rest.is_empty() {
        match codec.decode(rest) {
            Ok((remaining, value)) => {
                each(value);
                rest = remaining;
                n += 1;
            }
            Err(e) => panic!("imap-codec: {e:?} at {}", stream.len() - rest.len()),
        }
    }
    n
}

fn codec_decode(stream: &[u8]) -> usize {
    codec_decode_all(stream, |r| {
        black_box(r);
    })
}

fn codec_write(fragments: impl Iterator<Item = CodecFragment>, out: &mut Vec<u8>) {
    for f in fragments {
        match f {
            CodecFragment::Line { data } => out.extend_from_slice(&data),
            CodecFragment::Literal { data, .. } => out.extend_from_slice(&data),
        }
    }
}

fn codec_encode(responses: &[CodecResponse<'_>], out: &mut Vec<u8>) -> usize {
    let codec = ResponseCodec::new();
    out.clear();
    for r in responses {
        codec_write(codec.encode(r), out);
    }
    out.len()
}

fn codec_literal_one_shot(wire: &[u8]) -> usize {
    use imap_codec::imap_types::fetch::MessageDataItem as Item;
    use imap_codec::imap_types::response::Data;
    match ResponseCodec::new().decode(wire) {
        Ok((rest, CodecResponse::Data(Data::Fetch { items, .. }))) => {
            assert!(rest.is_empty());
            black_box(&items)
                .as_ref()
                .iter()
                .find_map(|i| match i {
                    Item::BodyExt { data, .. } => data.0.as_ref().map(|s| s.as_ref().len()),
                    _ => None,
                })
                .expect("BODY[] item")
        }
        other => panic!("imap-codec: {other:?}"),
    }
}

fn codec_decode_command(cmd: &[u8]) -> CodecCommand<'_> {
    match CommandCodec::new().decode(cmd) {
        Ok((rest, value)) => {
            assert!(rest.is_empty());
            value
        }
        Err(e) => panic!("imap-codec: {e:?}"),
    }
}

fn proto_decode_all<'a>(stream: &'a [u8], mut each: impl FnMut(imap_proto::Response<'a>)) -> usize {
    let mut rest = stream;
    let mut n = 0;
    while !rest.is_empty() {
        match imap_proto::Response::parse(rest) {
            Ok((remaining, value)) => {
                each(value);
                rest = remaining;
                n += 1;
            }
            Err(e) => panic!("imap-proto: {e:?} at {}", stream.len() - rest.len()),
        }
    }
    n
}

fn proto_decode(stream: &[u8]) -> usize {
    proto_decode_all(stream, |r| {
        black_box(r);
    })
}

fn proto_literal_one_shot(wire: &[u8]) -> usize {
    match imap_proto::Response::parse(wire) {
        Ok((rest, imap_proto::Response::Fetch(_, items))) => {
            assert!(rest.is_empty());
            black_box(&items)
                .iter()
                .find_map(|i| match i {
                    imap_proto::AttributeValue::BodySection { data, .. } => data.as_ref().map(|d| d.len()),
                    _ => None,
                })
                .expect("BODY[] item")
        }
        other => panic!("imap-proto: {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// Checks, run once before measuring
// ---------------------------------------------------------------------------

/// A fingerprint of the FETCH stream every decoder must reproduce: the
/// number of responses and the sum of their UIDs and RFC822.SIZEs.
fn fetch_fingerprint(stream: &[u8]) -> (usize, u64) {
    let mut sum = 0u64;
    let mut n = 0;
    for line in stream.split(|&b| b == b'\n') {
        for key in [&b"(UID "[..], b"RFC822.SIZE "] {
            if let Some(at) = line.windows(key.len()).position(|w| w == key) {
                let digits = line[at + key.len()..].iter().take_while(|b| b.is_ascii_digit());
                sum += digits.fold(0u64, |v, &d| v * 10 + u64::from(d - b'0'));
            }
        }
        n += usize::from(line.starts_with(b"* "));
    }
    (n, sum)
}

fn check_fetch(stream: &[u8], config: &DecoderConfig) {
    let (count, sum) = fetch_fingerprint(stream);
    let mut got = 0u64;
    let n = mw_decode_all(stream, config, |r| {
        let Response::Fetch { items, .. } = r else {
            panic!("mailwire: not FETCH")
        };
        assert_eq!(items.len(), 6);
        for i in items {
            match i {
                MessageDataItem::Uid(u) => got += u64::from(u.get()),
                MessageDataItem::Rfc822Size(s) => got += s,
                _ => {}
            }
        }
    });
    assert_eq!((n, got), (count, sum), "mailwire");
    assert_eq!(mw_reader_decode(stream, config), count);

    use imap_codec::imap_types::fetch::MessageDataItem as Item;
    use imap_codec::imap_types::response::Data;
    let mut got = 0u64;
    let n = codec_decode_all(stream, |r| {
        let CodecResponse::Data(Data::Fetch { items, .. }) = r else {
            panic!("imap-codec: not FETCH")
        };
        assert_eq!(items.as_ref().len(), 6);
        for i in items {
            match i {
                Item::Uid(u) => got += u64::from(u.get()),
                Item::Rfc822Size(s) => got += u64::from(s),
                _ => {}
            }
        }
    });
    assert_eq!((n, got), (count, sum), "imap-codec");

    let mut got = 0u64;
    let n = proto_decode_all(stream, |r| {
        let imap_proto::Response::Fetch(_, items) = r else {
            panic!("imap-proto: not FETCH")
        };
        assert_eq!(items.len(), 6);
        for i in items {
            match i {
                imap_proto::AttributeValue::Uid(u) => got += u64::from(u),
                imap_proto::AttributeValue::Rfc822Size(s) => got += u64::from(s),
                _ => {}
            }
        }
    });
    assert_eq!((n, got), (count, sum), "imap-proto");
}

/// Both encoders write bytes that decode back to the same values; and
/// mailwire's are the input, byte for byte.
fn check_encoders(stream: &[u8], config: &DecoderConfig) {
    let mut ours = Vec::new();
    mw_decode_all(stream, config, |r| ours.push(r));
    let mut out = Vec::new();
    mw_encode(&ours, &mut out);
    let mut again = Vec::new();
    mw_decode_all(&out, config, |r| again.push(r));
    assert!(again == ours, "mailwire: encode then decode differs");
    // Where mailwire writes a canonical form of what Dovecot sent (both
    // valid): a one-digit day of INTERNALDATE padded with a space, not a
    // zero; the LIST attribute `\UnMarked` spelled as in RFC 5258.
    let mut expected = stream.to_vec();
    for (from, to) in [
        (&b"INTERNALDATE \"0"[..], &b"INTERNALDATE \" "[..]),
        (b"\\UnMarked", b"\\Unmarked"),
    ] {
        let mut i = 0;
        while let Some(at) = expected[i..].windows(from.len()).position(|w| w == from) {
            expected[i + at..i + at + to.len()].copy_from_slice(to);
            i += at + to.len();
        }
    }
    assert_same(&out, &expected, "mailwire encoding");
    let mut into = Vec::new();
    mw_encode_into(&ours, &mut into);
    assert_same(&into, &out, "mailwire encode_into");
    let mut theirs = Vec::new();
    codec_decode_all(stream, |r| theirs.push(r));
    codec_encode(&theirs, &mut out);
    let mut again = Vec::new();
    codec_decode_all(&out, |r| again.push(r));
    assert!(again == theirs, "imap-codec: encode then decode differs");
}

/// Panics with the first difference between `got` and `want`.
fn assert_same(got: &[u8], want: &[u8], what: &str) {
    if got != want {
        let at = got.iter().zip(want).take_while(|(a, b)| a == b).count();
        let from = at.saturating_sub(80);
        panic!(
            "{what} differs from the input at byte {at}:\n  input: {:?}\n  got:   {:?}",
            String::from_utf8_lossy(&want[from..(at + 40).min(want.len())]),
            String::from_utf8_lossy(&got[from..(at + 40).min(got.len())]),
        );
    }
}

fn check_commands(commands: &[(&str, Vec<u8>)], config: &DecoderConfig) {
    for (name, cmd) in commands {
        let ours = mw_decode_command(cmd, config);
        let mut out = Vec::new();
        mw_write(ours.encode(LiteralPolicy::SyncOnly), &mut out);
        assert_same(&out, cmd, &format!("mailwire {name} encoding"));
        let theirs = codec_decode_command(cmd);
        out.clear();
        codec_write(CommandCodec::new().encode(&theirs), &mut out);
        assert!(
            codec_decode_command(&out) == theirs,
            "imap-codec {name}: encode then decode differs"
        );
    }
}

fn check_literal(wire: &[u8], config: &DecoderConfig) {
    for chunk in [7, 4096, READ_CHUNK, wire.len()] {
        assert_eq!(mw_literal_windows(wire, chunk, config), LITERAL_SIZE, "{chunk}");
    }
    assert_eq!(
        mw_literal_read_buf(wire, &mut Vec::new(), READ_CHUNK, config),
        LITERAL_SIZE
    );
    assert_eq!(mw_literal_one_shot(wire, config), LITERAL_SIZE);
    assert_eq!(codec_literal_one_shot(wire), LITERAL_SIZE);
    assert_eq!(proto_literal_one_shot(wire), LITERAL_SIZE);
}

// ---------------------------------------------------------------------------
// Benchmarks
// ---------------------------------------------------------------------------

/// Decode and encode groups for one stream of responses.
fn bench_stream(c: &mut Criterion, name: &str, stream: &[u8], expected: usize, reader: bool) {
    let config = mw_config();
    assert_eq!(mw_decode(stream, &config), expected);
    assert_eq!(codec_decode(stream), expected);
    assert_eq!(proto_decode(stream), expected);
    check_encoders(stream, &config);

    let mut g = c.benchmark_group(format!("imap_{name}_decode"));
    g.throughput(Throughput::Bytes(stream.len() as u64));
    g.bench_function("mailwire", |b| b.iter(|| mw_decode(black_box(stream), &config)));
    if reader {
        g.bench_function("mailwire/reader", |b| {
            b.iter(|| mw_reader_decode(black_box(stream), &config))
        });
    }
    g.bench_function("imap-codec", |b| b.iter(|| codec_decode(black_box(stream))));
    g.bench_function("imap-proto", |b| b.iter(|| proto_decode(black_box(stream))));
    g.finish();

    let mut ours = Vec::new();
    mw_decode_all(stream, &config, |r| ours.push(r));
    let mut theirs = Vec::new();
    codec_decode_all(stream, |r| theirs.push(r));
    let mut out = Vec::with_capacity(stream.len() * 2);
    let mut g = c.benchmark_group(format!("imap_{name}_encode"));
    g.throughput(Throughput::Bytes(stream.len() as u64));
    g.bench_function("mailwire", |b| b.iter(|| mw_encode(black_box(&ours), &mut out)));
    g.bench_function("mailwire/encode_into", |b| {
        b.iter(|| mw_encode_into(black_box(&ours), &mut out))
    });
    g.bench_function("imap-codec", |b| {
        b.iter(|| codec_encode(black_box(&theirs), &mut out))
    });
    g.finish();
}

fn bench_fetch(c: &mut Criterion) {
    let stream = data::fetch_stream(1000);
    check_fetch(&stream, &mw_config());
    bench_stream(c, "fetch", &stream, 1000, true);
}

fn bench_list(c: &mut Criterion) {
    bench_stream(c, "list", &data::list_stream(5000), 5000, false);
}

fn bench_search(c: &mut Criterion) {
    let stream = data::search_response(100_000);
    let mut numbers = 0;
    mw_decode_all(&stream, &mw_config(), |r| {
        let Response::Search { numbers: n, .. } = r else {
            panic!()
        };
        assert!(n.iter().map(|n| n.get()).eq(1..=100_000));
        numbers = n.len();
    });
    assert_eq!(numbers, 100_000);
    bench_stream(c, "search", &stream, 1, false);
}

fn bench_commands(c: &mut Criterion) {
    let config = mw_config();
    let commands = data::commands();
    check_commands(&commands, &config);

    let mut g = c.benchmark_group("imap_command_decode");
    for (name, cmd) in &commands {
        g.throughput(Throughput::Bytes(cmd.len() as u64));
        g.bench_with_input(BenchmarkId::new("mailwire", name), cmd, |b, cmd| {
            b.iter(|| black_box(mw_decode_command(black_box(cmd), &config)))
        });
        g.bench_with_input(BenchmarkId::new("imap-codec", name), cmd, |b, cmd| {
            b.iter(|| black_box(codec_decode_command(black_box(cmd))))
        });
    }
    g.finish();

    let mut out = Vec::with_capacity(8192);
    let mut g = c.benchmark_group("imap_command_encode");
    for (name, cmd) in &commands {
        g.throughput(Throughput::Bytes(cmd.len() as u64));
        let ours = mw_decode_command(cmd, &config);
        g.bench_with_input(BenchmarkId::new("mailwire", name), &ours, |b, ours| {
            b.iter(|| {
                out.clear();
                mw_write(black_box(ours).encode(LiteralPolicy::SyncOnly), &mut out);
                out.len()
            })
        });
        let theirs = codec_decode_command(cmd);
        let codec = CommandCodec::new();
        g.bench_with_input(BenchmarkId::new("imap-codec", name), &theirs, |b, theirs| {
            b.iter(|| {
                out.clear();
                codec_write(codec.encode(black_box(theirs)), &mut out);
                out.len()
            })
        });
    }
    g.finish();
}

fn bench_literal(c: &mut Criterion) {
    let config = mw_config();
    let message = data::message(LITERAL_SIZE, 0x16_0000);
    let wire = data::literal_response(&message);
    check_literal(&wire, &config);

    let mut g = c.benchmark_group("imap_literal_decode");
    g.sample_size(20);
    g.throughput(Throughput::Bytes(wire.len() as u64));
    g.bench_function("mailwire/reader_whole", |b| {
        b.iter(|| mw_literal_windows(black_box(&wire), wire.len(), &config))
    });
    g.bench_function("mailwire/reader_windows_64k", |b| {
        b.iter(|| mw_literal_windows(black_box(&wire), READ_CHUNK, &config))
    });
    let mut buf = Vec::with_capacity(2 * READ_CHUNK);
    g.bench_function("mailwire/reader_read_buf_64k", |b| {
        b.iter(|| mw_literal_read_buf(black_box(&wire), &mut buf, READ_CHUNK, &config))
    });
    g.bench_function("mailwire/one_shot", |b| {
        b.iter(|| mw_literal_one_shot(black_box(&wire), &config))
    });
    g.bench_function("imap-codec/one_shot", |b| {
        b.iter(|| codec_literal_one_shot(black_box(&wire)))
    });
    g.bench_function("imap-proto/one_shot", |b| {
        b.iter(|| proto_literal_one_shot(black_box(&wire)))
    });
    g.finish();
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
    targets = bench_fetch, bench_list, bench_search, bench_commands, bench_literal
}
criterion_main!(benches);
