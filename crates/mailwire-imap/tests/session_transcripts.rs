//! The sample connections of RFC 9051 section 8 and RFC 3501 section 8,
//! and RFC 7162's QRESYNC example, driven through both sessions: the
//! server session, fed the client's lines and answered by an application
//! that holds the RFC's data, writes every response the RFC shows (texts
//! aside, and with the extra SELECT data RFC 9051 asks for); the client
//! session, issuing the RFC's commands and fed the RFC's server lines,
//! pairs each completion with its data.

use std::num::NonZeroU32;

use mailwire_imap::client::{ClientConfig, ClientEvent, ClientSession, Completion};
use mailwire_imap::server::{MailboxSnapshot, ServerConfig, ServerEvent, ServerSession, Tls};
use mailwire_imap::{
    Capability, Command, CommandBody, Decoded, DecoderConfig, MessageDataItem, RespText, Response, Status,
    decode_command, decode_response,
};

/// One exchange: what the client sends, what the server answers.
struct Step {
    client: Vec<u8>,
    server: Vec<u8>,
}

impl Step {
    fn new(client: impl AsRef<[u8]>, server: impl AsRef<[u8]>) -> Step {
        Step {
            client: client.as_ref().to_vec(),
            server: server.as_ref().to_vec(),
        }
    }
}

const SCRAM_IR: &str = "biwsbj11c2VyLHI9ck9wck5HZndFYmVSV2diTkVrcU8=";
const SCRAM_1: &str = "cj1yT3ByTkdmd0ViZVJXZ2JORWtxTyVodllEcFdVYTJSYVRDQWZ1eEZJbGopaE5sRiRrMCxzPVcyMlphSjBTTlk3c29Fc1VFamI2Z1E9PSxpPTQwOTY=";
const SCRAM_2: &str = "Yz1iaXdzLHI9ck9wck5HZndFYmVSV2diTkVrcU8laHZZRHBXVWEyUmFUQ0FmdXhGSWxqKWhObEYkazAscD1kSHpiWmFwV0lrNGpVaE4rVXRlOXl0YWc5empmTUhnc3FtbWl6N0FuZFZRPQ==";
const SCRAM_3: &str = "dj02cnJpVFJCaTIzV3BSUi93dHVwK21NaFVaVW4vZEI1bkxUSlJzamw5NUc0PQ==";

/// One of the RFCs' sample connections.
struct Sample {
    /// 1 for RFC 3501, 2 for RFC 9051.
    revision: u8,
    greeting: &'static [u8],
    steps: Vec<Step>,
}

