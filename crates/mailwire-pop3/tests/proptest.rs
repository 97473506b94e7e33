//! Property tests of the POP3 codec.
//!
//! - commands: every variant round-trips through `to_bytes` and
//!   `decode_command`, every strict prefix is `Incomplete`, and pipelined
//!   commands decode one at a time, in order;
//! - responses: every variant, under every `Expect` it can answer,
//!   round-trips through `to_bytes` and `decode_response`, and strict
//!   prefixes are `Incomplete`;
//! - bodies: `DotStuffer` then `BodyDecoder`, each in arbitrary chunkings,
//!   gives back the CRLF-normalised message, as defined independently here;
//! - hostile input: the decoders never panic, and their errors point inside
//!   the input.

use std::borrow::Cow;

use mailwire_pop3::{
    Body, BodyChunk, BodyDecoder, Capability, Command, DecodeError, Decoded, DecoderConfig, Digest,
    DotStuffer, ErrorKind, Expect, Expire, Language, LanguageRange, LanguageTag, Leniency, Limits, Mechanism,
    MessageNumber, Param, Password, Response, ResponseCode, SaslData, SaslResponse, ScanListing, Stat,
    Status, StatusLine, Text, UniqueId, UniqueIdListing, crlf_size, decode_command, decode_response,
    decode_sasl_response, parse_status_line,
};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::string::string_regex;
use proptest::test_runner::TestCaseError;

// ---------------------------------------------------------------------------
// Value generators
// ---------------------------------------------------------------------------

fn regex(re: &str) -> impl Strategy<Value = String> {
    string_regex(re).expect("valid regex")
}

/// Message numbers, biased to the small ones and the largest.
fn message_number() -> impl Strategy<Value = MessageNumber> {
    prop_oneof![
        3 => 1u32..=20,
        1 => Just(u32::MAX),
        2 => 1u32..=u32::MAX,
    ]
    .prop_map(|n| MessageNumber::new(n).expect("non-zero"))
}

fn small_or_any_u32() -> impl Strategy<Value = u32> {
    prop_oneof![0u32..=1000, Just(u32::MAX), any::<u32>()]
}

fn small_or_any_u64() -> impl Strategy<Value = u64> {
    prop_oneof![0u64..=100_000, Just(u64::MAX), any::<u64>()]
}

/// `1*VCHAR`, 8-bit bytes included (RFC 6856 user names).
fn param(max: usize) -> impl Strategy<Value = Param<'static>> {
    vec(prop_oneof![4 => 0x21u8..=0x7E, 1 => 0x80u8..=0xFF], 1..=max)
        .prop_map(|v| Param::new(v).expect("valid param"))
}

/// Bytes other than CR, LF and NUL, biased to printable ASCII and spaces.
fn text_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(
        prop_oneof![
            6 => 0x20u8..=0x7E,
            2 => Just(b' '),
            1 => Just(b'['),
            2 => any::<u8>().prop_map(|b| if matches!(b, b'\r' | b'\n' | 0) { b'?' } else { b }),
        ],
        0..=max,
    )
}

fn text(max: usize) -> impl Strategy<Value = Text<'static>> {
    text_bytes(max).prop_map(|v| Text::new(v).expect("valid text"))
}

fn password() -> impl Strategy<Value = Password<'static>> {
    text_bytes(100)
        .prop_filter("not empty", |v| !v.is_empty())
        .prop_map(|v| Password::new(v).expect("valid password"))
}

fn mechanism() -> impl Strategy<Value = Mechanism<'static>> {
    prop_oneof![
        Just(Mechanism::PLAIN),
        regex("[A-Za-z0-9_-]{1,20}").prop_map(|s| Mechanism::new(s).expect("valid mechanism")),
    ]
}

fn sasl_data() -> impl Strategy<Value = SaslData<'static>> {
    prop_oneof![
        Just(SaslData::new("").expect("empty")),
        vec(any::<u8>(), 0..60).prop_map(|raw| SaslData::encode(&raw)),
        regex("([A-Za-z0-9+/]{4}){0,8}([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")
            .prop_map(|s| SaslData::new(s).expect("valid base64")),
    ]
}

fn language_tag() -> impl Strategy<Value = LanguageTag<'static>> {
    regex("[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8}){0,3}").prop_map(|s| LanguageTag::new(s).expect("valid tag"))
}

fn unique_id() -> impl Strategy<Value = UniqueId<'static>> {
    vec(0x21u8..=0x7E, 1..=70)
        .prop_map(|v| UniqueId::new(String::from_utf8(v).expect("ASCII")).expect("valid unique id"))
}

// ---------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------

fn command() -> BoxedStrategy<Command<'static>> {
    prop_oneof![
        param(80).prop_map(Command::User),
        password().prop_map(Command::Pass),
        (param(80), any::<[u8; 16]>()).prop_map(|(name, d)| Command::Apop {
            name,
            digest: Digest(d)
        }),
        (mechanism(), proptest::option::of(sasl_data())).prop_map(|(mechanism, initial_response)| {
            Command::Auth {
                mechanism,
                initial_response,
            }
        }),
        Just(Command::Stat),
        proptest::option::of(message_number()).prop_map(Command::List),
        message_number().prop_map(Command::Retr),
        message_number().prop_map(Command::Dele),
        Just(Command::Noop),
        Just(Command::Rset),
        Just(Command::Quit),
        (message_number(), small_or_any_u32()).prop_map(|(message, lines)| Command::Top { message, lines }),
        proptest::option::of(message_number()).prop_map(Command::Uidl),
        Just(Command::Capa),
        Just(Command::Stls),
        Just(Command::Utf8),
        prop_oneof![
            Just(None),
            Just(Some(LanguageRange::Any)),
            language_tag().prop_map(|t| Some(LanguageRange::Tag(t))),
        ]
        .prop_map(Command::Lang),
    ]
    .boxed()
}

