//! The server session fed arbitrary client bytes in arbitrary reads.
//!
//! Beyond "no panic": the maildrop changes only when the session reports a
//! committed QUIT, the lock is always released when the session ends, and
//! the output does not depend on how the input was split into reads.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailwire_pop3::{
    LanguageTag, LoginRejection, LoginRequest, MemoryMaildrop, ServerConfig, ServerEvent, ServerSession,
    Timestamp, Tls, UniqueId,
};

const MESSAGES: [&[u8]; 4] = [
    b"Subject: one\r\n\r\nbody\r\n.\r\n..dots\r\n",
    b"Subject: bare\n\nlf only\n.\nno final newline",
    b"",
    b"Subject: caf\xc3\xa9\r\n\r\n\xff\x00 8-bit\r\n",
];

struct Run {
    output: Vec<u8>,
    committed: bool,
}

fn run(flags: u8, input: &[u8], reads: &[u8], maildrop: &MemoryMaildrop) -> Run {
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
        transmit_chunk: 7,
        ..ServerConfig::default()
    };
    let accept = flags & 64 != 0;
    let mut session = ServerSession::new(config);
    let mut output = Vec::new();
    let mut committed = false;
    let mut at = 0;
    let mut read = 0;
    loop {
        loop {
            let mut progressed = false;
            while let Some(event) = session.poll_event() {
                progressed = true;
                match event {
                    ServerEvent::Login(request) => {
                        if accept && !matches!(request, LoginRequest::Sasl { .. }) {
                            session
                                .accept_login(maildrop.clone())
                                .expect("a login was pending");
                        } else {
                            session.reject_login(LoginRejection::BadCredentials);
                        }
                    }
                    ServerEvent::StartTls => session.tls_established(),
                    ServerEvent::Closed { committed: c } => committed = c,
                }
            }
            while let Some(bytes) = session.poll_transmit() {
                progressed = true;
                output.extend_from_slice(&bytes);
            }
            if !progressed {
                break;
            }
        }
        if at == input.len() || session.is_closed() {
            break;
        }
        let step = reads.get(read).map_or(input.len(), |&r| usize::from(r) + 1);
        read += 1;
        let end = (at + step).min(input.len());
        session.receive(&input[at..end]);
        at = end;
    }
    drop(session);
    Run { output, committed }
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    // Up to 8 read sizes, then the client's bytes.
    let n = rest.first().map_or(0, |&b| usize::from(b % 9));
    let (reads, input) = rest
        .get(1..)
        .unwrap_or_default()
        .split_at(n.min(rest.len().saturating_sub(1)));

    let fresh = || {
        let maildrop = MemoryMaildrop::new();
        for (i, m) in MESSAGES.iter().enumerate() {
            maildrop.push(UniqueId::new(format!("uid{i}")).unwrap(), m.to_vec());
        }
        maildrop
    };
    let maildrop = fresh();
    let original = maildrop.messages();
    let chunked = run(flags, input, reads, &maildrop);
    assert!(!maildrop.is_locked(), "lock held after the session ended");
    if !chunked.committed {
        assert_eq!(
            maildrop.messages(),
            original,
            "messages deleted without a committed QUIT"
        );
    }

    let maildrop2 = fresh();
    let whole = run(flags, input, &[], &maildrop2);
    // STLS discards what was pipelined after it, which depends on the reads.
    if !input.windows(4).any(|w| w.eq_ignore_ascii_case(b"STLS")) {
        assert_eq!(
            chunked.output, whole.output,
            "output depends on how the input was read"
        );
        assert_eq!(chunked.committed, whole.committed);
        assert_eq!(maildrop.messages(), maildrop2.messages());
    }
});
