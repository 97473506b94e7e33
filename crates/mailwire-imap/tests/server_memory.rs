//! What one command may make the server session allocate, measured by
//! the peak resident memory of this test binary's process (Linux), which
//! holds this test alone.

use std::num::NonZeroU32;

use mailwire_imap::server::{MailboxSnapshot, ServerConfig, ServerEvent, ServerSession};
use mailwire_imap::{RespText, Status};

/// The process's peak resident memory so far, in KiB (`VmHWM`).
fn peak_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/self/status")
}

fn drain(session: &mut ServerSession) {
    while session.poll_transmit().is_some() {}
}

/// A sequence set that names the mailbox over and over (`1:*,1:*,...`,
/// as many times as a 64 KiB line holds) resolves to each message once,
/// without a list of every repetition first: the session expanded each
/// range before merging, 16,000 times the mailbox (1.3 GB for 20,000
/// messages, from one command line of any logged-in user).
#[test]
fn a_set_naming_the_mailbox_many_times_is_resolved_in_its_size() {
    let mut session = ServerSession::new(ServerConfig {
        allow_plaintext_login: true,
        ..ServerConfig::default()
    });
    drain(&mut session);
    session.receive(b"l LOGIN alice secret\r\n");
    let Some(ServerEvent::Authenticate(login)) = session.poll_event() else {
        panic!("no login event")
    };
    session.accept_login(login).unwrap();
    drain(&mut session);
    const MESSAGES: u32 = 20_000;
    session.receive(b"s SELECT INBOX\r\n");
    let Some(ServerEvent::Command(select)) = session.poll_event() else {
        panic!("no SELECT")
    };
    let uids = (1..=MESSAGES).map(|n| NonZeroU32::new(n * 2).unwrap()).collect();
    let snapshot = MailboxSnapshot::new(
        NonZeroU32::new(7).unwrap(),
        NonZeroU32::new(MESSAGES * 2 + 1).unwrap(),
        uids,
    );
    session.open_mailbox(&select, snapshot).unwrap();
    session
        .complete(select, Status::Ok, RespText::text("done"))
        .unwrap();
    drain(&mut session);

    for (command, uid) in [("f FETCH", false), ("u UID FETCH", true)] {
        let mut line = format!("{command} ");
        while line.len() < 60_000 {
            line.push_str(if uid { "1:*,2:40000," } else { "1:*,5:9," });
        }
        line.push_str("1 FLAGS\r\n");
        let before = peak_kib();
        session.receive(line.as_bytes());
        let event = session.poll_event();
        let Some(ServerEvent::Command(fetch)) = event else {
            panic!("no {command}: {event:?} {:?}", session.poll_transmit())
        };
        let grown = peak_kib() - before;
        assert_eq!(fetch.messages().len(), MESSAGES as usize, "{command}");
        assert!(
            fetch.messages().windows(2).all(|w| w[0] < w[1]),
            "{command}: not ascending"
        );
        // The answer (80 KB) and the command; not thousands of copies.
        assert!(grown < 32 << 10, "{command}: the peak grew by {grown} KiB");
        session
            .complete(fetch, Status::Ok, RespText::text("done"))
            .unwrap();
        drain(&mut session);
    }
}