/// Commands as a client would send them, with keywords in any case.
fn command_wire(cmd: &Command<'_>, lower_keyword: bool) -> Vec<u8> {
    let mut wire = cmd.to_bytes();
    if lower_keyword {
        let kw = cmd.keyword().len();
        wire[..kw].make_ascii_lowercase();
    }
    wire
}

/// A lenient configuration must read what the strict encoder writes the
/// same way as the strict one.
const CONFIGS: [DecoderConfig; 2] = [
    DecoderConfig::STRICT,
    DecoderConfig {
        limits: Limits::RFC,
        leniency: Leniency::LENIENT,
    },
];

/// Which response form answers a command: RFC 1939, 2449, 5034 and 6856,
/// written out independently of `Expect::for_command`.
fn expect_of(cmd: &Command<'_>) -> Expect {
    match cmd.keyword() {
        "STAT" => Expect::Stat,
        "LIST" if matches!(cmd, Command::List(Some(_))) => Expect::ScanListing,
        "LIST" => Expect::ScanListings,
        "UIDL" if matches!(cmd, Command::Uidl(Some(_))) => Expect::UniqueIdListing,
        "UIDL" => Expect::UniqueIdListings,
        "CAPA" => Expect::Capabilities,
        "LANG" if matches!(cmd, Command::Lang(None)) => Expect::Languages,
        "RETR" | "TOP" => Expect::Message,
        "AUTH" => Expect::Sasl,
        _ => Expect::Status,
    }
}

proptest! {
    #[test]
    fn commands_round_trip(cmd in command(), lower in any::<bool>()) {
        let wire = command_wire(&cmd, lower);
        prop_assert!(wire.len() <= 255, "generator made a command over the limit: {} bytes", wire.len());
        for config in &CONFIGS {
            let decoded = decode_command(&wire, config);
            prop_assert_eq!(
                decoded,
                Ok(Decoded::Complete { value: cmd.clone(), consumed: wire.len() }),
                "wire {:?}",
                String::from_utf8_lossy(&wire)
            );
        }
        // Re-encoding a decoded command gives the canonical bytes back.
        if let Ok(Decoded::Complete { value, .. }) = decode_command(&wire, &DecoderConfig::STRICT) {
            prop_assert_eq!(value.to_bytes(), cmd.to_bytes());
            prop_assert_eq!(value.into_owned(), cmd.clone());
        }
    }

    #[test]
    fn command_prefixes_are_incomplete(cmd in command()) {
        let wire = cmd.to_bytes();
        for config in &CONFIGS {
            for i in 0..wire.len() {
                prop_assert_eq!(
                    decode_command(&wire[..i], config),
                    Ok(Decoded::Incomplete),
                    "prefix {} of {:?}",
                    i,
                    String::from_utf8_lossy(&wire)
                );
            }
        }
    }

    #[test]
    fn pipelined_commands_decode_in_order(cmds in vec(command(), 1..8), lower in any::<bool>()) {
        let mut wire = Vec::new();
        for c in &cmds {
            wire.extend_from_slice(&command_wire(c, lower));
        }
        for config in &CONFIGS {
            let mut at = 0;
            for (n, expected) in cmds.iter().enumerate() {
                let (value, consumed) = match decode_command(&wire[at..], config) {
                    Ok(Decoded::Complete { value, consumed }) => (value, consumed),
                    other => return Err(TestCaseError::fail(format!("command {n}: {other:?}"))),
                };
                prop_assert_eq!(&value, expected, "command {}", n);
                prop_assert_eq!(consumed, command_wire(expected, lower).len());
                at += consumed;
            }
            prop_assert_eq!(at, wire.len());
            prop_assert_eq!(decode_command(&wire[at..], config), Ok(Decoded::Incomplete));
        }
    }

    #[test]
    fn expect_for_command_matches_the_rfcs(cmd in command()) {
        let expect = Expect::for_command(&cmd);
        prop_assert_eq!(expect, expect_of(&cmd));
        let multi = matches!(
            cmd,
            Command::List(None) | Command::Uidl(None) | Command::Capa | Command::Lang(None)
                | Command::Retr(_) | Command::Top { .. }
        );
        prop_assert_eq!(expect.is_multi_line(), multi);
    }

    /// A command response pairing: whatever a command is answered with
    /// decodes under `Expect::for_command`.
    #[test]
    fn responses_to_commands_decode(
        (cmd, response) in command().prop_flat_map(|c| {
            let e = Expect::for_command(&c);
            (Just(c), response_for(e))
        })
    ) {
        let wire = response.to_bytes();
        let expect = Expect::for_command(&cmd);
        prop_assert_eq!(
            decode_response(&wire, expect, &DecoderConfig::STRICT),
            Ok(Decoded::Complete { value: response.clone(), consumed: wire.len() }),
            "{:?} answered by {:?}",
            cmd.keyword(),
            String::from_utf8_lossy(&wire)
        );
    }
}

// ---------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------

const KNOWN_CODES: [&str; 6] = ["IN-USE", "LOGIN-DELAY", "SYS/TEMP", "SYS/PERM", "AUTH", "UTF8"];

/// `rchar` of RFC 2449 section 9, without DEL, which is not printable.
fn rchars() -> Vec<u8> {
    (0x21u8..=0x7E).filter(|&b| b != b'/' && b != b']').collect()
}

