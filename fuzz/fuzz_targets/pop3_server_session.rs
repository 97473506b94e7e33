//! The server session fed arbitrary client bytes in arbitrary reads, with
//! the application's side played here: logins accepted or refused,
//! messages streamed in pieces of a fuzzed size, commits that succeed or
//! fail, messages that fail before or during their body.
//!
//! Beyond "no panic": deletions are committed only through a Commit event
//! answered with `commit_done`, every session ends with at most one Closed
//! event, the output never grows beyond the back-pressure mark plus one
//! stuffed piece (and one status line while a message streams, one answer
//! otherwise) while the application gives message data
//! as long as `wants_message_data` says (a 1,640-octet message among
//! them), and
//! the output depends neither on how the input was split into reads nor on
//! how the messages were split into pieces.
#![no_main]

use std::sync::LazyLock;
use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use mailwire_pop3::{
    LanguageTag, LoginRejection, LoginRequest, MaildropError, MessageInfo, MessageNumber, RetrieveHandle,
    ServerConfig, ServerEvent, ServerSession, Timestamp, Tls, UniqueId, crlf_size,
};

/// The maildrop. Message 5 is long (1,640 octets, 1,720 sent): a session
/// that did not stop at the back-pressure mark while it streams would
/// buffer more than the bound checked below.
static MESSAGES: LazyLock<[Vec<u8>; 5]> = LazyLock::new(|| {
    [
        b"Subject: one\r\n\r\nbody\r\n.\r\n..dots\r\n".to_vec(),
        b"Subject: bare\n\nlf only\n.\nno final newline".to_vec(),
        Vec::new(),
        b"Subject: caf\xc3\xa9\r\n\r\n\xff\x00 8-bit\r\n".to_vec(),
        [
            &b"Subject: long\r\n\r\n"[..],
            &b".a line to stuff\n".repeat(100)[..],
        ]
        .concat(),
    ]
});

const MAX_OUTPUT: usize = 64;
/// Where message 2 fails when failures are on.
const FAIL_AT: usize = 10;

struct Run {
    output: Vec<u8>,
    committed: bool,
    /// What the application removed from its store.
    removed: Vec<MessageNumber>,
}

/// A message being streamed by the application.
struct Streaming {
    handle: RetrieveHandle,
    at: usize,
}

