//! Harness of the transcript tests: a script format for the example
//! exchanges of the RFCs, replay of a script through a [`ServerSession`]
//! (compare what it sends) and through a [`ClientSession`] (compare what it
//! sends and collect its events), SASL mechanisms for the server, and
//! message builders.
//!
//! # Script format
//!
//! One line per protocol line, each starting with a tag; leading blanks,
//! empty lines and `#` comments are ignored. A trailing `<SP>` stands for a
//! space that would otherwise be invisible.
//!
//! | tag    | server replay                                 | client replay             |
//! |--------|-----------------------------------------------|---------------------------|
//! | `C:`   | fed to the server                             | must be what the client sends |
//! | `S:`   | must be sent exactly                          | fed                       |
//! | `S~`   | `prefix \| text`: the line must be `prefix`, alone or followed by a space and any text (the RFC leaves the text free) | fed as `prefix text` |
//! | `S+`   | must be sent exactly (our server only)        | not fed                   |
//! | `S-`   | not expected (the RFC's line; ours differs)   | fed                       |
//! | `S?`   | unordered block: must be sent, in any order   | fed, in script order      |
//! | `S?+`  | unordered block, our server only              | not fed                   |
//! | `S?-`  | unordered block, the RFC's only               | fed                       |
//!
//! A run of `C:` lines and the run of server lines after it form one
//! exchange: the server's output for the client lines must be exactly the
//! server lines, nothing more.
#![allow(dead_code)] // Each test binary uses a different part of the harness.

use bytes::Bytes;
use mailwire_pop3::{
    ClientConfig, ClientEvent, ClientSession, Command, CommandId, Decoded, DecoderConfig, LoginRejection,
    LoginRequest, Maildrop, MaildropServer, MemoryMaildrop, MessageNumber, PlainCredentials, SaslData,
    SaslMechanism, SaslStep, ServerConfig, ServerEvent, ServerSession, Timestamp, decode_command,
};

/// The APOP timestamp of RFC 1939 section 7.
pub const RFC1939_TIMESTAMP: &str = "<1896.697170952@dbc.mtview.ca.us>";

// ---------------------------------------------------------------------------
// Scripts
// ---------------------------------------------------------------------------

/// What a script line is (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tag {
    Client,
    Exact,
    Free,
    ServerOnly,
    ClientOnly,
    Unordered,
    UnorderedServerOnly,
    UnorderedClientOnly,
}

impl Tag {
    fn server_sees(self) -> bool {
        !matches!(self, Tag::Client | Tag::ClientOnly | Tag::UnorderedClientOnly)
    }

    fn client_sees(self) -> bool {
        !matches!(self, Tag::Client | Tag::ServerOnly | Tag::UnorderedServerOnly)
    }

    fn unordered(self) -> bool {
        matches!(
            self,
            Tag::Unordered | Tag::UnorderedServerOnly | Tag::UnorderedClientOnly
        )
    }
}

/// One line of a script.
#[derive(Debug, Clone)]
pub struct ScriptLine {
    pub tag: Tag,
    /// The line (for `S~`, the part that must match exactly).
    pub text: String,
    /// For `S~`: the RFC's free text.
    pub free_text: String,
    /// Line number in the script, for messages.
    pub number: usize,
}

impl ScriptLine {
    /// The line as the RFC shows it (what a client is fed).
    fn rfc_line(&self) -> String {
        if self.tag == Tag::Free && !self.free_text.is_empty() {
            format!("{} {}", self.text, self.free_text)
        } else {
            self.text.clone()
        }
    }
}

/// Client lines and the server lines that answer them.
#[derive(Debug, Clone, Default)]
pub struct Exchange {
    pub client: Vec<ScriptLine>,
    pub server: Vec<ScriptLine>,
}