impl Sample {
    /// `* 12 FETCH (... FULL ...)` of the sample (the revision is in the
    /// subject; RFC 9051 cut the message id's last letter).
    fn fetch_full(&self) -> Vec<u8> {
        let (rev, id_end) = if self.revision == 1 { (1, "edu") } else { (2, "ed") };
        format!(
            "* 12 FETCH (FLAGS (\\Seen) INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" RFC822.SIZE 4286 \
             ENVELOPE (\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" \"IMAP4rev{rev} WG mtg summary and minutes\" \
             ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) \
             ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) ((NIL NIL \"imap\" \"cac.washington.edu\")) \
             ((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\")(\"John Klensin\" NIL \"KLENSIN\" \"MIT.EDU\")) NIL NIL \
             \"<B27397-0100000@cac.washington.{id_end}>\") \
             BODY (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 3028 92))\r\n"
        )
        .into_bytes()
    }

    /// The header of message 12: the literal of `BODY[HEADER]`.
    fn header(&self) -> Vec<u8> {
        let header = format!(
            "Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\r\nFrom: Terry Gray <gray@cac.washington.edu>\r\n\
             Subject: IMAP4rev{} WG mtg summary and minutes\r\nTo: imap@cac.washington.edu\r\n\
             cc: minutes@CNRI.Reston.VA.US, John Klensin <KLENSIN@MIT.EDU>\r\n\
             Message-Id: <B27397-0100000@cac.washington.edu>\r\nMIME-Version: 1.0\r\n\
             Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n\r\n",
            self.revision
        );
        assert_eq!(header.len(), 342, "the RFC's literal length");
        header.into_bytes()
    }

    fn header_fetch(&self) -> Vec<u8> {
        [
            b"* 12 FETCH (BODY[HEADER] {342}\r\n".as_slice(),
            &self.header(),
            b")\r\n",
        ]
        .concat()
    }

    /// The exchanges after login, the same in both RFCs but for SELECT
    /// and the texts.
    fn mailbox_steps(&mut self, select: &[u8]) {
        let rev = self.revision;
        let steps = vec![
            Step::new(b"a002 select inbox\r\n", select),
            Step::new(
                b"a003 fetch 12 full\r\n",
                [self.fetch_full(), b"a003 OK FETCH completed\r\n".to_vec()].concat(),
            ),
            Step::new(
                b"a004 fetch 12 body[header]\r\n",
                [self.header_fetch(), b"a004 OK FETCH completed\r\n".to_vec()].concat(),
            ),
            Step::new(
                b"a005 store 12 +flags \\deleted\r\n",
                b"* 12 FETCH (FLAGS (\\Seen \\Deleted))\r\na005 OK +FLAGS completed\r\n",
            ),
            Step::new(
                b"a006 logout\r\n",
                format!("* BYE IMAP4rev{rev} server terminating connection\r\na006 OK LOGOUT completed\r\n"),
            ),
        ];
        self.steps.extend(steps);
    }
}

/// RFC 9051 section 8.
fn rfc9051() -> Sample {
    let mut sample = Sample {
        revision: 2,
        greeting: b"* OK [CAPABILITY STARTTLS AUTH=SCRAM-SHA-256 LOGINDISABLED IMAP4rev2] IMAP4rev2 Service Ready\r\n",
        steps: vec![
            Step::new(b"a000 starttls\r\n", b"a000 OK Proceed with TLS negotiation\r\n"),
            Step::new(
                format!("A001 AUTHENTICATE SCRAM-SHA-256 {SCRAM_IR}\r\n"),
                format!("+ {SCRAM_1}\r\n"),
            ),
            Step::new(format!("{SCRAM_2}\r\n"), format!("+ {SCRAM_3}\r\n")),
            Step::new(b"\r\n", b"A001 OK SCRAM-SHA-256 authentication successful\r\n"),
            Step::new(
                b"babc ENABLE IMAP4rev2\r\n",
                b"* ENABLED IMAP4rev2\r\nbabc OK Some capabilities enabled\r\n",
            ),
        ],
    };
    sample.mailbox_steps(
        b"* 18 EXISTS\r\n* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n\
          * OK [UIDVALIDITY 3857529045] UIDs valid\r\n* LIST () \"/\" INBOX (\"OLDNAME\" (\"inbox\"))\r\n\
          a002 OK [READ-WRITE] SELECT completed\r\n",
    );
    sample
}

/// RFC 3501 section 8.
fn rfc3501() -> Sample {
    let mut sample = Sample {
        revision: 1,
        greeting: b"* OK IMAP4rev1 Service Ready\r\n",
        steps: vec![Step::new(
            b"a001 login mrc secret\r\n",
            b"a001 OK LOGIN completed\r\n",
        )],
    };
    sample.mailbox_steps(
        b"* 18 EXISTS\r\n* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n* 2 RECENT\r\n\
          * OK [UNSEEN 17] Message 17 is the first unseen message\r\n\
          * OK [UIDVALIDITY 3857529045] UIDs valid\r\na002 OK [READ-WRITE] SELECT completed\r\n",
    );
    sample
}

/// Every response in `bytes`, with the human-readable texts left out
/// (continuation requests keep theirs: SASL challenges are data).
fn responses(bytes: &[u8]) -> Vec<Response<'static>> {
    let config = DecoderConfig::default();
    let mut rest = bytes;
    let mut out = Vec::new();
    while !rest.is_empty() {
        let Ok(Decoded::Complete { value, consumed }) = decode_response(rest, &config) else {
            panic!("undecodable server bytes: {:?}", String::from_utf8_lossy(rest))
        };
        let value = match value.into_owned() {
            Response::Status { tag, status, text } => Response::Status {
                tag,
                status,
                text: RespText {
                    code: text.code,
                    text: "".into(),
                },
            },
            other => other,
        };
        out.push(value);
        rest = &rest[consumed..];
    }
    out
}

/// Whether our last response is the RFC's: the same tagged status (with
/// the RFC's code, when it shows one; ours may add CAPABILITY), or the
/// same continuation request.
fn same_ending(ours: &Response<'_>, rfc: &Response<'_>) -> bool {
    match (ours, rfc) {
        (
            Response::Status {
                tag: a,
                status: s,
                text: t,
            },
            Response::Status {
                tag: b,
                status: r,
                text: u,
            },
        ) => a == b && s == r && (u.code.is_none() || t.code == u.code),
        _ => ours == rfc,
    }
}

