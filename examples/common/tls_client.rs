//! The client side of a blocking connection, shared by the example
//! clients: TCP with deadlines, and TLS with rustls (from the start or
//! after STARTTLS/STLS).
#![allow(dead_code)] // Each client uses part of it.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

/// Why a connection could not be made.
#[derive(Debug)]
pub enum ConnectError {
    /// Unusable local input (a CA file, a server name): the user's to fix.
    Usage(String),
    /// The network or TLS.
    Network(String),
}

/// A plain or TLS byte stream.
pub enum Transport {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP.
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Transport {
    /// Ends a TLS session politely (close_notify); nothing for plain TCP.
    pub fn close(&mut self) {
        if let Transport::Tls(stream) = self {
            stream.conn.send_close_notify();
            let _ = stream.flush();
        }
    }

    /// Reads what one read of the socket brings (within the socket's
    /// timeout): plaintext into `buf` (0 at the end of the stream), or,
    /// with TLS, an error of kind `Interrupted` when the records it
    /// brought held none (a session ticket, part of a record), so that the
    /// caller looks at its own deadline before the next read. (The TLS
    /// stream's `read` reads the socket until plaintext comes, each read
    /// with a fresh timeout: a server sending records without plaintext,
    /// or a record an octet at a time, held it for good.)
    pub fn read_step(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Transport::Tls(stream) = self else {
            return self.read(buf);
        };
        let (conn, sock) = (&mut stream.conn, &mut stream.sock);
        match conn.reader().read(buf) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            other => return other,
        }
        if conn.read_tls(sock)? == 0 {
            return Ok(0);
        }
        let processed = conn.process_new_packets();
        // Alerts, and answers to what the server asked (a key update).
        while conn.wants_write() {
            conn.write_tls(sock)?;
        }
        processed.map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        match conn.reader().read(buf) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Err(io::Error::new(
                io::ErrorKind::Interrupted,
                "TLS records without data",
            )),
            other => other,
        }
    }

    /// The TCP socket underneath (for timeouts).
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Transport::Plain(s) => s,
            Transport::Tls(s) => s.get_ref(),
        }
    }
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
    hint: &'static str,
}