fn run(flags: u8, input: &[u8], reads: &[u8], piece: usize) -> Run {
    let config = ServerConfig {
        allow_plaintext_auth: flags & 1 != 0,
        tls: match (flags >> 1) & 3 {
            0 => Tls::Unavailable,
            1 => Tls::Available,
            _ => Tls::Active,
        },
        apop_timestamp: (flags & 8 != 0).then(|| Timestamp::new("<1.2@fuzz>").unwrap()),
        languages: if flags & 16 != 0 {
            vec![(LanguageTag::new("en").unwrap(), "English".into())]
        } else {
            Vec::new()
        },
        utf8: flags & 32 != 0,
        max_buffered_output: MAX_OUTPUT,
        ..ServerConfig::default()
    };
    let accept = flags & 64 != 0;
    // Commits fail; message 2 fails after FAIL_AT bytes, message 4 before
    // its first byte.
    let failing = flags & 128 != 0;
    let listing: Vec<MessageInfo> = MESSAGES
        .iter()
        .enumerate()
        .map(|(i, m)| MessageInfo {
            size: crlf_size(m),
            unique_id: UniqueId::new(format!("uid{i}")).unwrap(),
            needs_utf8: i == 3,
        })
        .collect();
    let now = Instant::now();
    let mut session = ServerSession::new(config);
    session.handle_timeout(now);
    let mut streaming: Option<Streaming> = None;
    let mut run = Run {
        output: Vec::new(),
        committed: false,
        removed: Vec::new(),
    };
    let mut closed_events = 0;
    let mut commit_answered = None;
    let mut reads = mailwire_fuzz::Reads::new(input, reads);
    loop {
        loop {
            let mut progressed = false;
            // The longest piece of message given since output was last taken.
            let mut largest = 0;
            while let Some(event) = session.poll_event() {
                progressed = true;
                assert!(streaming.is_none(), "an event while a message is pending");
                match event {
                    ServerEvent::Login(login) => {
                        if accept && !matches!(login.request(), LoginRequest::Sasl { .. }) {
                            session.accept_login(login, listing.clone()).unwrap();
                        } else {
                            session
                                .reject_login(login, LoginRejection::BadCredentials)
                                .unwrap();
                        }
                    }
                    ServerEvent::Retrieve(handle) => {
                        assert!(handle.message().index() < MESSAGES.len());
                        if failing && handle.message().get() == 4 {
                            let error = MaildropError::Temporary("unreadable".into());
                            session.message_failed(handle, error).unwrap();
                        } else {
                            streaming = Some(Streaming { handle, at: 0 });
                        }
                    }
                    ServerEvent::Commit(commit) => {
                        assert!(!run.committed);
                        if failing {
                            let error = MaildropError::Temporary("disk full".into());
                            session.commit_failed(commit, error).unwrap();
                        } else {
                            run.removed = commit.deleted().to_vec();
                            session.commit_done(commit).unwrap();
                        }
                        commit_answered = Some(!failing);
                    }
                    ServerEvent::StartTls => session.tls_established(),
                    ServerEvent::Closed { committed } => {
                        closed_events += 1;
                        run.committed = committed;
                    }
                    other => panic!("unknown event {other:?}"),
                }
            }
            // The application streams the message while the session wants it.
            if let Some(s) = &mut streaming {
                let message = &MESSAGES[s.handle.message().index()][..];
                let fails = failing && s.handle.message().get() == 2;
                let limit = if fails { FAIL_AT } else { message.len() };
                // As much as the session wants before anything is sent, so
                // that its output reaches the back-pressure mark.
                while !session.top_complete() && s.at < limit && session.wants_message_data() {
                    let end = s.at.saturating_add(piece).min(limit);
                    session.message_data(&s.handle, &message[s.at..end]).unwrap();
                    largest = largest.max(end - s.at);
                    s.at = end;
                    progressed = true;
                }
                if session.top_complete() || s.at == limit {
                    let s = streaming.take().unwrap();
                    if fails && !session.top_complete() {
                        let error = MaildropError::Temporary("read error".into());
                        session.message_failed(s.handle, error).unwrap();
                        assert!(session.is_closed(), "a message failed half-way");
                    } else {
                        session.message_end(s.handle).unwrap();
                    }
                    progressed = true;
                }
            }
            while let Some(bytes) = session.poll_transmit() {
                progressed = true;
                // What was buffered (taking it lets the session go on with
                // pipelined commands): commands stop at the mark, a message
                // piece is stuffed to at most twice its size; past that,
                // while a message streams, one status line at most (its
                // own), and otherwise one answer (the longest, CAPA's or an
                // error naming what was expected, is under 256 octets).
                let answer = if streaming.is_some() { 64 } else { 256 };
                assert!(
                    bytes.len() <= MAX_OUTPUT + 2 * largest + answer,
                    "{} octets buffered, pieces up to {largest}, streaming: {}",
                    bytes.len(),
                    streaming.is_some()
                );
                run.output.extend_from_slice(&bytes);
            }
            if !progressed {
                break;
            }
        }
        if session.is_closed() {
            break;
        }
        let Some(read) = reads.next() else {
            break;
        };
        session.receive(read);
        session.handle_timeout(now);
    }
    assert!(closed_events <= 1);
    // The session says "committed" exactly when the application committed.
    assert_eq!(run.committed, commit_answered == Some(true));
    run
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    // Up to 8 read sizes and a piece size, then the client's bytes.
    let shape = rest.first().copied().unwrap_or(0);
    let n = usize::from(shape & 0x0f) % 9;
    let piece = usize::from(shape >> 4) + 1;
    let (reads, input) = rest
        .get(1..)
        .unwrap_or_default()
        .split_at(n.min(rest.len().saturating_sub(1)));

    let chunked = run(flags, input, reads, piece);
    let whole = run(flags, input, &[], usize::MAX);
    // STLS discards what was pipelined after it, which depends on the reads.
    if !input.windows(4).any(|w| w.eq_ignore_ascii_case(b"STLS")) {
        assert_eq!(
            chunked.output, whole.output,
            "output depends on how the input was read or the messages were cut"
        );
        assert_eq!(chunked.committed, whole.committed);
        assert_eq!(chunked.removed, whole.removed);
    }
});
