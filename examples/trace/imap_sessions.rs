//! IMAP through the sessions: a recorded connection replayed through a
//! server session and a client session, with this module acting as the
//! application of each.
//!
//! The server session is fed the client's bytes; its application answers
//! each command with the status the recorded server gave, keeping a model
//! of the selected mailbox from the recorded EXISTS and EXPUNGE responses.
//! The session must answer every command with the recorded status (those
//! it answers itself: CAPABILITY, ENABLE, IDLE, a command in the wrong
//! state...) and ask for literal data exactly where the recorded server
//! sent a continuation request. The client session issues the recorded
//! commands and is fed the server's bytes; it must pair every tagged
//! completion with its command. One line per command; a command the
//! recorded server rejected with BAD passes when the sessions reject it
//! too.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::num::NonZeroU32;

use mailwire::imap::client::{ClientConfig, ClientEvent, ClientSession};
use mailwire::imap::server::{MailboxSnapshot, ServerConfig, ServerEvent, ServerSession};
use mailwire::imap::{
    Capability, Code, Command, CommandBody, Decoded, DecoderConfig, Response, Status, decode_command,
    decode_greeting, decode_response,
};

use super::{Dir, Report, excerpt};

/// Decoder settings for a trace: whole messages are in memory anyway.
fn config() -> DecoderConfig {
    let mut config = DecoderConfig::default();
    config.limits.literal = u64::MAX >> 1;
    config.limits = config.limits.with_message(u64::MAX);
    config
}

/// What the recorded server said, in order, up to where the stream stops
/// being plain IMAP (STARTTLS, COMPRESS) or stops decoding.
struct Recorded {
    responses: Vec<Response<'static>>,
}

impl Recorded {
    fn read(server: &[u8]) -> Recorded {
        let config = config();
        let mut responses = Vec::new();
        let mut rest = server;
        if let Ok(Decoded::Complete { value, consumed }) = decode_greeting(rest, &config) {
            responses.push(value.into_owned());
            rest = &rest[consumed..];
        }
        while let Ok(Decoded::Complete { value, consumed }) = decode_response(rest, &config) {
            responses.push(value.into_owned());
            rest = &rest[consumed..];
        }
        Recorded { responses }
    }

    /// The tagged completions, in order.
    fn completions(&self) -> Vec<(String, Status)> {
        completions(&self.responses)
    }

    /// For each tag, the untagged responses that came before its tagged
    /// completion and after the previous one.
    fn spans(&self) -> HashMap<String, Vec<Response<'static>>> {
        let mut spans = HashMap::new();
        let mut current = Vec::new();
        for response in &self.responses {
            match response {
                Response::Status { tag: Some(tag), .. } => {
                    spans.insert(tag.as_str().to_owned(), std::mem::take(&mut current));
                }
                other => current.push(other.clone()),
            }
        }
        spans
    }
}

fn completions(responses: &[Response<'_>]) -> Vec<(String, Status)> {
    responses
        .iter()
        .filter_map(|r| match r {
            Response::Status {
                tag: Some(tag),
                status,
                ..
            } => Some((tag.as_str().to_owned(), *status)),
            _ => None,
        })
        .collect()
}

/// The tag each continuation request belongs to: that of the next tagged
/// completion.
fn continuation_tags(responses: &[Response<'_>]) -> Vec<String> {
    let mut out = Vec::new();
    let mut open = 0;
    for response in responses {
        match response {
            Response::Continue(_) => open += 1,
            Response::Status { tag: Some(tag), .. } => {
                out.extend(std::iter::repeat_n(tag.as_str().to_owned(), open));
                open = 0;
            }
            _ => {}
        }
    }
    out
}

/// A command of the recording, where it starts in the client's bytes.
struct RecordedCommand {
    offset: usize,
    command: Command<'static>,
}

/// The client's commands, with the lines that answer AUTHENTICATE
/// challenges set apart, and the lines that do not decode (with their
/// tags, when readable).
struct ClientLines {
    commands: Vec<RecordedCommand>,
    sasl: VecDeque<Vec<u8>>,
    undecodable: Vec<(usize, String)>,
}

/// `switched`: the tags of the STARTTLS or COMPRESS the recorded server
/// accepted, after which the client's bytes are no longer plain IMAP.
fn client_lines(client: &[u8], switched: &[String]) -> ClientLines {
    let config = config();
    let mut lines = ClientLines {
        commands: Vec::new(),
        sasl: VecDeque::new(),
        undecodable: Vec::new(),
    };
    let mut at = 0;
    let mut in_sasl = false;
    while at < client.len() {
        let rest = &client[at..];
        match decode_command(rest, &config) {
            Ok(Decoded::Complete { value, consumed }) => {
                let command = value.into_owned();
                in_sasl = matches!(command.body, CommandBody::Authenticate { .. });
                let stop = matches!(command.body, CommandBody::StartTls | CommandBody::Compress(_))
                    && switched.iter().any(|t| t == command.tag.as_str());
                lines.commands.push(RecordedCommand { offset: at, command });
                at += consumed;
                if stop {
                    break;
                }
            }
            Ok(_) => break,
            Err(_) => {
                let end = memchr_lf(rest).map_or(rest.len(), |i| i + 1);
                let line = &rest[..end];
                let text = line.strip_suffix(b"\r\n").unwrap_or(line);
                if text.eq_ignore_ascii_case(b"DONE") {
                    // IDLE's end.
                } else if in_sasl {
                    lines.sasl.push_back(text.to_vec());
                } else {
                    let tag = text.split(|&b| b == b' ').next().unwrap_or_default();
                    lines
                        .undecodable
                        .push((at, String::from_utf8_lossy(tag).into_owned()));
                }
                at += end;
            }
        }
    }
    lines
}

fn memchr_lf(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'\n')
}

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n.max(1)).expect("at least 1")
}