fn response_code() -> impl Strategy<Value = ResponseCode<'static>> {
    let level = vec(select(rchars()), 1..=8).prop_map(|v| String::from_utf8(v).expect("ASCII"));
    let other = prop_oneof![
        Just("X/Y/Z".to_string()),
        Just("SYS/TEMP/DISK".to_string()),
        vec(level, 1..=4).prop_map(|levels| levels.join("/")),
    ]
    .prop_filter("not a well-known code", |s| {
        !KNOWN_CODES.iter().any(|k| k.eq_ignore_ascii_case(s))
    })
    .prop_map(|s| ResponseCode::Other(Cow::Owned(s)));
    prop_oneof![
        1 => Just(ResponseCode::InUse),
        1 => Just(ResponseCode::LoginDelay),
        1 => Just(ResponseCode::SysTemp),
        1 => Just(ResponseCode::SysPerm),
        1 => Just(ResponseCode::Auth),
        1 => Just(ResponseCode::Utf8),
        6 => other,
    ]
}

fn status_line(status: Status) -> impl Strategy<Value = StatusLine<'static>> {
    (proptest::option::of(response_code()), text_bytes(60)).prop_map(move |(code, mut text)| {
        // Without a code, text starting with "[" would be read as one.
        if code.is_none() && text.first() == Some(&b'[') {
            text[0] = b'(';
        }
        StatusLine {
            status,
            code,
            text: Text::new(text).expect("valid text"),
        }
    })
}

fn other_capability_tag() -> impl Strategy<Value = String> {
    const KNOWN: [&str; 13] = [
        "TOP",
        "USER",
        "SASL",
        "RESP-CODES",
        "LOGIN-DELAY",
        "PIPELINING",
        "EXPIRE",
        "UIDL",
        "IMPLEMENTATION",
        "STLS",
        "AUTH-RESP-CODE",
        "UTF8",
        "LANG",
    ];
    let cchars: Vec<u8> = (0x21u8..=0x7E).filter(|&b| b != b'.').collect();
    prop_oneof![
        Just("X-FOO".to_string()),
        vec(select(cchars), 1..=16).prop_map(|v| String::from_utf8(v).expect("ASCII")),
    ]
    .prop_filter("not a known capability", move |t| {
        !KNOWN.iter().any(|k| k.eq_ignore_ascii_case(t))
    })
}

fn capability() -> impl Strategy<Value = Capability<'static>> {
    // Known tags that take no parameters: with parameters they are kept as
    // `Other`.
    const NO_PARAMS: [&str; 8] = [
        "TOP",
        "USER",
        "RESP-CODES",
        "PIPELINING",
        "UIDL",
        "STLS",
        "AUTH-RESP-CODE",
        "LANG",
    ];
    prop_oneof![
        1 => Just(Capability::Top),
        1 => Just(Capability::User),
        1 => vec(mechanism(), 0..5).prop_map(Capability::Sasl),
        1 => Just(Capability::RespCodes),
        1 => (small_or_any_u32(), any::<bool>())
            .prop_map(|(seconds, per_user)| Capability::LoginDelay { seconds, per_user }),
        1 => Just(Capability::Pipelining),
        1 => (
            prop_oneof![small_or_any_u32().prop_map(Expire::Days), Just(Expire::Never)],
            any::<bool>()
        )
            .prop_map(|(policy, per_user)| Capability::Expire { policy, per_user }),
        1 => Just(Capability::Uidl),
        1 => text(60).prop_map(Capability::Implementation),
        1 => Just(Capability::Stls),
        1 => Just(Capability::AuthRespCode),
        1 => any::<bool>().prop_map(|user| Capability::Utf8 { user }),
        1 => Just(Capability::Lang),
        3 => (other_capability_tag(), vec(param(20), 0..4)).prop_map(|(tag, params)| Capability::Other {
            tag: Cow::Owned(tag),
            params,
        }),
        1 => (select(NO_PARAMS.to_vec()), vec(param(20), 1..3)).prop_map(|(tag, params)| Capability::Other {
            tag: Cow::Borrowed(tag),
            params,
        }),
    ]
}

fn language() -> impl Strategy<Value = Language<'static>> {
    (language_tag(), text(40)).prop_map(|(tag, description)| Language { tag, description })
}

fn scan_listing() -> impl Strategy<Value = ScanListing> {
    (message_number(), small_or_any_u64()).prop_map(|(message, size)| ScanListing { message, size })
}

fn unique_id_listing() -> impl Strategy<Value = UniqueIdListing<'static>> {
    (message_number(), unique_id()).prop_map(|(message, unique_id)| UniqueIdListing { message, unique_id })
}

/// Message bytes biased to what makes dot-stuffing interesting.
fn message_bytes(max_fragments: usize) -> impl Strategy<Value = Vec<u8>> {
    let fragments: Vec<&'static [u8]> = vec![
        b".",
        b"..",
        b"\r",
        b"\n",
        b"\r\n",
        b"\r\n.",
        b".\r\n",
        b"\r\n.\r\n",
        b"\n.\n",
        b"x",
        b"line",
        b" ",
        b"\0",
        b"\xff",
        b"\x80",
        b"\r\r",
        b"\n\n",
    ];
    prop_oneof![
        1 => vec(any::<u8>(), 0..=max_fragments * 3),
        1 => vec(select(vec![b'.', b'\r', b'\n']), 0..=max_fragments * 2),
        1 => vec(select(vec![b'.', b'\r', b'\n', b'a']), 0..=max_fragments * 2),
        3 => vec(select(fragments), 0..=max_fragments).prop_map(|f| f.concat()),
    ]
}