pub fn parse_script(script: &str) -> Vec<ScriptLine> {
    let mut lines = Vec::new();
    for (i, raw) in script.lines().enumerate() {
        let line = raw.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (tag, rest) = line.split_once(' ').unwrap_or((line, ""));
        let tag = match tag {
            "C:" => Tag::Client,
            "S:" => Tag::Exact,
            "S~" => Tag::Free,
            "S+" => Tag::ServerOnly,
            "S-" => Tag::ClientOnly,
            "S?" => Tag::Unordered,
            "S?+" => Tag::UnorderedServerOnly,
            "S?-" => Tag::UnorderedClientOnly,
            other => panic!("script line {}: unknown tag {other:?} in {raw:?}", i + 1),
        };
        let rest = match rest.strip_suffix("<SP>") {
            Some(r) => format!("{r} "),
            None => rest.to_string(),
        };
        let (text, free_text) = if tag == Tag::Free {
            let (prefix, free) = rest
                .split_once('|')
                .unwrap_or_else(|| panic!("script line {}: S~ needs 'prefix | text'", i + 1));
            (prefix.trim().to_string(), free.trim().to_string())
        } else {
            (rest, String::new())
        };
        lines.push(ScriptLine {
            tag,
            text,
            free_text,
            number: i + 1,
        });
    }
    lines
}

pub fn exchanges(script: &str) -> Vec<Exchange> {
    let mut out: Vec<Exchange> = Vec::new();
    for line in parse_script(script) {
        let start_new = match out.last() {
            None => true,
            Some(last) => line.tag == Tag::Client && !last.server.is_empty(),
        };
        if start_new {
            out.push(Exchange::default());
        }
        let ex = out.last_mut().expect("pushed above");
        if line.tag == Tag::Client {
            ex.client.push(line);
        } else {
            ex.server.push(line);
        }
    }
    out
}

/// Splits output into CRLF-terminated lines; panics on a trailing partial
/// line.
pub fn crlf_lines(out: &[u8]) -> Vec<&[u8]> {
    let mut lines = Vec::new();
    let mut rest = out;
    while !rest.is_empty() {
        let end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .unwrap_or_else(|| panic!("output does not end with CRLF: {:?}", show(rest)));
        lines.push(&rest[..end]);
        rest = &rest[end + 2..];
    }
    lines
}