/// The longest capability list the recorded server announced (after
/// login it lists the most), so that the session offers what the server
/// offered.
fn recorded_capabilities(responses: &[Response<'static>]) -> Option<Vec<Capability<'static>>> {
    responses
        .iter()
        .filter_map(|r| match r {
            Response::Capability(c) => Some(c.as_slice().to_vec()),
            Response::Status {
                text:
                    mailwire::imap::RespText {
                        code: Some(Code::Capability(c)),
                        ..
                    },
                ..
            } => Some(c.as_slice().to_vec()),
            _ => None,
        })
        .max_by_key(Vec::len)
}

/// What Dovecot 2.3 offers after login, for a recording that never shows
/// it.
fn dovecot_capabilities() -> Vec<Capability<'static>> {
    use mailwire::imap::Atom;
    let mut list = vec![
        Capability::Sort,
        Capability::SortDisplay,
        Capability::ESort,
        Capability::ContextSearch,
        Capability::ContextSort,
        Capability::Partial,
        Capability::CondStore,
        Capability::QResync,
        Capability::ESearch,
        Capability::SearchRes,
        Capability::Within,
        Capability::MultiSearch,
        Capability::Notify,
        Capability::Metadata,
        Capability::Quota,
        Capability::Acl,
        Capability::UrlAuth,
        Capability::Catenate,
        Capability::Replace,
        Capability::MultiAppend,
        Capability::Unselect,
        Capability::UidPlus,
        Capability::Move,
        Capability::Namespace,
        Capability::Utf8Accept,
    ];
    for algorithm in ["ORDEREDSUBJECT", "REFERENCES", "REFS"] {
        list.push(Capability::Thread(Atom::new(algorithm).expect("an atom")));
    }
    list
}

/// The server session's application: the recorded answers and a model of
/// the selected mailbox.
struct Application {
    statuses: HashMap<String, Status>,
    spans: HashMap<String, Vec<Response<'static>>>,
    /// The UIDs of the selected mailbox, as the model numbers them.
    uids: Vec<u32>,
    next_uid: u32,
    switched: bool,
    /// The commands that reached the application.
    surfaced: std::collections::HashSet<String>,
}

impl Application {
    fn status(&self, tag: &str) -> Status {
        self.statuses.get(tag).copied().unwrap_or(Status::Ok)
    }

    /// Brings the session's mailbox to what the recorded server said
    /// during the command with `tag`.
    fn changes(&mut self, s: &mut ServerSession, tag: &str) {
        let Some(span) = self.spans.get(tag) else {
            return;
        };
        for response in span.clone() {
            match response {
                Response::Exists(n) => {
                    while (self.uids.len() as u32) < n {
                        self.uids.push(self.next_uid);
                        s.message_added(nz(self.next_uid));
                        self.next_uid += 1;
                    }
                }
                Response::Expunge(seq) => {
                    let i = seq.get() as usize - 1;
                    if i < self.uids.len() {
                        let uid = self.uids.remove(i);
                        s.message_expunged(nz(uid));
                    }
                }
                _ => {}
            }
        }
    }

    fn serve(&mut self, s: &mut ServerSession, event: ServerEvent) {
        match event {
            ServerEvent::Authenticate(request) => {
                let _ = match self.status(request.tag().as_str()) {
                    Status::Ok => s.accept_login(request),
                    _ => s.reject_login(
                        request,
                        mailwire::imap::server::LoginRejection::AuthenticationFailed,
                    ),
                };
            }
            ServerEvent::Literal(request) => {
                let _ = s.accept_literal(request);
            }
            ServerEvent::Append(request) => {
                let _ = s.accept_append(request);
            }
            ServerEvent::CatenatePart(part) => {
                // A CATENATE the server refused: as if its URLs named
                // nothing.
                let _ = match (self.status(part.tag().as_str()), part.url()) {
                    (Status::No, Some(_)) => s.refuse_catenate_part(
                        part,
                        mailwire::imap::server::LiteralRefusal::BadUrl("refused as the server did".into()),
                    ),
                    _ => s.accept_catenate_part(part),
                };
            }
            ServerEvent::AppendComplete(done) => {
                let tag = done.tag().as_str().to_owned();
                self.changes(s, &tag);
                let _ = s.complete_append(done, self.status(&tag), mailwire::imap::RespText::text("done"));
            }
            ServerEvent::Command(request) => {
                let tag = request.tag().as_str().to_owned();
                self.surfaced.insert(tag.clone());
                let status = self.status(&tag);
                if let CommandBody::Select { .. } | CommandBody::Examine { .. } = request.command().body {
                    let span = self.spans.get(&tag).cloned().unwrap_or_default();
                    let exists = span
                        .iter()
                        .rev()
                        .find_map(|r| match r {
                            Response::Exists(n) => Some(*n),
                            _ => None,
                        })
                        .unwrap_or(0);
                    let validity = span
                        .iter()
                        .find_map(|r| match r {
                            Response::Status {
                                text:
                                    mailwire::imap::RespText {
                                        code: Some(Code::UidValidity(v)),
                                        ..
                                    },
                                ..
                            } => Some(*v),
                            _ => None,
                        })
                        .unwrap_or(nz(1));
                    self.uids = (1..=exists).collect();
                    self.next_uid = exists + 1;
                    if status == Status::Ok {
                        let uids = self.uids.iter().map(|&u| nz(u)).collect();
                        let _ =
                            s.open_mailbox(&request, MailboxSnapshot::new(validity, nz(self.next_uid), uids));
                    }
                } else {
                    self.changes(s, &tag);
                }
                let _ = s.complete(request, status, mailwire::imap::RespText::text("done"));
            }
            ServerEvent::StartTls | ServerEvent::Compress { .. } => self.switched = true,
            _ => {}
        }
    }
}

/// The server session fed the client's bytes: its output, decoded.
fn server_side(
    client: &[u8],
    recorded: &Recorded,
) -> (Vec<Response<'static>>, std::collections::HashSet<String>) {
    let capabilities = recorded_capabilities(&recorded.responses).unwrap_or_else(dovecot_capabilities);
    let offers = |c: &Capability<'_>| capabilities.contains(c);
    let compress = capabilities
        .iter()
        .any(|c| matches!(c, Capability::Compress(m) if m.as_str().eq_ignore_ascii_case("DEFLATE")));
    let mut config = ServerConfig {
        allow_plaintext_login: true,
        compress,
        id: offers(&Capability::Id).then_some(None),
        unauthenticate: offers(&Capability::Unauthenticate),
        ..ServerConfig::default()
    };
    config.decoder = self::config();
    config.capabilities = capabilities.clone();
    let mut s = ServerSession::new(config);
    let mut app = Application {
        statuses: recorded.completions().into_iter().collect(),
        spans: recorded.spans(),
        uids: Vec::new(),
        next_uid: 1,
        switched: false,
        surfaced: Default::default(),
    };
    let mut output = Vec::new();
    let mut fed = 0;
    // Fed in pieces, so that a STARTTLS or COMPRESS stops the feeding
    // where the recorded connection switched.
    while fed < client.len() && !app.switched && !s.is_closed() {
        let end = (fed + 512).min(client.len());
        s.receive(&client[fed..end]);
        fed = end;
        loop {
            let mut moved = false;
            while let Some(event) = s.poll_event() {
                app.serve(&mut s, event);
                moved = true;
            }
            while let Some(bytes) = s.poll_transmit() {
                output.extend_from_slice(&bytes);
                moved = true;
            }
            if !moved {
                break;
            }
        }
    }
    (Recorded::read(&output).responses, app.surfaced)
}

/// The client session issuing the recorded commands, fed the server's
/// bytes: the tags it saw completed, with their statuses.
fn client_side(lines: &mut ClientLines, server: &[u8]) -> Vec<(String, Status)> {
    let mut c = ClientSession::new(ClientConfig {
        decoder: config(),
        stream_above: u64::MAX,
        ..ClientConfig::default()
    });
    for recorded in &lines.commands {
        c.send_tagged(recorded.command.tag.clone(), recorded.command.body.clone());
    }
    let mut done = Vec::new();
    let mut fed = 0;
    while fed < server.len() && !matches!(c.state(), mailwire::imap::client::ClientState::Switching) {
        let end = (fed + 512).min(server.len());
        c.receive(&server[fed..end]);
        fed = end;
        while c.poll_transmit().is_some() {}
        while let Some(event) = c.poll_event() {
            match event {
                ClientEvent::Completed(completion) => {
                    done.push((completion.tag.as_str().to_owned(), completion.status));
                }
                ClientEvent::Idling { .. } => c.done(),
                ClientEvent::SaslChallenge { id, .. } => match lines.sasl.pop_front() {
                    Some(line) if line == b"*" => c.sasl_cancel(id),
                    Some(line) => {
                        use base64::Engine as _;
                        let data = base64::engine::general_purpose::STANDARD
                            .decode(&line)
                            .unwrap_or_default();
                        c.sasl_respond(id, &data);
                    }
                    None => c.sasl_cancel(id),
                },
                _ => {}
            }
        }
    }
    done
}

/// Replays one connection through both sessions.
pub fn trace(client: &[u8], server: &[u8], report: &mut Report<'_>) -> io::Result<()> {
    let recorded = Recorded::read(server);
    let expected = recorded.completions();
    let switched: Vec<String> = expected
        .iter()
        .filter(|(_, status)| *status == Status::Ok)
        .map(|(tag, _)| tag.clone())
        .collect();
    let mut lines = client_lines(client, &switched);
    let (ours, surfaced) = server_side(client, &recorded);
    let theirs = client_side(&mut lines, server);
    let served = completions(&ours);

    let offsets: HashMap<&str, (usize, &str)> = lines
        .commands
        .iter()
        .map(|c| (c.command.tag.as_str(), (c.offset, c.command.body.name())))
        .chain(
            lines
                .undecodable
                .iter()
                .map(|(at, tag)| (tag.as_str(), (*at, "(undecodable)"))),
        )
        .collect();
    let mut served_at = 0;
    let mut seen_at = 0;
    for (tag, status) in &expected {
        let (offset, name) = offsets.get(tag.as_str()).copied().unwrap_or((0, "(unknown)"));
        let mut problems = Vec::new();
        // A NO where the server said BAD, or the reverse: both refuse.
        let mut refusal = None;
        match served[served_at..].iter().position(|(t, _)| t == tag) {
            Some(i) => {
                let ours = served[served_at + i].1;
                if ours != *status && !both_refused(ours, *status) {
                    problems.push(format!("server session answered {ours:?}"));
                } else if ours != *status {
                    refusal = Some(ours);
                }
                served_at += i + 1;
            }
            None => problems.push("server session never completed it".to_owned()),
        }
        let decodable = lines.commands.iter().any(|c| c.command.tag.as_str() == tag);
        if decodable {
            match theirs[seen_at..].iter().position(|(t, _)| t == tag) {
                Some(i) => {
                    if theirs[seen_at + i].1 != *status {
                        problems.push(format!("client session saw {:?}", theirs[seen_at + i].1));
                    }
                    seen_at += i + 1;
                }
                None => problems.push("client session saw no completion".to_owned()),
            }
        } else if *status != Status::Bad {
            problems.push("the command does not decode".to_owned());
        }
        let summary = match refusal {
            // The session let it through; the application (answering as
            // the server did) refused it: a check beyond the grammar.
            _ if *status == Status::Bad && surfaced.contains(tag) => {
                format!("{tag} {name} passed to the application, which refused it as the server did,")
            }
            _ if *status == Status::Bad && refusal.is_none() => {
                format!("{tag} {name} rejected, as the server did,")
            }
            Some(ours) => format!("{tag} {name} refused as the server did ({status:?} there, {ours:?} here)"),
            None => format!("{tag} {name} {status:?}"),
        };
        if problems.is_empty() {
            report.pass(Dir::Client, offset, &summary)?;
        } else {
            report.fail(
                Dir::Client,
                offset,
                &excerpt(&client[offset..]),
                &problems.join("; "),
            )?;
        }
    }
    // Continuation requests at the same places.
    let recorded_plus = continuation_tags(&recorded.responses);
    let our_plus = continuation_tags(&ours);
    if recorded_plus == our_plus {
        report.pass(
            Dir::Server,
            0,
            &format!(
                "{} continuation requests where the server sent them",
                recorded_plus.len()
            ),
        )?;
    } else {
        report.fail(
            Dir::Server,
            0,
            "(continuation requests)",
            &format!("recorded for {recorded_plus:?}, the session sent them for {our_plus:?}"),
        )?;
    }
    Ok(())
}

/// NO and BAD: the command failed either way. The sessions answer some
/// refusals as their RFC says where a server says otherwise (RFC 4978
/// asks BAD for an unknown COMPRESS mechanism; Dovecot says NO).
fn both_refused(a: Status, b: Status) -> bool {
    matches!(a, Status::No | Status::Bad) && matches!(b, Status::No | Status::Bad)
}