const ALL_EXPECTS: [Expect; 11] = [
    Expect::Greeting,
    Expect::Status,
    Expect::Stat,
    Expect::ScanListing,
    Expect::ScanListings,
    Expect::UniqueIdListing,
    Expect::UniqueIdListings,
    Expect::Capabilities,
    Expect::Languages,
    Expect::Message,
    Expect::Sasl,
];

/// Any response that can answer `expect`: the `+OK` form of that expect,
/// or `-ERR` (always a plain status line).
fn response_for(expect: Expect) -> BoxedStrategy<Response<'static>> {
    let err = status_line(Status::Err).prop_map(Response::Status).boxed();
    let ok_status = || status_line(Status::Ok);
    let ok: BoxedStrategy<Response<'static>> = match expect {
        Expect::Greeting | Expect::Status => ok_status().prop_map(Response::Status).boxed(),
        Expect::Sasl => prop_oneof![
            ok_status().prop_map(Response::Status),
            sasl_data().prop_map(Response::Continuation),
        ]
        .boxed(),
        Expect::Stat => (small_or_any_u32(), small_or_any_u64())
            .prop_map(|(count, size)| Response::Stat(Stat { count, size }))
            .boxed(),
        Expect::ScanListing => scan_listing().prop_map(Response::ScanListing).boxed(),
        Expect::ScanListings => (ok_status(), vec(scan_listing(), 0..8))
            .prop_map(|(status, listings)| Response::ScanListings { status, listings })
            .boxed(),
        Expect::UniqueIdListing => unique_id_listing().prop_map(Response::UniqueIdListing).boxed(),
        Expect::UniqueIdListings => (ok_status(), vec(unique_id_listing(), 0..6))
            .prop_map(|(status, listings)| Response::UniqueIdListings { status, listings })
            .boxed(),
        Expect::Capabilities => (ok_status(), vec(capability(), 0..8))
            .prop_map(|(status, capabilities)| Response::Capabilities { status, capabilities })
            .boxed(),
        Expect::Languages => (ok_status(), vec(language(), 0..6))
            .prop_map(|(status, languages)| Response::Languages { status, languages })
            .boxed(),
        Expect::Message => (ok_status(), message_bytes(40))
            .prop_map(|(status, message)| Response::Message {
                status,
                body: Body::from_message(&message),
            })
            .boxed(),
        other => panic!("no strategy for {other:?}: add one and list it in ALL_EXPECTS"),
    };
    prop_oneof![3 => ok, 1 => err].boxed()
}

fn expect_and_response() -> impl Strategy<Value = (Expect, Response<'static>)> {
    select(ALL_EXPECTS.to_vec()).prop_flat_map(|e| (Just(e), response_for(e)))
}

/// Prefix lengths to try: all of them for short wires, a sample otherwise.
fn prefix_lengths(len: usize) -> Vec<usize> {
    if len <= 600 {
        (0..len).collect()
    } else {
        let step = len / 200 + 1;
        (0..len).step_by(step).chain(len.saturating_sub(8)..len).collect()
    }
}

proptest! {
    #[test]
    fn responses_round_trip((expect, response) in expect_and_response()) {
        let wire = response.to_bytes();
        for config in &CONFIGS {
            prop_assert_eq!(
                decode_response(&wire, expect, config),
                Ok(Decoded::Complete { value: response.clone(), consumed: wire.len() }),
                "{:?} {:?} lenient={}",
                expect,
                String::from_utf8_lossy(&wire),
                config.leniency.extra_spaces
            );
        }
        if let Ok(Decoded::Complete { value, .. }) = decode_response(&wire, expect, &DecoderConfig::STRICT) {
            prop_assert_eq!(value.to_bytes(), wire.clone());
            prop_assert_eq!(value.into_owned(), response.clone());
        }
        // Followed by more input, a response still ends where it ends.
        let mut more = wire.clone();
        more.extend_from_slice(b"+OK next\r\n");
        prop_assert_eq!(
            decode_response(&more, expect, &DecoderConfig::STRICT),
            Ok(Decoded::Complete { value: response.clone(), consumed: wire.len() })
        );
    }

    #[test]
    fn response_prefixes_are_incomplete((expect, response) in expect_and_response()) {
        let wire = response.to_bytes();
        for config in &CONFIGS {
            for i in prefix_lengths(wire.len()) {
                prop_assert_eq!(
                    decode_response(&wire[..i], expect, config),
                    Ok(Decoded::Incomplete),
                    "prefix {} of {:?} as {:?}",
                    i,
                    String::from_utf8_lossy(&wire),
                    expect
                );
            }
        }
    }

    #[test]
    fn status_lines_parse_alone(status in prop_oneof![Just(Status::Ok), Just(Status::Err)]
        .prop_flat_map(status_line))
    {
        let wire = Response::Status(status.clone()).to_bytes();
        let content = &wire[..wire.len() - 2];
        prop_assert_eq!(parse_status_line(content, &DecoderConfig::STRICT), Ok(status.clone()));
        if status.code.is_some() && status.text.is_empty() {
            // "-ERR [CODE]": no trailing space.
            prop_assert_eq!(content.last(), Some(&b']'));
        }
    }
}

// ---------------------------------------------------------------------------
// Bodies
// ---------------------------------------------------------------------------

