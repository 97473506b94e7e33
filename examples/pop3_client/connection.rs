//! The blocking transport under the sans-IO session: TCP, TLS, and a loop
//! that moves bytes between the socket and `ClientSession`.

use std::io::{self, Read, Write};
use std::time::Duration;

use crate::Failure;
use crate::tls_client::{ConnectError, TlsSetup, Transport, connect_tcp, network_error};
use mailwire::pop3::{
    ClientConfig, ClientEvent, ClientSession, Command, CommandId, Response, ResponseCode, StatusLine,
};

impl From<ConnectError> for Failure {
    fn from(e: ConnectError) -> Failure {
        match e {
            ConnectError::Usage(m) => Failure::Usage(m),
            ConnectError::Network(m) => Failure::Network(m),
        }
    }
}

/// Describes an I/O error on the connection.
fn network(what: &str, e: &io::Error) -> Failure {
    network_error(what, e).into()
}

/// The text of a status line, for messages.
pub fn describe(status: &StatusLine<'_>) -> String {
    let text = String::from_utf8_lossy(status.text.as_bytes()).into_owned();
    match &status.code {
        Some(code) => format!("[{}] {text}", code.as_str()),
        None => text,
    }
}

/// One POP3 connection: a transport and the session that speaks over it.
pub struct Connection {
    transport: Transport,
    session: ClientSession,
    buf: Vec<u8>,
}

impl Connection {
    /// Connects to `host:port`, with TLS from the start if `tls` is given.
    pub fn open(
        host: &str,
        port: u16,
        timeout: Duration,
        no_pipelining: bool,
        tls: Option<&TlsSetup>,
    ) -> Result<Connection, Failure> {
        let tcp = connect_tcp(host, port, timeout)?;
        let transport = match tls {
            Some(setup) => setup.wrap(tcp)?,
            None => Transport::Plain(tcp),
        };
        let config = ClientConfig {
            no_pipelining,
            ..ClientConfig::default()
        };
        Ok(Connection {
            transport,
            session: ClientSession::new(config),
            buf: vec![0; 64 * 1024],
        })
    }

    /// The session, to queue commands and ask about capabilities.
    pub fn session(&mut self) -> &mut ClientSession {
        &mut self.session
    }

    /// Sends what the session has to send. Answers whether anything was.
    fn flush(&mut self) -> Result<bool, Failure> {
        let mut sent = false;
        while let Some(bytes) = self.session.poll_transmit() {
            self.transport
                .write_all(&bytes)
                .map_err(|e| network("sending to the server", &e))?;
            sent = true;
        }
        if sent {
            self.transport
                .flush()
                .map_err(|e| network("sending to the server", &e))?;
        }
        Ok(sent)
    }

    /// The next event, reading from the server as needed.
    pub fn next_event(&mut self) -> Result<ClientEvent, Failure> {
        loop {
            self.flush()?;
            if let Some(event) = self.session.poll_event() {
                return Ok(event);
            }
            if self.flush()? {
                continue;
            }
            let n = self
                .transport
                .read(&mut self.buf)
                .map_err(|e| network("receiving from the server", &e))?;
            if n == 0 {
                return Err(Failure::Network("the server closed the connection".into()));
            }
            self.session.receive(self.buf.get(..n).unwrap_or_default());
        }
    }

    /// Waits for the greeting.
    pub fn greeting(&mut self) -> Result<StatusLine<'static>, Failure> {
        loop {
            match self.next_event()? {
                ClientEvent::Greeting(status) if status.is_ok() => return Ok(status),
                ClientEvent::Greeting(status) => {
                    return Err(Failure::Network(format!(
                        "the server refused the connection: {}",
                        describe(&status)
                    )));
                }
                ClientEvent::Error { error, .. } => {
                    return Err(Failure::Network(format!("bad greeting: {error}")));
                }
                _ => {}
            }
        }
    }

    /// Waits for the answer to the command `id`.
    pub fn wait(&mut self, id: CommandId) -> Result<Response<'static>, Failure> {
        loop {
            match self.next_event()? {
                ClientEvent::Response { id: got, response } if got == id => return Ok(response),
                ClientEvent::Error { id: Some(got), error } if got == id => {
                    return Err(Failure::Network(format!("bad answer from the server: {error}")));
                }
                ClientEvent::Challenge { id: got, .. } if got == id => {
                    // No mechanism used here expects a challenge.
                    self.session.sasl_cancel();
                }
                ClientEvent::Error { id: None, error } => {
                    tracing::warn!("the server sent something unexpected: {error}");
                }
                _ => {}
            }
        }
    }

    /// Sends `command` and waits for its answer.
    pub fn call(&mut self, command: Command<'static>) -> Result<Response<'static>, Failure> {
        let id = self.session.send(command);
        self.wait(id)
    }

    /// STLS, then the TLS handshake on the same connection.
    pub fn start_tls(mut self, setup: &TlsSetup) -> Result<Connection, Failure> {
        match self.call(Command::Stls)? {
            Response::Status(s) if s.is_ok() => {}
            Response::Status(s) => {
                return Err(Failure::Network(format!(
                    "the server refused STLS: {} (try --tls implicit, or --tls none)",
                    describe(&s)
                )));
            }
            other => return Err(Failure::Network(format!("unexpected answer to STLS: {other:?}"))),
        }
        let tcp = match self.transport {
            Transport::Plain(tcp) => tcp,
            Transport::Tls(_) => return Err(Failure::Network("STLS inside TLS".into())),
        };
        self.transport = setup.wrap(tcp)?;
        self.session.tls_established();
        Ok(self)
    }

    /// Ends a TLS session politely (close_notify); nothing for plain TCP.
    pub fn close(mut self) {
        self.transport.close();
    }
}

/// How a refused login is reported.
pub fn login_failure(status: &StatusLine<'_>) -> Failure {
    let temporary = matches!(
        status.code,
        Some(ResponseCode::InUse | ResponseCode::LoginDelay | ResponseCode::SysTemp)
    );
    let message = format!("login refused: {}", describe(status));
    if temporary {
        Failure::LoginTemporary(message)
    } else {
        Failure::Login(message)
    }
}