fn data_items(response: &[u8]) -> Vec<MessageDataItem<'static>> {
    match decode_response(response, &DecoderConfig::default()) {
        Ok(Decoded::Complete {
            value: Response::Fetch { items, .. },
            ..
        }) => items.into_iter().map(MessageDataItem::into_owned).collect(),
        other => panic!("not a FETCH: {other:?}"),
    }
}

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap()
}

/// The application of the RFC's server: it knows the RFC's answers.
fn serve(s: &mut ServerSession, event: ServerEvent, sample: &Sample, sasl_round: &mut usize) {
    use base64::Engine as _;
    let b64 = |t: &str| base64::engine::general_purpose::STANDARD.decode(t).unwrap();
    match event {
        ServerEvent::StartTls => s.tls_established(),
        ServerEvent::Authenticate(request) => {
            *sasl_round += 1;
            match (request.credentials().is_some(), *sasl_round) {
                (false, 1) => s.sasl_challenge(request, &b64(SCRAM_1)).unwrap(),
                (false, 2) => s.sasl_challenge(request, &b64(SCRAM_3)).unwrap(),
                _ => s.accept_login(request).unwrap(),
            }
        }
        ServerEvent::Command(request) => {
            let status_text = match request.command().body.name() {
                "SELECT" => {
                    let uids = (1..=18).map(nz).collect();
                    let mut snapshot = MailboxSnapshot::new(nz(3857529045), nz(4392), uids);
                    if sample.revision == 1 {
                        snapshot.recent = 2;
                        snapshot.first_unseen = Some(nz(17));
                    }
                    s.open_mailbox(&request, snapshot).unwrap();
                    if sample.revision == 2 {
                        // The name opened differs from the one asked for.
                        let list = responses(b"* LIST () \"/\" INBOX (\"OLDNAME\" (\"inbox\"))\r\n");
                        s.respond(&request, &list[0]).unwrap();
                    }
                    RespText {
                        code: Some(mailwire_imap::Code::ReadWrite),
                        text: "SELECT completed".into(),
                    }
                }
                "FETCH" => {
                    let items = match request.command().body {
                        CommandBody::Fetch { ref fetch, .. } if fetch.items.items().len() > 1 => {
                            data_items(&sample.fetch_full())
                        }
                        _ => data_items(&sample.header_fetch()),
                    };
                    s.fetch_data(&request, nz(12), items).unwrap();
                    RespText::text("FETCH completed")
                }
                "STORE" => {
                    let items = data_items(b"* 12 FETCH (FLAGS (\\Seen \\Deleted))\r\n");
                    s.fetch_data(&request, nz(12), items).unwrap();
                    RespText::text("+FLAGS completed")
                }
                other => panic!("unexpected {other}"),
            };
            s.complete(request, Status::Ok, status_text).unwrap();
        }
        _ => {}
    }
}

fn through_the_server_session(sample: &Sample, config: ServerConfig) {
    let mut s = ServerSession::new(config);
    let greeting: Vec<u8> = std::iter::from_fn(|| s.poll_transmit()).flatten().collect();
    assert!(matches!(
        responses(&greeting)[..],
        [Response::Status {
            tag: None,
            status: Status::Ok,
            ..
        }]
    ));
    let mut sasl_round = 0;
    for step in &sample.steps {
        s.receive(&step.client);
        while let Some(event) = s.poll_event() {
            serve(&mut s, event, sample, &mut sasl_round);
        }
        let sent: Vec<u8> = std::iter::from_fn(|| s.poll_transmit()).flatten().collect();
        let ours = responses(&sent);
        let rfc = responses(&step.server);
        // The tagged completion (or the challenge) ends both.
        let (Some(last), Some(rfc_last)) = (ours.last(), rfc.last()) else {
            panic!("no answer to {:?}", String::from_utf8_lossy(&step.client))
        };
        assert!(same_ending(last, rfc_last), "{last:?} for {rfc_last:?}");
        // Every untagged response of the RFC is among ours.
        for response in &rfc[..rfc.len() - 1] {
            assert!(ours.contains(response), "missing {response:?} in {ours:#?}");
        }
    }
    assert!(s.is_closed());
}