/// CRLF normalisation, written independently of the crate: every LF not
/// after a CR becomes CRLF, and a non-empty message ends with CRLF (a final
/// lone CR becomes CRLF).
fn normalise(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() * 2 + 2);
    for (i, &b) in message.iter().enumerate() {
        if b == b'\n' && (i == 0 || message[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(b);
    }
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        if out.ends_with(b"\r") {
            out.push(b'\n');
        } else {
            out.extend_from_slice(b"\r\n");
        }
    }
    out
}

/// Splits `data` into pieces of the given sizes, cycling through them.
fn split<'a>(data: &'a [u8], sizes: &[usize]) -> Vec<&'a [u8]> {
    if sizes.is_empty() || sizes.iter().all(|&s| s == 0) {
        return vec![data];
    }
    let mut out = Vec::new();
    let mut at = 0;
    for &size in sizes.iter().cycle() {
        if at >= data.len() {
            break;
        }
        let end = (at + size).min(data.len());
        out.push(&data[at..end]);
        at = end;
    }
    out
}

fn stuff(message: &[u8], sizes: &[usize]) -> (Vec<u8>, u64) {
    let mut out = Vec::new();
    let mut stuffer = DotStuffer::new();
    for piece in split(message, sizes) {
        stuffer.push(piece, &mut out);
    }
    stuffer.finish(&mut out);
    (out, stuffer.normalised_len())
}

/// What a socket reader gets out of a `BodyDecoder` fed `wire` in pieces
/// of the given sizes (all at least 1).
#[derive(Debug, PartialEq, Eq)]
struct Unstuffed {
    body: Vec<u8>,
    /// Where the body ended (terminating line included), if it did.
    end_at: Option<usize>,
    /// Input bytes the decoder used in all.
    used: usize,
}

fn unstuff(wire: &[u8], sizes: &[usize]) -> Result<Unstuffed, TestCaseError> {
    let mut decoder = BodyDecoder::new();
    let mut pieces = split(wire, sizes).into_iter();
    let mut pending: Vec<u8> = Vec::new();
    let mut body = Vec::new();
    let mut used = 0;
    loop {
        match decoder.decode(&pending) {
            Decoded::Complete {
                value: BodyChunk::Data(data),
                consumed,
            } => {
                prop_assert!(
                    consumed > 0 && consumed <= pending.len(),
                    "consumed {consumed} of {pending:?}"
                );
                prop_assert!(data.len() <= consumed);
                prop_assert!(!decoder.is_finished());
                body.extend_from_slice(data);
                pending.drain(..consumed);
                used += consumed;
                prop_assert_eq!(decoder.delivered(), body.len() as u64);
            }
            Decoded::Complete {
                value: BodyChunk::End,
                consumed,
            } => {
                prop_assert!(consumed <= pending.len());
                prop_assert!(decoder.is_finished());
                used += consumed;
                // A finished decoder stays finished and uses nothing more.
                prop_assert_eq!(
                    decoder.decode(&pending[consumed..]),
                    Decoded::Complete {
                        value: BodyChunk::End,
                        consumed: 0
                    }
                );
                return Ok(Unstuffed {
                    body,
                    end_at: Some(used),
                    used,
                });
            }
            Decoded::Incomplete => match pieces.next() {
                Some(piece) => pending.extend_from_slice(piece),
                None => {
                    return Ok(Unstuffed {
                        body,
                        end_at: None,
                        used,
                    });
                }
            },
        }
    }
}

fn chunk_sizes() -> impl Strategy<Value = Vec<usize>> {
    prop_oneof![
        Just(vec![]),
        Just(vec![1]),
        Just(vec![2]),
        vec(1usize..=8, 1..6),
        vec(1usize..=64, 1..4),
    ]
}

proptest! {
    #[test]
    fn bodies_round_trip(
        message in message_bytes(60),
        stuff_sizes in prop_oneof![chunk_sizes(), vec(0usize..=8, 1..6)],
        read_sizes in chunk_sizes(),
    ) {
        let expected = normalise(&message);
        let (wire, normalised_len) = stuff(&message, &stuff_sizes);
        let (whole, whole_len) = stuff(&message, &[]);
        prop_assert_eq!(&wire, &whole, "stuffing depends on the chunking");
        prop_assert_eq!(normalised_len, whole_len);
        prop_assert_eq!(normalised_len, expected.len() as u64);
        prop_assert_eq!(crlf_size(&message), expected.len() as u64);

        // Only the terminator is a lone "." line.
        prop_assert!(wire.ends_with(b".\r\n"));
        let body_len = wire.len() - 3;
        prop_assert!(body_len == 0 || wire[..body_len].ends_with(b"\r\n"));
        prop_assert!(!wire[..body_len].starts_with(b".\r\n"));
        prop_assert_eq!(
            memchr::memmem::find(&wire, b"\r\n.\r\n"),
            body_len.checked_sub(2),
            "{:?}",
            String::from_utf8_lossy(&wire)
        );
        // Stuffing adds exactly one dot per line that starts with a dot.
        let dotted_lines = usize::from(expected.first() == Some(&b'.'))
            + memchr::memmem::find_iter(&expected, b"\r\n.").count();
        prop_assert_eq!(body_len, expected.len() + dotted_lines);

        let mut followed = wire.clone();
        followed.extend_from_slice(b"+OK next\r\n");
        for input in [&wire, &followed] {
            let got = unstuff(input, &read_sizes)?;
            prop_assert_eq!(&got.body, &expected, "wire {:?}", String::from_utf8_lossy(&wire));
            prop_assert_eq!(got.end_at, Some(wire.len()));
        }

        // The one-shot forms agree with the streaming ones.
        let body = Body::from_message(&message);
        prop_assert_eq!(body.wire(), &wire[..body_len]);
        prop_assert_eq!(&*body.unstuffed(), &expected[..]);
        prop_assert_eq!(Body::from_wire(body.wire().to_vec()), Ok(body.clone()));
        let mut response = b"+OK\r\n".to_vec();
        response.extend_from_slice(&wire);
        prop_assert_eq!(
            decode_response(&response, Expect::Message, &DecoderConfig::STRICT),
            Ok(Decoded::Complete {
                value: Response::Message { status: StatusLine::ok(""), body },
                consumed: response.len(),
            })
        );
    }

    /// Whatever the bytes, the decoder's output does not depend on how
    /// they arrive.
    #[test]
    fn body_decoder_ignores_chunking(input in message_bytes(60), read_sizes in chunk_sizes()) {
        let whole = unstuff(&input, &[])?;
        let chunked = unstuff(&input, &read_sizes)?;
        prop_assert_eq!(&chunked, &whole, "input {:?}", String::from_utf8_lossy(&input));
        prop_assert!(whole.used <= input.len());
    }
}