/// Bytes as text for messages.
pub fn show(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn free_text_matches(prefix: &str, actual: &[u8]) -> bool {
    let p = prefix.as_bytes();
    actual.starts_with(p) && (actual.len() == p.len() || actual[p.len()] == b' ')
}

/// Checks the server's output for one exchange.
pub fn check_server_output(exchange: &Exchange, out: &[u8]) {
    let expected: Vec<&ScriptLine> = exchange.server.iter().filter(|l| l.tag.server_sees()).collect();
    let actual = crlf_lines(out);
    let fail = |why: String| -> ! {
        let client: Vec<&str> = exchange.client.iter().map(|l| l.text.as_str()).collect();
        let want: Vec<String> = expected
            .iter()
            .map(|l| format!("{:>4} {:?} {:?}", l.number, l.tag, l.text))
            .collect();
        let got: Vec<String> = actual.iter().map(|l| show(l)).collect();
        panic!(
            "{why}\nclient sent: {client:#?}\nexpected server lines:\n{}\nactual server lines: {got:#?}",
            want.join("\n")
        )
    };
    let mut at = 0;
    let mut i = 0;
    while i < expected.len() {
        let line = expected[i];
        if line.tag.unordered() {
            let block: Vec<&ScriptLine> = expected[i..]
                .iter()
                .take_while(|l| l.tag.unordered())
                .copied()
                .collect();
            if at + block.len() > actual.len() {
                fail(format!(
                    "script line {}: output ends inside an unordered block",
                    line.number
                ));
            }
            let mut want: Vec<&[u8]> = block.iter().map(|l| l.text.as_bytes()).collect();
            let mut got: Vec<&[u8]> = actual[at..at + block.len()].to_vec();
            want.sort();
            got.sort();
            if want != got {
                fail(format!("script line {}: unordered block differs", line.number));
            }
            at += block.len();
            i += block.len();
            continue;
        }
        let Some(got) = actual.get(at) else {
            fail(format!("script line {}: output ended early", line.number))
        };
        let ok = match line.tag {
            Tag::Free => free_text_matches(&line.text, got),
            _ => *got == line.text.as_bytes(),
        };
        if !ok {
            fail(format!(
                "script line {}: expected {:?}, got {:?}",
                line.number,
                line.text,
                show(got)
            ));
        }
        at += 1;
        i += 1;
    }
    if at != actual.len() {
        fail(format!("{} unexpected line(s) of output", actual.len() - at));
    }
}

// ---------------------------------------------------------------------------
// Server side
// ---------------------------------------------------------------------------

/// Decides a login the way an application would.
pub type Authenticator = Box<dyn FnMut(&LoginRequest) -> Result<(), LoginRejection>>;

/// The users of the RFC examples.
pub fn rfc_users(request: &LoginRequest) -> Result<(), LoginRejection> {
    let ok = match request {
        LoginRequest::User { user, password } => matches!(
            (user.as_inner(), password.expose()),
            (b"mrose", b"secret") | (b"karen", b"password") | (b"alice", b"wonderland")
        ),
        LoginRequest::Apop { user, .. } => {
            matches!(user.as_inner(), b"mrose" | b"alice") && request.verify_apop(b"tanstaaf")
        }
        LoginRequest::Plain(c) => matches!(
            (c.authcid.as_slice(), c.expose_password()),
            (b"test", b"test") | (b"tim", b"tanstaaftanstaaf") | (b"alice", b"wonderland")
        ),
        // The mechanism verified the client itself.
        LoginRequest::Sasl { .. } => true,
    };
    if ok {
        Ok(())
    } else {
        Err(LoginRejection::BadCredentials)
    }
}

/// What a [`Server`] saw of an event. The handles were passed back to the
/// session, so only what they carried is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    Login(LoginRequest),
    Retrieve {
        message: MessageNumber,
        top_lines: Option<u32>,
    },
    Commit {
        deleted: Vec<MessageNumber>,
    },
    StartTls,
    Closed {
        committed: bool,
    },
}

impl Seen {
    pub fn of(event: &ServerEvent) -> Seen {
        match event {
            ServerEvent::Login(h) => Seen::Login(h.request().clone()),
            ServerEvent::Retrieve(h) => Seen::Retrieve {
                message: h.message(),
                top_lines: h.top_lines(),
            },
            ServerEvent::Commit(h) => Seen::Commit {
                deleted: h.deleted().to_vec(),
            },
            ServerEvent::StartTls => Seen::StartTls,
            ServerEvent::Closed { committed } => Seen::Closed {
                committed: *committed,
            },
            other => panic!("unknown event {other:?}"),
        }
    }
}

/// A server session with an application around it: logins are decided by
/// `auth` and accepted with `maildrop`, whose storage events a
/// [`MaildropServer`] answers; STLS handshakes complete at once unless
/// `auto_tls` is off.
pub struct Server<M: Maildrop + Clone = MemoryMaildrop> {
    pub session: ServerSession,
    pub store: MaildropServer<M>,
    pub maildrop: M,
    pub auth: Authenticator,
    pub auto_tls: bool,
    /// Every event, in order.
    pub events: Vec<Seen>,
    out: Vec<u8>,
}

impl<M: Maildrop + Clone> Server<M> {
    pub fn new(config: ServerConfig, maildrop: &M) -> Self {
        Server {
            session: ServerSession::new(config),
            store: MaildropServer::new(),
            maildrop: maildrop.clone(),
            auth: Box::new(rfc_users),
            auto_tls: true,
            events: Vec::new(),
            out: Vec::new(),
        }
    }

    pub fn feed(&mut self, bytes: &[u8]) {
        self.session.receive(bytes);
        self.pump();
    }

