//! POP3 codec benchmarks: mailwire against `pop3-codec` 0.3 in the same run.
//!
//! Run with `cargo bench --bench pop3`; see `benches/README.md` for the
//! results and what each implementation does and does not do.
//!
//! Groups:
//!
//! - `pop3_command_decode`: a mix of eight command lines, one iteration
//!   decodes all eight (throughput in commands).
//! - `pop3_retr_decode/{1MiB,16MiB}`: a whole RETR response on the wire
//!   (`+OK` line, dot-stuffed body, terminator); throughput counts wire bytes.
//! - `pop3_body_encode/{1MiB,16MiB}`: dot-stuffing the message; throughput
//!   counts message (input) bytes.

// `criterion_group!` generates an undocumented `pub fn`.
#![allow(missing_docs)]

#[path = "common/mod.rs"]
mod common;

use std::hint::black_box;
use std::time::Duration;

use common::{Rng, WORDS};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use mailwire::pop3::{
    BodyChunk, BodyDecoder, Decoded, DecoderConfig, DotStuffer, Expect, Response, decode_command,
    decode_response,
};

/// How many bytes a socket read hands over at a time.
const READ_CHUNK: usize = 64 * 1024;

const COMMANDS: [&[u8]; 8] = [
    b"RETR 1\r\n",
    b"LIST\r\n",
    b"UIDL 17\r\n",
    b"TOP 3 10\r\n",
    b"USER alice\r\n",
    b"PASS secret\r\n",
    b"DELE 42\r\n",
    b"STAT\r\n",
];

// ---------------------------------------------------------------------------
// Test data
// ---------------------------------------------------------------------------

/// Lines that begin with "." as a body would have them before stuffing.
const DOT_LINES: &[&str] = &[
    ".",
    "..",
    ". . . and that is where the thread ended.",
    ".signature follows",
    "...continued from the previous page",
    ".PP",
];

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Builds a MIME message of at least `target` bytes, every line ending in
/// CRLF: headers, then alternating text parts (lines of about 72
/// characters, one in 50 beginning with ".") and base64 attachment parts
/// (76-character lines).
fn build_message(target: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng(seed);
    let mut m = Vec::with_capacity(target + 4096);
    m.extend_from_slice(
        b"Return-Path: <alice@example.org>\r\n\
Received: from mx1.example.org (mx1.example.org [192.0.2.10])\r\n\
\tby pop.example.net (Postfix) with ESMTPS id 4F2A51C0042\r\n\
\tfor <bob@example.net>; Tue, 14 Jan 2025 09:12:44 +0100 (CET)\r\n\
From: Alice Example <alice@example.org>\r\n\
To: Bob Example <bob@example.net>\r\n\
Subject: Quarterly report and attachments\r\n\
Date: Tue, 14 Jan 2025 09:12:40 +0100\r\n\
Message-ID: <20250114081240.4F2A51C0042@mx1.example.org>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"=_boundary_7f3a\"\r\n\
\r\n\
This is a multi-part message in MIME format.\r\n",
    );
    let mut line_no = 0usize;
    let mut part = 0usize;
    while m.len() < target {
        m.extend_from_slice(b"\r\n--=_boundary_7f3a\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n");
        for _ in 0..120 {
            line_no += 1;
            if line_no % 50 == 0 {
                m.extend_from_slice(DOT_LINES[rng.below(DOT_LINES.len())].as_bytes());
            } else {
                let start = m.len();
                let want = 60 + rng.below(16);
                while m.len() - start < want {
                    if m.len() > start {
                        m.push(b' ');
                    }
                    m.extend_from_slice(WORDS[rng.below(WORDS.len())].as_bytes());
                }
                m.push(b'.');
            }
            m.extend_from_slice(b"\r\n");
        }
        part += 1;
        m.extend_from_slice(b"\r\n--=_boundary_7f3a\r\nContent-Type: application/pdf; name=\"report-");
        m.extend_from_slice(part.to_string().as_bytes());
        m.extend_from_slice(b".pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n");
        for _ in 0..60 {
            for _ in 0..76 {
                m.push(BASE64[rng.below(64)]);
            }
            m.extend_from_slice(b"\r\n");
        }
    }
    m.extend_from_slice(b"\r\n--=_boundary_7f3a--\r\n");
    m
}