#[test]
fn rfc9051_sample_connection_through_the_server_session() {
    let config = ServerConfig {
        tls: Tls::Available,
        sasl_plain: false,
        sasl_mechanisms: vec!["SCRAM-SHA-256".into()],
        ..ServerConfig::default()
    };
    let mut s = ServerSession::new(config.clone());
    let greeting: Vec<u8> = std::iter::from_fn(|| s.poll_transmit()).flatten().collect();
    let greeting = String::from_utf8(greeting).unwrap();
    for capability in ["STARTTLS", "AUTH=SCRAM-SHA-256", "LOGINDISABLED", "IMAP4rev2"] {
        assert!(greeting.contains(capability), "{greeting}");
    }
    through_the_server_session(&rfc9051(), config);
}

#[test]
fn rfc3501_sample_connection_through_the_server_session() {
    let config = ServerConfig {
        allow_plaintext_login: true,
        imap4rev2: false,
        ..ServerConfig::default()
    };
    through_the_server_session(&rfc3501(), config);
}

/// Issues the sample's commands with the RFC's tags, feeds the RFC's
/// server lines, and returns the completions.
fn through_the_client_session(sample: &Sample) -> (ClientSession, Vec<Completion>) {
    let mut c = ClientSession::new(ClientConfig::default());
    c.receive(sample.greeting);
    let mut done: Vec<Completion> = Vec::new();
    for step in &sample.steps {
        let decoded = decode_command(&step.client, &DecoderConfig::default());
        if let Ok(Decoded::Complete { value, .. }) = decoded {
            let Command { tag, body } = value.into_owned();
            let expected = Command {
                tag: tag.clone(),
                body: body.clone(),
            };
            c.send_tagged(tag, body);
            let sent: Vec<u8> = std::iter::from_fn(|| c.poll_transmit()).flatten().collect();
            let Ok(Decoded::Complete { value, .. }) = decode_command(&sent, &DecoderConfig::default()) else {
                panic!("the client wrote {:?}", String::from_utf8_lossy(&sent))
            };
            assert_eq!(value, expected, "the command as sent");
        }
        c.receive(&step.server);
        while let Some(event) = c.poll_event() {
            match event {
                ClientEvent::Completed(completion) => done.push(*completion),
                ClientEvent::StartTls => c.tls_established(),
                ClientEvent::SaslChallenge { id, data } => {
                    // The application runs SCRAM; the RFC has its answers.
                    use base64::Engine as _;
                    let answer = if data.starts_with(b"r=") {
                        base64::engine::general_purpose::STANDARD.decode(SCRAM_2).unwrap()
                    } else {
                        Vec::new()
                    };
                    c.sasl_respond(id, &answer);
                    let sent: Vec<u8> = std::iter::from_fn(|| c.poll_transmit()).flatten().collect();
                    let expected = if answer.is_empty() {
                        "\r\n".to_owned()
                    } else {
                        format!("{SCRAM_2}\r\n")
                    };
                    assert_eq!(String::from_utf8(sent).unwrap(), expected);
                }
                _ => {}
            }
        }
    }
    (c, done)
}

/// What both samples' completions share: SELECT, the two FETCHes and STORE.
fn check_mailbox_completions(sample: &Sample, done: &[Completion]) {
    let by_tag = |tag: &str| done.iter().find(|d| d.tag.as_str() == tag).unwrap();
    let select = by_tag("a002").data.select.as_ref().unwrap();
    assert_eq!((select.exists, select.uid_validity), (18, Some(nz(3857529045))));
    let full = &by_tag("a003").data.fetch;
    assert_eq!((full[0].0, full[0].1.len()), (nz(12), 5));
    let MessageDataItem::BodySection { data, .. } = &by_tag("a004").data.fetch[0].1[0] else {
        panic!()
    };
    assert_eq!(data.as_bytes(), Some(&sample.header()[..]));
    assert_eq!(
        by_tag("a005").data.fetch[0].1,
        data_items(b"* 12 FETCH (FLAGS (\\Seen \\Deleted))\r\n")
    );
    assert!(done.iter().all(|d| d.status == Status::Ok));
}

#[test]
fn rfc9051_sample_connection_through_the_client_session() {
    let sample = rfc9051();
    let (c, done) = through_the_client_session(&sample);
    let tags: Vec<&str> = done.iter().map(|d| d.tag.as_str()).collect();
    assert_eq!(
        tags,
        ["a000", "A001", "babc", "a002", "a003", "a004", "a005", "a006"]
    );
    check_mailbox_completions(&sample, &done);
    assert_eq!(done[3].data.list.len(), 1);
    assert_eq!(c.enabled(), [Capability::Imap4Rev2]);
    assert_eq!(c.state(), mailwire_imap::client::ClientState::Closed);
}