    /// Answers events and collects output until nothing moves.
    pub fn pump(&mut self) {
        loop {
            let mut progressed = false;
            while let Some(event) = self.session.poll_event() {
                progressed = true;
                self.events.push(Seen::of(&event));
                self.handle(event);
            }
            while let Some(bytes) = self.store.poll_transmit(&mut self.session) {
                progressed = true;
                self.out.extend_from_slice(&bytes);
            }
            if !progressed {
                break;
            }
        }
    }

    fn handle(&mut self, event: ServerEvent) {
        match event {
            ServerEvent::Login(login) => match (self.auth)(login.request()) {
                Ok(()) => self
                    .store
                    .accept_login(&mut self.session, login, self.maildrop.clone())
                    .expect("a login is pending"),
                Err(why) => self.session.reject_login(login, why).expect("a login is pending"),
            },
            ServerEvent::StartTls if self.auto_tls => {
                // Send the +OK in plaintext, then "handshake".
                while let Some(bytes) = self.session.poll_transmit() {
                    self.out.extend_from_slice(&bytes);
                }
                self.session.tls_established();
            }
            other => {
                self.store.handle_event(&mut self.session, other);
            }
        }
    }

    /// What the server sent since the last call.
    pub fn take_output(&mut self) -> Vec<u8> {
        self.pump();
        std::mem::take(&mut self.out)
    }

    /// Feeds `input` and returns the output as text.
    pub fn exchange(&mut self, input: &str) -> String {
        self.feed(input.as_bytes());
        show(&self.take_output())
    }

    pub fn logins(&self) -> Vec<&LoginRequest> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Seen::Login(r) => Some(r),
                _ => None,
            })
            .collect()
    }

    pub fn closed_events(&self) -> Vec<&Seen> {
        self.events
            .iter()
            .filter(|e| matches!(e, Seen::Closed { .. }))
            .collect()
    }

    /// Replays a script (see the module documentation).
    pub fn replay(&mut self, script: &str) {
        for exchange in exchanges(script) {
            for line in &exchange.client {
                self.feed(format!("{}\r\n", line.text).as_bytes());
            }
            let out = self.take_output();
            check_server_output(&exchange, &out);
        }
    }
}

/// A server configuration for the RFC 1939 examples: APOP timestamp of
/// section 7, plaintext passwords allowed.
pub fn rfc1939_config() -> ServerConfig {
    ServerConfig {
        apop_timestamp: Some(Timestamp::new(RFC1939_TIMESTAMP).expect("valid timestamp")),
        allow_plaintext_auth: true,
        ..ServerConfig::default()
    }
}

/// A server already logged in as mrose on `maildrop`, its output taken.
pub fn logged_in<M: Maildrop + Clone>(config: ServerConfig, maildrop: &M) -> Server<M> {
    let mut server = Server::new(config, maildrop);
    server.take_output();
    let out = server.exchange("USER mrose\r\nPASS secret\r\n");
    assert!(
        out.ends_with(")\r\n") && out.contains("+OK maildrop has"),
        "{out}"
    );
    assert!(server.session.is_authenticated());
    server
}

// ---------------------------------------------------------------------------
// SASL mechanisms for the server
// ---------------------------------------------------------------------------

/// A mechanism that follows a fixed exchange: each step names what the
/// client must send (for the first step, its initial response, `None` if
/// it must send none) and the answer. Anything else fails.
#[derive(Debug, Clone, Default)]
pub struct ScriptedMechanism {
    steps: Vec<(Option<Vec<u8>>, SaslStep)>,
    at: usize,
}

impl ScriptedMechanism {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn then(mut self, expect: Option<&[u8]>, reply: SaslStep) -> Self {
        self.steps.push((expect.map(<[u8]>::to_vec), reply));
        self
    }

    fn next(&mut self, got: Option<&[u8]>) -> SaslStep {
        match self.steps.get(self.at) {
            Some((want, reply)) if want.as_deref() == got => {
                self.at += 1;
                reply.clone()
            }
            _ => SaslStep::Failure,
        }
    }
}

impl SaslMechanism for ScriptedMechanism {
    fn start(&mut self, initial: Option<&[u8]>) -> SaslStep {
        self.next(initial)
    }