/// Dot-stuffs a CRLF message the obvious way, independently of the crate,
/// and wraps it as a RETR response.
fn retr_wire(message: &[u8]) -> Vec<u8> {
    let mut wire = Vec::with_capacity(message.len() + message.len() / 32 + 64);
    wire.extend_from_slice(b"+OK ");
    wire.extend_from_slice(message.len().to_string().as_bytes());
    wire.extend_from_slice(b" octets\r\n");
    for line in message.split_inclusive(|&b| b == b'\n') {
        if line.first() == Some(&b'.') {
            wire.push(b'.');
        }
        wire.extend_from_slice(line);
    }
    wire.extend_from_slice(b".\r\n");
    wire
}

// ---------------------------------------------------------------------------
// mailwire drivers
// ---------------------------------------------------------------------------

/// Decodes a RETR response the way a socket reader does: the bytes arrive
/// `chunk` at a time and the decoder sees what has arrived and not yet been
/// consumed. The wire buffer is contiguous, so "keeping the tail" is free
/// here; [`ours_retr_read_buf`] also pays for copying into a read buffer.
/// Returns the number of unstuffed body bytes.
fn ours_retr_windowed(wire: &[u8], chunk: usize, config: &DecoderConfig) -> usize {
    let mut end = chunk.min(wire.len());
    let mut pos = loop {
        match decode_response(&wire[..end], Expect::Status, config) {
            Ok(Decoded::Complete { consumed, .. }) => break consumed,
            Ok(Decoded::Incomplete) if end < wire.len() => end = (end + chunk).min(wire.len()),
            other => panic!("status line: {other:?}"),
        }
    };
    let mut decoder = BodyDecoder::new();
    let mut total = 0;
    loop {
        match decoder.decode(&wire[pos..end]) {
            Decoded::Complete {
                value: BodyChunk::Data(data),
                consumed,
            } => {
                total += black_box(data).len();
                pos += consumed;
            }
            Decoded::Complete {
                value: BodyChunk::End,
                consumed,
            } => {
                assert_eq!(pos + consumed, wire.len());
                return total;
            }
            Decoded::Incomplete => {
                assert!(end < wire.len(), "ran out of input");
                end = (end + chunk).min(wire.len());
            }
        }
    }
}

/// Like [`ours_retr_windowed`], but the bytes are copied into a reused
/// read buffer, the unconsumed tail moved to its front before each read:
/// the full cost a blocking socket client pays besides the system call.
fn ours_retr_read_buf(wire: &[u8], buf: &mut Vec<u8>, chunk: usize, config: &DecoderConfig) -> usize {
    buf.clear();
    let mut fed = 0;
    let mut read = |buf: &mut Vec<u8>| {
        let n = chunk.min(wire.len() - fed);
        assert!(n > 0, "ran out of input");
        buf.extend_from_slice(&wire[fed..fed + n]);
        fed += n;
    };
    read(buf);
    let mut pos = loop {
        match decode_response(buf, Expect::Status, config) {
            Ok(Decoded::Complete { consumed, .. }) => break consumed,
            Ok(Decoded::Incomplete) => read(buf),
            other => panic!("status line: {other:?}"),
        }
    };
    let mut decoder = BodyDecoder::new();
    let mut total = 0;
    loop {
        match decoder.decode(&buf[pos..]) {
            Decoded::Complete {
                value: BodyChunk::Data(data),
                consumed,
            } => {
                total += black_box(data).len();
                pos += consumed;
            }
            Decoded::Complete {
                value: BodyChunk::End,
                ..
            } => return total,
            Decoded::Incomplete => {
                buf.drain(..pos);
                pos = 0;
                read(buf);
            }
        }
    }
}