#[test]
fn rfc3501_sample_connection_through_the_client_session() {
    let sample = rfc3501();
    let (c, done) = through_the_client_session(&sample);
    let tags: Vec<&str> = done.iter().map(|d| d.tag.as_str()).collect();
    assert_eq!(tags, ["a001", "a002", "a003", "a004", "a005", "a006"]);
    check_mailbox_completions(&sample, &done);
    let select = done[1].data.select.as_ref().unwrap();
    assert_eq!((select.recent, select.first_unseen), (Some(2), Some(nz(17))));
    assert_eq!(c.state(), mailwire_imap::client::ClientState::Closed);
}

/// RFC 7162 section 3.2.5.1's example: a QRESYNC SELECT while another
/// mailbox is selected.
const QRESYNC_SELECT: &[u8] = b"A03 SELECT INBOX (QRESYNC (67890007 90060115194045000 41:211,214:541))\r\n";
const QRESYNC_ANSWER: &[u8] = b"* OK [CLOSED]\r\n* 100 EXISTS\r\n* 11 RECENT\r\n\
* OK [UIDVALIDITY 67890007] UIDVALIDITY\r\n* OK [UIDNEXT 600] Predicted next UID\r\n\
* OK [HIGHESTMODSEQ 90060115205545359] Highest mailbox mod-sequence\r\n\
* OK [UNSEEN 7] There are some unseen messages in the mailbox\r\n\
* FLAGS (\\Answered \\Flagged \\Draft \\Deleted \\Seen)\r\n\
* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Draft \\Deleted \\Seen \\*)] Permanent flags\r\n\
* VANISHED (EARLIER) 41,43:116,118,120:211,214:540\r\n\
* 49 FETCH (UID 117 FLAGS (\\Seen \\Answered) MODSEQ (90060115194045001))\r\n\
* 50 FETCH (UID 119 FLAGS (\\Draft $MDNSent) MODSEQ (90060115194045308))\r\n\
* 51 FETCH (UID 541 FLAGS (\\Seen $Forwarded) MODSEQ (90060115194045001))\r\n\
A03 OK [READ-WRITE] mailbox selected\r\n";

/// 100 messages whose 49th, 50th and 51st have UIDs 117, 119 and 541.
fn qresync_uids() -> Vec<NonZeroU32> {
    let mut uids: Vec<u32> = (1..=48).collect();
    uids.extend([117, 119, 541]);
    uids.extend(542..591);
    uids.into_iter().map(nz).collect()
}