// ---------------------------------------------------------------------------
// Hostile input
// ---------------------------------------------------------------------------

/// Bytes biased to protocol tokens, so that decoders get past the first
/// checks.
fn hostile_bytes() -> impl Strategy<Value = Vec<u8>> {
    let tokens: Vec<&'static [u8]> = vec![
        b"+OK",
        b"-ERR",
        b"+ok",
        b"+",
        b"+ ",
        b" ",
        b"  ",
        b"\r\n",
        b"\n",
        b"\r",
        b".",
        b".\r\n",
        b"..",
        b"\r\n.\r\n",
        b"[",
        b"]",
        b"/",
        b"[SYS/TEMP]",
        b"[IN-USE]",
        b"0",
        b"1",
        b"4294967296",
        b"99999999999999999999",
        b"18446744073709551616",
        b"USER",
        b"PASS",
        b"APOP",
        b"AUTH",
        b"LIST",
        b"TOP",
        b"UIDL",
        b"LANG",
        b"*",
        b"=",
        b"dGVzdA==",
        b"PLAIN",
        b"SASL",
        b"IMPLEMENTATION",
        b"LOGIN-DELAY",
        b"EXPIRE",
        b"NEVER",
        b"UTF8",
        b"en-boont",
        b"<a@b>",
        b"\0",
        b"\xff",
        b"\x7f",
        b"x",
    ];
    prop_oneof![
        1 => vec(any::<u8>(), 0..128),
        3 => vec(select(tokens), 0..24).prop_map(|t| t.concat()),
    ]
}

fn configs_for_hostile_input() -> Vec<DecoderConfig> {
    let tiny = Limits {
        command_line: 8,
        sasl_line: 8,
        response_line: 12,
        multi_line: 24,
        body: 6,
    };
    let zero = Limits {
        command_line: 0,
        sasl_line: 0,
        response_line: 0,
        multi_line: 0,
        body: 0,
    };
    vec![
        DecoderConfig::STRICT,
        DecoderConfig::default(),
        DecoderConfig {
            limits: tiny,
            leniency: Leniency::LENIENT,
        },
        DecoderConfig {
            limits: tiny,
            leniency: Leniency::STRICT,
        },
        DecoderConfig {
            limits: zero,
            leniency: Leniency::LENIENT,
        },
    ]
}

/// Limits meaning "no limit".
const UNLIMITED: Limits = Limits {
    command_line: usize::MAX,
    sasl_line: usize::MAX,
    response_line: usize::MAX,
    multi_line: usize::MAX,
    body: usize::MAX,
};

fn check_outcome<T: std::fmt::Debug>(
    what: &str,
    input: &[u8],
    outcome: &Result<Decoded<T>, DecodeError>,
) -> Result<(), TestCaseError> {
    match outcome {
        Ok(Decoded::Complete { consumed, .. }) => {
            prop_assert!(
                *consumed > 0 && *consumed <= input.len(),
                "{what}: consumed {consumed}"
            );
        }
        Ok(Decoded::Incomplete) => {}
        Err(e) => {
            prop_assert!(e.offset <= input.len(), "{what}: offset past the input: {e:?}");
            if let Some(r) = e.resume_at {
                prop_assert!(r > 0 && r <= input.len(), "{what}: resume_at out of range: {e:?}");
            }
            if let Some(b) = e.found {
                prop_assert_eq!(
                    input.get(e.offset),
                    Some(&b),
                    "{}: found is not the byte at offset: {:?}",
                    what,
                    e
                );
            }
            prop_assert!(!e.to_string().is_empty());
        }
    }
    Ok(())
}

/// How far the prefixes of `input` must all be `Incomplete`: up to the end
/// of a complete value, or the whole of an incomplete input.
fn prefix_bound<T>(input: &[u8], outcome: &Result<Decoded<T>, DecodeError>) -> Option<usize> {
    match outcome {
        Ok(Decoded::Complete { consumed, .. }) => Some(*consumed),
        Ok(Decoded::Incomplete) => Some(input.len()),
        Err(_) => None,
    }
}

