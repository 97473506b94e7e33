//! IMAP (RFC 9051, RFC 3501 and extensions): the client's commands walked in
//! order, and after each one the server's responses up to its tagged
//! completion. Responses do not depend on the command they answer, but a
//! few commands change what the client sends next (AUTHENTICATE data lines,
//! IDLE's DONE) or end the plain-text stream (STARTTLS, COMPRESS).

use std::io;

use mailwire::imap::{
    AuthenticateData, Command, CommandBody, DecodeError, Decoded, DecoderConfig, LiteralPolicy, Response,
    Status, decode_authenticate_data, decode_command, decode_greeting, decode_idle_done, decode_response,
    to_bytes,
};

use super::{Dir, Report, SUMMARY, escape, excerpt, first_line};

/// Traces one connection: `client` and `server` are the bytes each side
/// sent.
pub fn trace(client: &[u8], server: &[u8], report: &mut Report<'_>) -> io::Result<()> {
    let mut config = DecoderConfig::default();
    // A trace holds whole messages in memory anyway.
    config.limits.literal = u64::MAX >> 1;
    config.limits = config.limits.with_message(u64::MAX);
    Tracer {
        client,
        server,
        c: 0,
        s: 0,
        config,
        report,
    }
    .run()
}

/// What the server's responses to a command ended with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Completion {
    /// The tagged response, with its status.
    Tagged(Status),
    /// A continuation request (`+`), which the command was waiting for.
    Continue,
    /// `* BYE`: the server is closing the connection.
    Bye,
    /// The capture ended first.
    Missing,
}

struct Tracer<'a, 'r, 'w> {
    client: &'a [u8],
    server: &'a [u8],
    /// Offsets of the next unread byte on each side.
    c: usize,
    s: usize,
    config: DecoderConfig,
    report: &'r mut Report<'w>,
}