    fn step(&mut self, response: &[u8]) -> SaslStep {
        self.next(Some(response))
    }
}

/// EXTERNAL (RFC 4422 appendix A): the identity comes from the TLS client
/// certificate; the client's message is an authorization identity, empty
/// for "the same". Without an initial response the server sends an empty
/// challenge.
#[derive(Debug, Default)]
pub struct External;

impl External {
    fn finish(message: &[u8]) -> SaslStep {
        SaslStep::Success {
            authcid: b"cert-subject".to_vec(),
            authzid: (!message.is_empty()).then(|| message.to_vec()),
        }
    }
}

impl SaslMechanism for External {
    fn start(&mut self, initial: Option<&[u8]>) -> SaslStep {
        match initial {
            Some(message) => Self::finish(message),
            None => SaslStep::Challenge(Vec::new()),
        }
    }

    fn step(&mut self, response: &[u8]) -> SaslStep {
        Self::finish(response)
    }
}

/// Decodes base64 with the crate's own type.
pub fn unbase64(text: &str) -> Vec<u8> {
    SaslData::new(text)
        .expect("base64")
        .decode()
        .expect("canonical base64")
}

// ---------------------------------------------------------------------------
// Client side
// ---------------------------------------------------------------------------

/// A client session driven by a script: it must send the script's `C:`
/// lines and is fed the RFC's `S` lines.
pub struct ClientReplay {
    pub client: ClientSession,
    /// Send APOP with [`ClientSession::login_apop`] and this secret, so the
    /// digest is computed from the greeting.
    pub apop_secret: Option<Vec<u8>>,
    /// The id of each command sent, in order (SASL lines excluded).
    pub ids: Vec<CommandId>,
    /// Every event, body chunks of one command joined.
    pub events: Vec<ClientEvent>,
    in_sasl: bool,
}

impl ClientReplay {
    pub fn new() -> Self {
        ClientReplay {
            client: ClientSession::new(ClientConfig::default()),
            apop_secret: None,
            ids: Vec::new(),
            events: Vec::new(),
            in_sasl: false,
        }
    }

    fn queue(&mut self, line: &str) {
        if self.in_sasl {
            match line {
                "*" => self.client.sasl_cancel(),
                data => self.client.sasl_respond(&unbase64(data)),
            }
            return;
        }
        let wire = format!("{line}\r\n");
        let command = match decode_command(wire.as_bytes(), &DecoderConfig::STRICT) {
            Ok(Decoded::Complete { value, .. }) => value.into_owned(),
            other => panic!("script command {line:?} does not decode: {other:?}"),
        };
        let id = match command {
            Command::Apop { name, .. } if self.apop_secret.is_some() => {
                let secret = self.apop_secret.clone().unwrap_or_default();
                self.client
                    .login_apop(name.as_inner(), &secret)
                    .expect("APOP possible")
            }
            Command::Auth {
                mechanism,
                initial_response: Some(data),
            } if mechanism.is("PLAIN") && !data.as_str().is_empty() => {
                let c = PlainCredentials::parse(&unbase64(data.as_str())).expect("PLAIN message");
                self.client
                    .login_plain(&c.authzid, &c.authcid, c.expose_password())
                    .expect("valid")
            }
            Command::Auth {
                mechanism,
                initial_response,
            } => {
                let initial = initial_response.map(|d| unbase64(d.as_str()));
                self.client.authenticate(mechanism, initial.as_deref())
            }
            other => self.client.send(other),
        };
        self.ids.push(id);
    }

    /// Everything the client sends now.
    pub fn sent(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some(bytes) = self.client.poll_transmit() {
            out.extend_from_slice(&bytes);
        }
        out
    }