impl TlsSetup {
    /// Trusts the certificates in `ca_file`, or the system's if `None`, and
    /// checks the certificate against `name`. `hint` is added to the error
    /// of a certificate that does not verify (which options help).
    pub fn new(ca_file: Option<&Path>, name: &str, hint: &'static str) -> Result<TlsSetup, ConnectError> {
        let mut roots = rustls::RootCertStore::empty();
        match ca_file {
            Some(path) => {
                let bad = |e: &dyn std::fmt::Display| {
                    ConnectError::Usage(format!("--ca-file {}: {e}", path.display()))
                };
                let certs = CertificateDer::pem_file_iter(path)
                    .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
                    .map_err(|e| bad(&e))?;
                for cert in certs {
                    roots.add(cert).map_err(|e| bad(&e))?;
                }
                if roots.is_empty() {
                    return Err(bad(&"no certificate in it"));
                }
            }
            None => {
                let found = rustls_native_certs::load_native_certs();
                for error in &found.errors {
                    tracing::debug!("system certificates: {error}");
                }
                let (added, _ignored) = roots.add_parsable_certificates(found.certs);
                if added == 0 {
                    return Err(ConnectError::Network(
                        "no trusted certificate found on this system: give --ca-file".into(),
                    ));
                }
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| ConnectError::Network(format!("TLS setup: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let name = ServerName::try_from(name.to_owned())
            .map_err(|_| ConnectError::Usage(format!("{name:?} is not a valid TLS server name")))?;
        Ok(TlsSetup {
            config: Arc::new(config),
            name,
            hint,
        })
    }

    /// Runs the handshake on `tcp`, within the socket's read timeout in
    /// all: a server that sends its handshake an octet at a time, each
    /// before a read would time out, held the client for good.
    pub fn wrap(&self, mut tcp: TcpStream) -> Result<Transport, ConnectError> {
        let mut tls = rustls::ClientConnection::new(self.config.clone(), self.name.clone())
            .map_err(|e| ConnectError::Network(format!("TLS setup: {e}")))?;
        let limit = tcp.read_timeout().ok().flatten();
        let deadline = limit.map(|l| Instant::now() + l);
        let shaken = handshake(&mut tls, &mut tcp, deadline);
        let _ = tcp.set_read_timeout(limit);
        shaken.map_err(|e| {
            if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) {
                return ConnectError::Network("the server did not finish the TLS handshake in time".into());
            }
            let inner = e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>());
            let certificate = matches!(inner, Some(rustls::Error::InvalidCertificate(_)));
            // Plain text read as TLS records (a greeting, `+OK`...).
            let plain_text = matches!(inner, Some(rustls::Error::InvalidMessage(_)));
            let hint = if certificate {
                self.hint
            } else if plain_text {
                " (the server answered without TLS: this port expects plain text first)"
            } else {
                ""
            };
            ConnectError::Network(format!("TLS handshake failed: {e}{hint}"))
        })?;
        let version = tls
            .protocol_version()
            .map(|v| format!("{v:?}"))
            .unwrap_or_default();
        tracing::debug!(version, "TLS established");
        Ok(Transport::Tls(Box::new(rustls::StreamOwned::new(tls, tcp))))
    }
}

/// Drives the handshake on `tcp` one socket read at a time, each within
/// what is left until `deadline`.
fn handshake(
    tls: &mut rustls::ClientConnection,
    tcp: &mut TcpStream,
    deadline: Option<Instant>,
) -> io::Result<()> {
    loop {
        while tls.wants_write() {
            tls.write_tls(tcp)?;
        }
        if !tls.is_handshaking() {
            return Ok(());
        }
        if !tls.wants_read() {
            return Err(io::Error::other("the TLS handshake stalled"));
        }
        if let Some(deadline) = deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the server did not finish it in time",
                ));
            }
            tcp.set_read_timeout(Some(left))?;
        }
        if tls.read_tls(tcp)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection",
            ));
        }
        if let Err(e) = tls.process_new_packets() {
            // The alert that tells the server why.
            let _ = tls.write_tls(tcp);
            return Err(io::Error::new(io::ErrorKind::InvalidData, e));
        }
    }
}

/// Describes an I/O error on the connection.
pub fn network_error(what: &str, e: &io::Error) -> ConnectError {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
            ConnectError::Network(format!("{what}: the server did not answer in time"))
        }
        _ => ConnectError::Network(format!("{what}: {e}")),
    }
}

/// Connects to `host:port` (each address in turn), with `timeout` for the
/// connection and for each read and write.
pub fn connect_tcp(host: &str, port: u16, timeout: Duration) -> Result<TcpStream, ConnectError> {
    let target = format!("{host}:{port}");
    let addrs = (host, port)
        .to_socket_addrs()
        .map_err(|e| ConnectError::Network(format!("cannot resolve {host}: {e}")))?;
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
        (None, Some(e)) => return Err(network_error(&format!("cannot connect to {target}"), &e)),
        (None, None) => return Err(ConnectError::Network(format!("{host} has no address"))),
    };
    tcp.set_read_timeout(Some(timeout))
        .and_then(|()| tcp.set_write_timeout(Some(timeout)))
        .and_then(|()| tcp.set_nodelay(true))
        .map_err(|e| network_error("socket setup", &e))?;
    tracing::debug!(%target, "connected");
    Ok(tcp)
}

/// Whether `host` names this machine (a loopback address or `localhost`),
/// where plaintext does not cross a network.
pub fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Splits `HOST:PORT`, with `[v6]:PORT` for IPv6 addresses.
pub fn split_server(server: &str) -> Result<(String, u16), String> {
    let bad = || format!("{server:?} is not HOST:PORT ([ADDRESS]:PORT for IPv6)");
    let (host, port) = server.rsplit_once(':').ok_or_else(bad)?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if host.is_empty() || host.contains(':') && !server.starts_with('[') {
        return Err(bad());
    }
    let port: u16 = port.parse().map_err(|_| bad())?;
    if port == 0 {
        return Err(bad());
    }
    Ok((host.to_owned(), port))
}