impl Tracer<'_, '_, '_> {
    fn run(&mut self) -> io::Result<()> {
        if !self.greeting()? {
            return Ok(());
        }
        let client = self.client;
        while self.c < client.len() {
            let start = self.c;
            let rest = &client[start..];
            match decode_command(rest, &self.config) {
                Ok(Decoded::Complete { value, consumed }) => {
                    self.c += consumed;
                    self.check_command(&value, start, consumed)?;
                    let tag = value.tag.as_str().to_owned();
                    match &value.body {
                        CommandBody::Authenticate { .. } => self.authenticate(&tag)?,
                        CommandBody::Idle => self.idle(&tag)?,
                        CommandBody::StartTls => {
                            if self.responses_until(Some(&tag))? == Completion::Tagged(Status::Ok) {
                                return self
                                    .report
                                    .note(&"STARTTLS accepted: the rest is TLS; decoding stops");
                            }
                        }
                        // After an OK to COMPRESS (RFC 4978 section 3) both
                        // directions are DEFLATE streams.
                        CommandBody::Compress(_) => {
                            if self.responses_until(Some(&tag))? == Completion::Tagged(Status::Ok) {
                                return self
                                    .report
                                    .note(&"COMPRESS is active: the rest is compressed; decoding stops");
                            }
                        }
                        _ => {
                            if self.responses_until(Some(&tag))? == Completion::Bye
                                && self.s >= self.server.len()
                            {
                                break;
                            }
                        }
                    }
                }
                Ok(Decoded::Incomplete | Decoded::LiteralAnnounced(_)) => {
                    self.report.fail(
                        Dir::Client,
                        start,
                        &client_excerpt(rest),
                        &"the capture ends inside a command",
                    )?;
                    self.c = client.len();
                }
                Err(e) => {
                    let tag = rest
                        .split(|&b| b == b' ')
                        .next()
                        .map(|t| String::from_utf8_lossy(t).into_owned());
                    // A command the recorded server refused with a tagged
                    // BAD is one the decoder may refuse too.
                    if tag.as_deref().and_then(|t| self.completion_ahead(t)) == Some(Status::Bad) {
                        self.report.pass(
                            Dir::Client,
                            start,
                            &format!("{} rejected, as the server did,", client_excerpt(rest)),
                        )?;
                    } else {
                        self.report
                            .fail(Dir::Client, start, &client_excerpt(rest), &absolute(&e, start))?;
                    }
                    self.c = start + resume(&e, rest);
                    self.responses_until(tag.as_deref())?;
                }
            }
        }
        // Whatever the server sent after the client's last command.
        self.responses_until(None).map(|_| ())
    }

    /// The greeting; false if the connection ends with it.
    fn greeting(&mut self) -> io::Result<bool> {
        if self.server.is_empty() {
            self.report.note(&"the server capture is empty: no greeting")?;
            return Ok(true);
        }
        match decode_greeting(self.server, &self.config) {
            Ok(Decoded::Complete { value, consumed }) => {
                self.check_response(&value, 0, consumed)?;
                self.s = consumed;
                Ok(!matches!(
                    value,
                    Response::Status {
                        status: Status::Bye,
                        ..
                    }
                ))
            }
            Ok(_) => {
                self.report.fail(
                    Dir::Server,
                    0,
                    &excerpt(self.server),
                    &"the capture ends inside the greeting",
                )?;
                self.s = self.server.len();
                Ok(false)
            }
            Err(e) => {
                self.report.fail(Dir::Server, 0, &excerpt(self.server), &e)?;
                self.s = resume(&e, self.server);
                Ok(true)
            }
        }
    }

    /// AUTHENTICATE: challenges and the client's answers until the tagged
    /// response.
    fn authenticate(&mut self, tag: &str) -> io::Result<()> {
        loop {
            match self.responses_until(Some(tag))? {
                Completion::Continue => {}
                _ => return Ok(()),
            }
            let start = self.c;
            let rest = &self.client[start..];
            if rest.is_empty() {
                return self.report.note(&"the client capture ends during AUTHENTICATE");
            }
            match decode_authenticate_data(rest, &self.config) {
                Ok(Decoded::Complete { value, consumed }) => {
                    self.c += consumed;
                    let wire = value.encode();
                    let again = decode_authenticate_data(&wire, &DecoderConfig::STRICT)
                        .ok()
                        .and_then(Decoded::complete)
                        .map(|(v, _)| v);
                    let summary = match value {
                        AuthenticateData::Cancel => "AUTHENTICATE cancelled (*)",
                        AuthenticateData::Continue(_) => "AUTHENTICATE data (not shown)",
                    };
                    if again.as_ref() == Some(&value) {
                        self.report.pass(Dir::Client, start, summary)?;
                    } else {
                        self.report.fail(
                            Dir::Client,
                            start,
                            "(not shown)",
                            &"does not survive a round trip",
                        )?;
                    }
                }
                Ok(_) => {
                    self.c = self.client.len();
                    return self.report.fail(
                        Dir::Client,
                        start,
                        "(not shown)",
                        &"the capture ends inside a line",
                    );
                }
                Err(e) => {
                    self.c = start + resume(&e, rest);
                    // The data is a secret: say where, never what.
                    self.report.fail(
                        Dir::Client,
                        start,
                        "(not shown)",
                        &format_args!("expected {}", e.expected),
                    )?;
                }
            }
        }
    }

    /// IDLE: the server's `+`, its updates, the client's DONE, and the
    /// tagged response.
    fn idle(&mut self, tag: &str) -> io::Result<()> {
        if self.responses_until(Some(tag))? != Completion::Continue {
            return Ok(());
        }
        let start = self.c;
        let rest = &self.client[start..];
        match decode_idle_done(rest, &self.config) {
            Ok(Decoded::Complete { consumed, .. }) => {
                self.c += consumed;
                self.report.pass(Dir::Client, start, "DONE")?;
            }
            Ok(_) => {
                self.c = self.client.len();
                self.report.note(&"the client capture ends while idling")?;
            }
            Err(e) => {
                self.report
                    .fail(Dir::Client, start, &excerpt(rest), &absolute(&e, start))?;
                self.c = start + resume(&e, rest);
            }
        }
        self.responses_until(Some(tag)).map(|_| ())
    }

    /// Decodes server responses until the tagged response for `tag`, a
    /// continuation request, BYE, or the end of the capture (`tag` None:
    /// until the end).
    fn responses_until(&mut self, tag: Option<&str>) -> io::Result<Completion> {
        let server = self.server;
        while self.s < server.len() {
            let start = self.s;
            let rest = &server[start..];
            match decode_response(rest, &self.config) {
                Ok(Decoded::Complete { value, consumed }) => {
                    self.s += consumed;
                    self.check_response(&value, start, consumed)?;
                    match &value {
                        Response::Status {
                            tag: Some(t), status, ..
                        } if Some(t.as_str()) == tag => return Ok(Completion::Tagged(*status)),
                        Response::Continue(_) if tag.is_some() => return Ok(Completion::Continue),
                        Response::Status {
                            tag: None,
                            status: Status::Bye,
                            ..
                        } if tag.is_some() => return Ok(Completion::Bye),
                        _ => {}
                    }
                }
                Ok(_) => {
                    self.report.fail(
                        Dir::Server,
                        start,
                        &excerpt(rest),
                        &"the capture ends inside a response",
                    )?;
                    self.s = server.len();
                }
                Err(e) => {
                    let tagged_here = tag
                        .is_some_and(|t| rest.starts_with(t.as_bytes()) && rest.get(t.len()) == Some(&b' '));
                    self.report
                        .fail(Dir::Server, start, &excerpt(rest), &absolute(&e, start))?;
                    self.s = start + resume(&e, rest);
                    if tagged_here {
                        return Ok(Completion::Tagged(Status::Bad));
                    }
                }
            }
        }
        Ok(Completion::Missing)
    }

    /// The status of the server's tagged response to `tag`, looked up
    /// ahead in the capture without reporting the responses before it.
    fn completion_ahead(&self, tag: &str) -> Option<Status> {
        let mut s = self.s;
        while s < self.server.len() {
            let rest = &self.server[s..];
            match decode_response(rest, &self.config) {
                Ok(Decoded::Complete { value, consumed }) => {
                    s += consumed;
                    if let Response::Status {
                        tag: Some(t), status, ..
                    } = &value
                    {
                        if t.as_str() == tag {
                            return Some(*status);
                        }
                    }
                }
                Ok(_) => return None,
                Err(e) => s += resume(&e, rest),
            }
        }
        None
    }

    /// Reports the command at `start`, after checking that it encodes to
    /// bytes that decode to the same command. Only the tag and the command
    /// name are shown: arguments can hold credentials.
    fn check_command(&mut self, value: &Command<'_>, start: usize, consumed: usize) -> io::Result<()> {
        let summary = format!("{} {}", value.tag.as_str(), value.body.name());
        let wire = to_bytes(&value.encode(LiteralPolicy::LiteralPlus));
        match decode_command(&wire, &self.config) {
            Ok(Decoded::Complete {
                value: again,
                consumed: n,
            }) if n == wire.len() && &again == value => self.report.pass(Dir::Client, start, &summary),
            _ => self.report.fail(
                Dir::Client,
                start,
                &client_excerpt(&self.client[start..start + consumed]),
                &"does not survive a round trip",
            ),
        }
    }

    /// Reports the response at `start` after the same round trip.
    fn check_response(&mut self, value: &Response<'_>, start: usize, consumed: usize) -> io::Result<()> {
        let bytes = &self.server[start..start + consumed];
        let summary = escape(first_line(bytes), SUMMARY);
        let wire = to_bytes(&value.encode());
        match decode_response(&wire, &self.config) {
            Ok(Decoded::Complete {
                value: again,
                consumed: n,
            }) if n == wire.len() && &again == value => self.report.pass(Dir::Server, start, &summary),
            other => self.report.fail(
                Dir::Server,
                start,
                &excerpt(bytes),
                &format_args!(
                    "does not survive a round trip: {}",
                    match other {
                        Ok(_) => "re-encoded bytes decode differently".to_owned(),
                        Err(e) => e.to_string(),
                    }
                ),
            ),
        }
    }
}

/// A client line as a failure shows it: LOGIN and AUTHENTICATE lines only
/// up to the command name, so that credentials never appear.
fn client_excerpt(rest: &[u8]) -> String {
    let line = first_line(rest);
    let mut words = line.splitn(3, |&b| b == b' ');
    let (tag, name) = (words.next().unwrap_or_default(), words.next().unwrap_or_default());
    if name.eq_ignore_ascii_case(b"LOGIN") || name.eq_ignore_ascii_case(b"AUTHENTICATE") {
        format!("{} {} (arguments not shown)", escape(tag, 20), escape(name, 20))
    } else {
        excerpt(rest)
    }
}

/// The error with its offset made absolute in the capture.
fn absolute(e: &DecodeError, start: usize) -> String {
    let mut e = e.clone();
    e.offset += start;
    e.to_string()
}

/// Where to go on after an error in `rest`: its `resume_at`, or after the
/// line.
fn resume(e: &DecodeError, rest: &[u8]) -> usize {
    e.resume_at.filter(|&r| r > 0).unwrap_or_else(|| {
        rest.iter()
            .position(|&b| b == b'\n')
            .map_or(rest.len(), |i| i + 1)
    })
}