/// Every decoder on `input` under `config`: no panic, errors in range, and
/// whatever decodes or is incomplete has only incomplete prefixes.
fn check_all_decoders(input: &[u8], config: &DecoderConfig, prefixes: bool) -> Result<(), TestCaseError> {
    let outcome = decode_command(input, config);
    check_outcome("command", input, &outcome)?;
    if let (true, Some(n)) = (prefixes, prefix_bound(input, &outcome)) {
        for i in 0..n {
            prop_assert_eq!(
                decode_command(&input[..i], config),
                Ok(Decoded::Incomplete),
                "command prefix {}",
                i
            );
        }
    }
    check_outcome("SASL response", input, &decode_sasl_response(input, config))?;
    for expect in ALL_EXPECTS {
        let outcome = decode_response(input, expect, config);
        check_outcome(&format!("{expect:?}"), input, &outcome)?;
        if let (true, Some(n)) = (prefixes, prefix_bound(input, &outcome)) {
            for i in 0..n {
                prop_assert_eq!(
                    decode_response(&input[..i], expect, config),
                    Ok(Decoded::Incomplete),
                    "{:?} prefix {} of a {}",
                    expect,
                    i,
                    if n == input.len() {
                        "incomplete input"
                    } else {
                        "complete response"
                    }
                );
            }
        }
    }
    let content = input.split(|&b| b == b'\n').next().unwrap_or_default();
    if let Err(e) = parse_status_line(content, config) {
        prop_assert!(e.offset <= content.len(), "status line offset {e:?}");
    }
    Ok(())
}

proptest! {
    #[test]
    fn hostile_input_never_panics(input in hostile_bytes(), read_sizes in chunk_sizes()) {
        for config in configs_for_hostile_input() {
            check_all_decoders(&input, &config, input.len() <= 96)?;
        }
        let got = unstuff(&input, &read_sizes)?;
        prop_assert!(got.used <= input.len());
    }

    /// Limits of `usize::MAX` are how a caller says "no limit".
    #[test]
    fn unlimited_limits_are_no_limits(input in hostile_bytes()) {
        for leniency in [Leniency::STRICT, Leniency::LENIENT] {
            let config = DecoderConfig { limits: UNLIMITED, leniency };
            check_all_decoders(&input, &config, false)?;
        }
    }
}

/// Without limits, lines far longer than RFC 1939's limits decode whole;
/// with them, they are refused.
#[test]
fn unlimited_limits_take_lines_the_rfc_limits_refuse() {
    let unlimited = with_limits(UNLIMITED);
    let rfc = with_limits(Limits::RFC);
    let long = "x".repeat(100_000);
    let response = format!("+OK {long}\r\n").into_bytes();
    let command = format!("USER {long}\r\n").into_bytes();
    let sasl = format!("{}\r\n", "QUFB".repeat(25_000)).into_bytes();
    fn whole<T>(got: Result<Decoded<T>, DecodeError>, len: usize) -> bool {
        matches!(got, Ok(Decoded::Complete { consumed, .. }) if consumed == len)
    }
    fn too_long<T>(got: Result<Decoded<T>, DecodeError>) -> bool {
        matches!(got.map_err(|e| e.kind), Err(ErrorKind::LineTooLong { .. }))
    }
    assert!(whole(
        decode_response(&response, Expect::Status, &unlimited),
        response.len()
    ));
    assert!(too_long(decode_response(&response, Expect::Status, &rfc)));
    assert!(whole(decode_command(&command, &unlimited), command.len()));
    assert!(too_long(decode_command(&command, &rfc)));
    assert!(whole(decode_sasl_response(&sasl, &unlimited), sasl.len()));
    assert!(too_long(decode_sasl_response(&sasl, &rfc)));
}

// ---------------------------------------------------------------------------
// Limits and leniency
// ---------------------------------------------------------------------------

fn with_limits(limits: Limits) -> DecoderConfig {
    DecoderConfig {
        limits,
        leniency: Leniency::STRICT,
    }
}

/// A limit near `len`: a little below, at, or a little above it.
fn near(len: usize, delta: i8) -> usize {
    len.saturating_add_signed(isize::from(delta))
}

proptest! {
    /// `command_line` is the longest command line, CRLF included.
    #[test]
    fn command_line_limit_is_exact(cmd in command(), delta in -3i8..=3) {
        let wire = cmd.to_bytes();
        let limit = near(wire.len(), delta);
        let got = decode_command(&wire, &with_limits(Limits { command_line: limit, ..Limits::RFC }));
        if wire.len() <= limit {
            prop_assert_eq!(got, Ok(Decoded::Complete { value: cmd.clone(), consumed: wire.len() }));
        } else {
            prop_assert_eq!(got.map_err(|e| e.kind), Err(ErrorKind::LineTooLong { limit }));
        }
    }

    /// `response_line` is the longest response line, CRLF included.
    #[test]
    fn response_line_limit_is_exact((expect, response) in expect_and_response(), delta in -3i8..=3) {
        let wire = response.to_bytes();
        // The limit is tried at the longest line it bounds: the status
        // line, and the later lines of a listing (a message's lines are
        // bounded by `body` alone).
        let first = wire.iter().position(|&b| b == b'\n').expect("a line") + 1;
        let later = match response {
            Response::Message { .. } => 0,
            _ => wire[first..].split_inclusive(|&b| b == b'\n').map(<[u8]>::len).max().unwrap_or(0),
        };
        let longest = first.max(later);
        let limit = near(longest, delta);
        let got = decode_response(&wire, expect, &with_limits(Limits { response_line: limit, ..Limits::RFC }));
        if longest <= limit {
            prop_assert_eq!(got, Ok(Decoded::Complete { value: response.clone(), consumed: wire.len() }));
        } else {
            prop_assert_eq!(got.map_err(|e| e.kind), Err(ErrorKind::LineTooLong { limit }));
        }
    }

    /// `body` is the longest body `decode_response` holds, without the
    /// terminating line.
    #[test]
    fn body_limit_is_exact(message in message_bytes(20), delta in -3i8..=3) {
        let response = Response::Message { status: StatusLine::ok("x"), body: Body::from_message(&message) };
        let wire = response.to_bytes();
        let body_len = wire.len() - b"+OK x\r\n".len() - b".\r\n".len();
        let limit = near(body_len, delta);
        let got = decode_response(&wire, Expect::Message, &with_limits(Limits { body: limit, ..Limits::RFC }));
        if body_len <= limit {
            prop_assert_eq!(got, Ok(Decoded::Complete { value: response.clone(), consumed: wire.len() }));
        } else {
            prop_assert_eq!(got.map_err(|e| e.kind), Err(ErrorKind::ResponseTooLong { limit }));
        }
    }
}