/// The one-shot API: `decode_response(.., Expect::Message)` finds the end
/// of the body, then `Body::unstuffed` copies it into one owned buffer.
fn ours_retr_one_shot(wire: &[u8], config: &DecoderConfig) -> usize {
    match decode_response(wire, Expect::Message, config) {
        Ok(Decoded::Complete {
            value: Response::Message { body, .. },
            ..
        }) => black_box(body.unstuffed()).len(),
        other => panic!("RETR: {other:?}"),
    }
}

/// Stuffs `message` in `chunk`-sized pieces into `out` (cleared first).
fn ours_stuff(message: &[u8], out: &mut Vec<u8>, chunk: usize) -> usize {
    out.clear();
    let mut stuffer = DotStuffer::new();
    for piece in message.chunks(chunk) {
        stuffer.push(piece, out);
    }
    stuffer.finish(out);
    out.len()
}

// ---------------------------------------------------------------------------
// pop3-codec drivers
// ---------------------------------------------------------------------------

/// pop3-codec's RETR parser: one `String` per line, lines left stuffed.
/// Returns the sum of line lengths plus CRLFs, i.e. the stuffed body size.
fn theirs_retr(wire: &[u8]) -> usize {
    match pop3_codec::parse::response_retr(wire) {
        Ok((rest, pop3_codec::types::Response::Ok(multi))) => {
            debug_assert!(rest.is_empty());
            black_box(&multi.body).iter().map(|l| l.len() + 2).sum()
        }
        Ok((_, pop3_codec::types::Response::Err(e))) => panic!("-ERR {e:?}"),
        Err(e) => panic!("pop3-codec RETR: {e:?}"),
    }
}

// ---------------------------------------------------------------------------
// Checks, run once before measuring
// ---------------------------------------------------------------------------

fn check_commands(config: &DecoderConfig) {
    for line in COMMANDS {
        match decode_command(line, config) {
            Ok(Decoded::Complete { consumed, .. }) => assert_eq!(consumed, line.len()),
            other => panic!("mailwire {line:?}: {other:?}"),
        }
        match pop3_codec::parse::command(line) {
            Ok((rest, _)) => assert!(rest.is_empty()),
            Err(e) => panic!("pop3-codec {line:?}: {e:?}"),
        }
    }
}

fn check_bodies(message: &[u8], wire: &[u8], config: &DecoderConfig) {
    let header_len = wire.iter().position(|&b| b == b'\n').unwrap() + 1;
    let stuffed_len = wire.len() - header_len - 3;

    // Our decoders give back exactly the message, however it is chunked.
    for chunk in [1, 7, 4096, READ_CHUNK, wire.len()] {
        if chunk == 1 && wire.len() > 2 << 20 {
            continue;
        }
        assert_eq!(
            ours_retr_windowed(wire, chunk, config),
            message.len(),
            "chunk {chunk}"
        );
    }
    assert_eq!(
        ours_retr_read_buf(wire, &mut Vec::new(), READ_CHUNK, config),
        message.len()
    );
    assert_eq!(ours_retr_one_shot(wire, config), message.len());
    let mut body = Vec::with_capacity(message.len());
    let mut decoder = BodyDecoder::new();
    let mut at = header_len;
    while let Decoded::Complete {
        value: BodyChunk::Data(d),
        consumed,
    } = decoder.decode(&wire[at..(at + READ_CHUNK).min(wire.len())])
    {
        body.extend_from_slice(d);
        at += consumed;
    }
    assert!(body == message, "unstuffed body differs from the message");

    // Our stuffer reproduces the independently stuffed wire form.
    let mut out = Vec::new();
    ours_stuff(message, &mut out, READ_CHUNK);
    assert!(out == wire[header_len..], "stuffed body differs");

    // pop3-codec parses it, but hands lines back still stuffed.
    assert_eq!(theirs_retr(wire), stuffed_len);
    if let Ok((_, pop3_codec::types::Response::Ok(multi))) = pop3_codec::parse::response_retr(wire) {
        assert!(
            multi.body.iter().any(|l| l.starts_with("..")),
            "expected stuffed lines"
        );
    }
}

