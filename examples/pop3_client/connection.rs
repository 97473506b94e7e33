//! The blocking transport under the sans-IO session: TCP, TLS, and a loop
//! that moves bytes between the socket and `ClientSession`.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use mailwire::pop3::{
    ClientConfig, ClientEvent, ClientSession, Command, CommandId, Response, ResponseCode, StatusLine,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

use crate::Failure;

/// A plain or TLS byte stream.
enum Transport {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Read for Transport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.read(buf),
            Transport::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Transport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.write(buf),
            Transport::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Transport::Plain(s) => s.flush(),
            Transport::Tls(s) => s.flush(),
        }
    }
}

/// What TLS needs: the configuration and the name to check.
pub struct TlsSetup {
    config: Arc<rustls::ClientConfig>,
    name: ServerName<'static>,
}

impl TlsSetup {
    /// Trusts the certificates in `ca_file`, or the system's if `None`, and
    /// checks the certificate against `name`.
    pub fn new(ca_file: Option<&Path>, name: &str) -> Result<TlsSetup, Failure> {
        let mut roots = rustls::RootCertStore::empty();
        match ca_file {
            Some(path) => {
                let certs = CertificateDer::pem_file_iter(path)
                    .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
                    .map_err(|e| Failure::Usage(format!("--ca-file {}: {e}", path.display())))?;
                for cert in certs {
                    roots
                        .add(cert)
                        .map_err(|e| Failure::Usage(format!("--ca-file {}: {e}", path.display())))?;
                }
                if roots.is_empty() {
                    return Err(Failure::Usage(format!(
                        "--ca-file {}: no certificate in it",
                        path.display()
                    )));
                }
            }
            None => {
                let found = rustls_native_certs::load_native_certs();
                for error in &found.errors {
                    tracing::debug!("system certificates: {error}");
                }
                let (added, _ignored) = roots.add_parsable_certificates(found.certs);
                if added == 0 {
                    return Err(Failure::Network(
                        "no trusted certificate found on this system: give --ca-file".into(),
                    ));
                }
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Failure::Network(format!("TLS setup: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let name = ServerName::try_from(name.to_owned())
            .map_err(|_| Failure::Usage(format!("{name:?} is not a valid TLS server name")))?;
        Ok(TlsSetup {
            config: Arc::new(config),
            name,
        })
    }

    /// Runs the handshake on `tcp`.
    fn wrap(&self, mut tcp: TcpStream) -> Result<Transport, Failure> {
        let mut tls = rustls::ClientConnection::new(self.config.clone(), self.name.clone())
            .map_err(|e| Failure::Network(format!("TLS setup: {e}")))?;
        while tls.is_handshaking() {
            tls.complete_io(&mut tcp).map_err(|e| {
                let certificate = e
                    .get_ref()
                    .and_then(|inner| inner.downcast_ref::<rustls::Error>())
                    .is_some_and(|inner| matches!(inner, rustls::Error::InvalidCertificate(_)));
                let hint = if certificate {
                    " (--ca-file trusts a private CA or a self-signed certificate; --tls-name \
                     sets the name to check)"
                } else {
                    ""
                };
                Failure::Network(format!("TLS handshake failed: {e}{hint}"))
            })?;
        }
        let version = tls
            .protocol_version()
            .map(|v| format!("{v:?}"))
            .unwrap_or_default();
        tracing::debug!(version, "TLS established");
        Ok(Transport::Tls(Box::new(rustls::StreamOwned::new(tls, tcp))))
    }
}

/// Describes an I/O error on the connection.
fn network(what: &str, e: &io::Error) -> Failure {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
            Failure::Network(format!("{what}: the server did not answer in time"))
        }
        _ => Failure::Network(format!("{what}: {e}")),
    }
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
        let target = format!("{host}:{port}");
        let addrs = (host, port)
            .to_socket_addrs()
            .map_err(|e| Failure::Network(format!("cannot resolve {host}: {e}")))?;
        let mut last = None;
        let mut tcp = None;
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, timeout) {
                Ok(stream) => {
                    tcp = Some(stream);
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        let tcp = match (tcp, last) {
            (Some(tcp), _) => tcp,
            (None, Some(e)) => return Err(network(&format!("cannot connect to {target}"), &e)),
            (None, None) => return Err(Failure::Network(format!("{host} has no address"))),
        };
        tcp.set_read_timeout(Some(timeout))
            .and_then(|()| tcp.set_write_timeout(Some(timeout)))
            .and_then(|()| tcp.set_nodelay(true))
            .map_err(|e| network("socket setup", &e))?;
        tracing::debug!(%target, "connected");
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
        if let Transport::Tls(stream) = &mut self.transport {
            stream.conn.send_close_notify();
            let _ = stream.flush();
        }
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