/// Multi-line responses other than message bodies, in their `+OK` form.
fn multi_line_response() -> impl Strategy<Value = (Expect, Response<'static>)> {
    select(vec![
        Expect::ScanListings,
        Expect::UniqueIdListings,
        Expect::Capabilities,
        Expect::Languages,
    ])
    .prop_flat_map(|e| (Just(e), response_for(e)))
    .prop_filter("+OK form", |(_, r)| !matches!(r, Response::Status(_)))
}

/// Decodes a multi-line response under a `multi_line` limit of `limit`:
/// complete if it fits, terminator included, and an error otherwise.
fn check_multi_line_limit(
    expect: Expect,
    response: &Response<'_>,
    limit: usize,
) -> Result<(), TestCaseError> {
    let wire = response.to_bytes();
    let got = decode_response(
        &wire,
        expect,
        &with_limits(Limits {
            multi_line: limit,
            ..Limits::RFC
        }),
    );
    if wire.len() <= limit {
        prop_assert_eq!(
            got,
            Ok(Decoded::Complete {
                value: response.clone(),
                consumed: wire.len()
            })
        );
    } else {
        prop_assert_eq!(
            got.map_err(|e| e.kind),
            Err(ErrorKind::ResponseTooLong { limit }),
            "{} bytes accepted under a limit of {}: {:?}",
            wire.len(),
            limit,
            String::from_utf8_lossy(&wire)
        );
    }
    Ok(())
}

/// Lower-cases the letters of the status word picked by `mask`.
fn mix_status_case(wire: &mut [u8], mask: u8) {
    let status_len = if wire.starts_with(b"+OK") { 3 } else { 4 };
    for (i, b) in wire[1..status_len].iter_mut().enumerate() {
        if mask & (1 << i) != 0 {
            b.make_ascii_lowercase();
        }
    }
}

proptest! {
    /// `multi_line` bounds multi-line responses: what fits is accepted, and
    /// what is longer than the limit plus a terminating line is rejected.
    #[test]
    fn multi_line_limit_bounds_responses(
        (expect, response) in multi_line_response(),
        delta in prop_oneof![0i8..=3, -8i8..=-4],
    ) {
        check_multi_line_limit(expect, &response, near(response.to_bytes().len(), delta))?;
    }

    /// `multi_line` is the longest multi-line response, terminator
    /// included (`Limits::multi_line`): a response one to three bytes over
    /// the limit is refused, "+OK\r\n.\r\n" (8 bytes) under a limit of 5,
    /// 6 or 7 among them.
    #[test]
    fn multi_line_limit_counts_the_terminator(
        (expect, response) in multi_line_response(),
        delta in -3i8..=-1,
    ) {
        check_multi_line_limit(expect, &response, near(response.to_bytes().len(), delta))?;
    }

    /// `Leniency::status_case` accepts "+ok" and "-err" in any case, for
    /// every kind of response but SASL (see below).
    #[test]
    fn lenient_status_is_case_insensitive(
        (expect, response) in expect_and_response().prop_filter("not SASL", |(e, _)| *e != Expect::Sasl),
        mask in any::<u8>(),
    ) {
        let mut wire = response.to_bytes();
        mix_status_case(&mut wire, mask);
        prop_assert_eq!(
            decode_response(&wire, expect, &DecoderConfig::default()),
            Ok(Decoded::Complete { value: response.clone(), consumed: wire.len() }),
            "{:?} {:?}",
            expect,
            String::from_utf8_lossy(&wire)
        );
    }

    /// The same under `Expect::Sasl`: a status line in any case is a
    /// status, not a challenge (which is "+" and a space).
    #[test]
    fn lenient_status_is_case_insensitive_for_sasl(
        response in response_for(Expect::Sasl).prop_filter("status line", |r| matches!(r, Response::Status(_))),
        mask in any::<u8>(),
    ) {
        let mut wire = response.to_bytes();
        mix_status_case(&mut wire, mask);
        prop_assert_eq!(
            decode_response(&wire, Expect::Sasl, &DecoderConfig::default()),
            Ok(Decoded::Complete { value: response.clone(), consumed: wire.len() }),
            "{:?}",
            String::from_utf8_lossy(&wire)
        );
    }

    #[test]
    fn sasl_responses_round_trip(response in prop_oneof![
        Just(SaslResponse::Cancel),
        sasl_data().prop_map(SaslResponse::Data),
    ]) {
        let mut wire = Vec::new();
        response.encode(&mut wire);
        for config in &CONFIGS {
            prop_assert_eq!(
                decode_sasl_response(&wire, config),
                Ok(Decoded::Complete { value: response.clone(), consumed: wire.len() })
            );
            for i in 0..wire.len() {
                prop_assert_eq!(decode_sasl_response(&wire[..i], config), Ok(Decoded::Incomplete));
            }
        }
    }
}