// ---------------------------------------------------------------------------
// Benchmarks
// ---------------------------------------------------------------------------

fn bench_commands(c: &mut Criterion) {
    let config = DecoderConfig::default();
    check_commands(&config);
    let mut g = c.benchmark_group("pop3_command_decode");
    g.throughput(Throughput::Elements(COMMANDS.len() as u64));
    g.bench_function("mailwire", |b| {
        b.iter(|| {
            for line in COMMANDS {
                match decode_command(black_box(line), &config) {
                    Ok(d) => {
                        black_box(d);
                    }
                    Err(e) => panic!("{e}"),
                }
            }
        })
    });
    g.bench_function("pop3-codec", |b| {
        b.iter(|| {
            for line in COMMANDS {
                match pop3_codec::parse::command(black_box(line)) {
                    Ok(d) => {
                        black_box(d);
                    }
                    Err(e) => panic!("{e:?}"),
                }
            }
        })
    });
    g.finish();
}

fn bench_bodies(c: &mut Criterion) {
    let config = DecoderConfig::default();
    let sizes: [(&str, usize, usize); 2] = [("1MiB", 1 << 20, 30), ("16MiB", 16 << 20, 10)];
    let data: Vec<_> = sizes
        .iter()
        .map(|&(name, size, samples)| {
            let message = build_message(size, 0x9E37_79B9_7F4A_7C15 ^ size as u64);
            let wire = retr_wire(&message);
            check_bodies(&message, &wire, &config);
            (name, samples, message, wire)
        })
        .collect();

    let mut g = c.benchmark_group("pop3_retr_decode");
    for (name, samples, _, wire) in &data {
        g.sample_size(*samples);
        g.throughput(Throughput::Bytes(wire.len() as u64));
        g.bench_with_input(BenchmarkId::new("mailwire/chunked_64k", name), wire, |b, w| {
            b.iter(|| ours_retr_windowed(w, READ_CHUNK, &config))
        });
        let mut buf = Vec::with_capacity(2 * READ_CHUNK);
        g.bench_with_input(BenchmarkId::new("mailwire/read_buf_64k", name), wire, |b, w| {
            b.iter(|| ours_retr_read_buf(w, &mut buf, READ_CHUNK, &config))
        });
        g.bench_with_input(BenchmarkId::new("mailwire/whole", name), wire, |b, w| {
            b.iter(|| ours_retr_windowed(w, w.len(), &config))
        });
        g.bench_with_input(
            BenchmarkId::new("mailwire/one_shot_unstuffed", name),
            wire,
            |b, w| b.iter(|| ours_retr_one_shot(w, &config)),
        );
        g.bench_with_input(BenchmarkId::new("pop3-codec/whole", name), wire, |b, w| {
            b.iter(|| theirs_retr(w))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("pop3_body_encode");
    for (name, samples, message, wire) in &data {
        g.sample_size(*samples);
        g.throughput(Throughput::Bytes(message.len() as u64));
        let mut out = Vec::with_capacity(wire.len());
        g.bench_with_input(BenchmarkId::new("mailwire/chunked_64k", name), message, |b, m| {
            b.iter(|| ours_stuff(m, &mut out, READ_CHUNK))
        });
        // Not a competitor: copying the message unchanged, in the same
        // chunks into the same kind of buffer, bounds what stuffing can do.
        g.bench_with_input(
            BenchmarkId::new("memcpy_baseline/chunked_64k", name),
            message,
            |b, m| {
                b.iter(|| {
                    out.clear();
                    for piece in m.chunks(READ_CHUNK) {
                        out.extend_from_slice(black_box(piece));
                    }
                    out.len()
                })
            },
        );
    }
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .sample_size(50)
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_commands, bench_bodies
}
criterion_main!(benches);