#[test]
fn rfc7162_qresync_select_through_the_server_session() {
    let mut s = ServerSession::new(ServerConfig {
        allow_plaintext_login: true,
        capabilities: vec![Capability::CondStore, Capability::QResync],
        ..ServerConfig::default()
    });
    s.receive(b"a LOGIN u p\r\nb ENABLE QRESYNC\r\nc SELECT Other\r\n");
    while let Some(event) = s.poll_event() {
        match event {
            ServerEvent::Authenticate(r) => s.accept_login(r).unwrap(),
            ServerEvent::Command(r) => {
                s.open_mailbox(&r, MailboxSnapshot::new(nz(1), nz(2), vec![nz(1)]))
                    .unwrap();
                s.complete(r, Status::Ok, RespText::text("done")).unwrap();
            }
            _ => {}
        }
    }
    std::iter::from_fn(|| s.poll_transmit()).for_each(drop);

    s.receive(QRESYNC_SELECT);
    let Some(ServerEvent::Command(select)) = s.poll_event() else {
        panic!()
    };
    let CommandBody::Select { parameters, .. } = &select.command().body else {
        panic!()
    };
    assert!(matches!(
        parameters[..],
        [mailwire_imap::SelectParameter::QResync(_)]
    ));
    let mut snapshot = MailboxSnapshot::new(nz(67890007), nz(600), qresync_uids());
    snapshot.recent = 11;
    snapshot.first_unseen = Some(nz(7));
    snapshot.highest_modseq = mailwire_imap::ModSeq::new(90060115205545359).ok();
    snapshot.flags = vec![
        mailwire_imap::Flag::Answered,
        mailwire_imap::Flag::Flagged,
        mailwire_imap::Flag::Draft,
        mailwire_imap::Flag::Deleted,
        mailwire_imap::Flag::Seen,
    ];
    snapshot.permanent_flags = snapshot
        .flags
        .iter()
        .cloned()
        .map(mailwire_imap::FlagPerm::Flag)
        .chain([mailwire_imap::FlagPerm::Asterisk])
        .collect();
    s.open_mailbox(&select, snapshot).unwrap();
    // The application works out what changed since the client's state.
    let vanished = responses(b"* VANISHED (EARLIER) 41,43:116,118,120:211,214:540\r\n");
    s.respond(&select, &vanished[0]).unwrap();
    for (uid, line) in [
        (
            117,
            &b"* 49 FETCH (UID 117 FLAGS (\\Seen \\Answered) MODSEQ (90060115194045001))\r\n"[..],
        ),
        (
            119,
            b"* 50 FETCH (UID 119 FLAGS (\\Draft $MDNSent) MODSEQ (90060115194045308))\r\n",
        ),
        (
            541,
            b"* 51 FETCH (UID 541 FLAGS (\\Seen $Forwarded) MODSEQ (90060115194045001))\r\n",
        ),
    ] {
        s.fetch_data(&select, nz(uid), data_items(line)).unwrap();
    }
    s.complete(
        select,
        Status::Ok,
        RespText {
            code: Some(mailwire_imap::Code::ReadWrite),
            text: "mailbox selected".into(),
        },
    )
    .unwrap();
    let sent: Vec<u8> = std::iter::from_fn(|| s.poll_transmit()).flatten().collect();
    let ours = responses(&sent);
    let rfc = responses(QRESYNC_ANSWER);
    assert!(same_ending(ours.last().unwrap(), rfc.last().unwrap()));
    for response in &rfc[..rfc.len() - 1] {
        assert!(ours.contains(response), "missing {response:?} in {ours:#?}");
    }
    // Numbers come before data about them.
    let exists = ours
        .iter()
        .position(|r| matches!(r, Response::Exists(_)))
        .unwrap();
    let first_fetch = ours
        .iter()
        .position(|r| matches!(r, Response::Fetch { .. }))
        .unwrap();
    assert!(exists < first_fetch);
}

#[test]
fn rfc7162_qresync_select_through_the_client_session() {
    let mut c = ClientSession::new(ClientConfig::default());
    c.receive(b"* PREAUTH [CAPABILITY IMAP4rev1 CONDSTORE QRESYNC] ready\r\n");
    c.send(CommandBody::Select {
        mailbox: mailwire_imap::Mailbox::Inbox,
        parameters: Vec::new(),
    });
    std::iter::from_fn(|| c.poll_transmit()).for_each(drop);
    c.receive(b"* 1 EXISTS\r\nA1 OK [READ-WRITE] done\r\n");
    while c.poll_event().is_some() {}

    let Ok(Decoded::Complete { value, .. }) = decode_command(QRESYNC_SELECT, &DecoderConfig::default())
    else {
        panic!()
    };
    let Command { tag, body } = value.into_owned();
    let id = c.send_tagged(tag, body);
    std::iter::from_fn(|| c.poll_transmit()).for_each(drop);
    c.receive(QRESYNC_ANSWER);
    let events: Vec<ClientEvent> = std::iter::from_fn(|| c.poll_event()).collect();
    let vanished_earlier = events.iter().any(|e| {
        matches!(e, ClientEvent::Changed(mailwire_imap::client::MailboxChange::VanishedEarlier { uids })
            if uids.contains(41) && uids.contains(540) && !uids.contains(117))
    });
    assert!(vanished_earlier, "{events:#?}");
    let Some(ClientEvent::Completed(done)) = events.last() else {
        panic!()
    };
    assert_eq!((done.id, done.status), (id, Status::Ok));
    let select = done.data.select.as_ref().unwrap();
    assert_eq!(
        (select.exists, select.uid_next, select.first_unseen),
        (100, Some(nz(600)), Some(nz(7)))
    );
    assert_eq!(select.highest_modseq.map(|m| m.get()), Some(90060115205545359));
    assert_eq!(done.data.fetch.len(), 3);
    let view = c.mailbox().unwrap();
    assert_eq!(
        (view.exists(), view.uid(nz(49)), view.uid(nz(51))),
        (100, Some(nz(117)), Some(nz(541)))
    );
    assert_eq!(view.uid_validity, Some(nz(67890007)));
}