    /// Feeds server bytes and collects the events.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.client.receive(bytes);
        self.drain();
    }

    pub fn drain(&mut self) {
        let mut tls = false;
        let mut last_challenge = false;
        while let Some(event) = self.client.poll_event() {
            tls |= event == ClientEvent::StartTls;
            last_challenge = matches!(event, ClientEvent::Challenge { .. });
            push_event(&mut self.events, event);
        }
        self.in_sasl = last_challenge;
        if tls {
            self.client.tls_established();
        }
    }

    /// Replays a script (see the module documentation).
    pub fn replay(&mut self, script: &str) {
        for exchange in exchanges(script) {
            let mut expected = Vec::new();
            for line in &exchange.client {
                self.queue(&line.text);
                expected.extend_from_slice(line.text.as_bytes());
                expected.extend_from_slice(b"\r\n");
            }
            let sent = self.sent();
            assert_eq!(
                show(&sent),
                show(&expected),
                "client sent the wrong bytes at script line {}",
                exchange.client.first().map_or(0, |l| l.number)
            );
            let mut fed = Vec::new();
            for line in exchange.server.iter().filter(|l| l.tag.client_sees()) {
                fed.extend_from_slice(line.rfc_line().as_bytes());
                fed.extend_from_slice(b"\r\n");
            }
            self.feed(&fed);
            if !self.in_sasl {
                assert_eq!(
                    self.client.pending(),
                    0,
                    "the client still waits after script line {}",
                    exchange.server.last().map_or(0, |l| l.number)
                );
            }
        }
    }
}

impl Default for ClientReplay {
    fn default() -> Self {
        Self::new()
    }
}

/// Appends an event, joining consecutive body chunks of one command.
pub fn push_event(events: &mut Vec<ClientEvent>, event: ClientEvent) {
    if let ClientEvent::BodyChunk { id, data } = &event {
        if let Some(ClientEvent::BodyChunk {
            id: last,
            data: joined,
        }) = events.last_mut()
        {
            if last == id {
                let mut v = joined.to_vec();
                v.extend_from_slice(data);
                *joined = Bytes::from(v);
                return;
            }
        }
    }
    events.push(event);
}

// ---------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------

/// A message of exactly `size` octets with CRLF line ends: a Subject
/// header, the blank line and body lines of at most 60 characters.
pub fn message_of_size(subject: &str, size: usize) -> Vec<u8> {
    let mut m = format!("Subject: {subject}\r\n\r\n").into_bytes();
    assert!(m.len() + 2 <= size, "{size} octets is too small");
    let mut letter = b'a';
    while m.len() < size {
        let left = size - m.len();
        let content = if left <= 62 { left - 2 } else { 60.min(left - 4) };
        m.extend(std::iter::repeat_n(letter, content));
        m.extend_from_slice(b"\r\n");
        letter = if letter == b'z' { b'a' } else { letter + 1 };
    }
    assert_eq!(m.len(), size);
    m
}

/// CRLF normalisation, written independently of the crate: every LF not
/// after a CR becomes CRLF, and a non-empty message ends with CRLF (a final
/// lone CR becomes CRLF).
pub fn normalise(message: &[u8]) -> Vec<u8> {
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

/// The dot-stuffed wire form of a message (terminator excluded), written
/// independently of the crate.
pub fn stuffed(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for line in normalise(message).split_inclusive(|&b| b == b'\n') {
        if line.starts_with(b".") {
            out.push(b'.');
        }
        out.extend_from_slice(line);
    }
    out
}

/// `S:` script lines for the wire form of a message (ASCII messages only).
pub fn body_script(message: &[u8]) -> String {
    let wire = stuffed(message);
    let mut s = String::new();
    for line in crlf_lines(&wire) {
        s.push_str("S: ");
        s.push_str(std::str::from_utf8(line).expect("ASCII message"));
        s.push('\n');
    }
    s
}

/// A maildrop holding `messages` with unique ids `id1`, `id2`, ...
pub fn maildrop_with(messages: &[&[u8]]) -> MemoryMaildrop {
    let maildrop = MemoryMaildrop::new();
    for (i, m) in messages.iter().enumerate() {
        maildrop.push(
            mailwire_pop3::UniqueId::new(format!("id{}", i + 1)).expect("valid id"),
            m.to_vec(),
        );
    }
    maildrop
}
