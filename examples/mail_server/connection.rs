//! One POP3 connection: moves bytes between the socket (plain, implicit
//! TLS, or upgraded by STLS) and a `ServerSession`, and answers its login
//! requests from the user database and the store.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use mailwire::mailbox::{AccountName, Pop3Config, Pop3Maildrop, Store, StoreError};
use mailwire::pop3::{Expire, LoginRejection, LoginRequest, ServerConfig, ServerEvent, ServerSession, Tls};
use rustls::{ServerConnection, StreamOwned};

use crate::users::Users;

/// What every connection shares.
pub struct Context {
    /// The mailbox store.
    pub store: Store,
    /// Who may log in.
    pub users: Users,
    /// The POP3 view's settings (lock policy, UIDL format).
    pub pop3: Pop3Config,
    /// TLS, for POP3S and STLS.
    pub tls: Arc<rustls::ServerConfig>,
    /// USER/PASS and AUTH PLAIN without TLS.
    pub allow_plaintext_auth: bool,
    /// Close a connection after this long without a command.
    pub idle_timeout: Duration,
    /// Wait this long before answering a failed login.
    pub auth_failure_delay: Duration,
}

/// How the connection started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Port {
    /// Plain POP3, with STLS.
    Pop3,
    /// POP3 in implicit TLS (RFC 8314).
    Pop3s,
}

/// The socket, with or without TLS.
enum Transport {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ServerConnection, TcpStream>>),
}

impl Transport {
    /// Runs the TLS handshake as the server over `socket`.
    fn handshake(config: &Arc<rustls::ServerConfig>, mut socket: TcpStream) -> io::Result<Transport> {
        let mut conn = ServerConnection::new(config.clone()).map_err(io::Error::other)?;
        while conn.is_handshaking() {
            conn.complete_io(&mut socket)?;
        }
        Ok(Transport::Tls(Box::new(StreamOwned::new(conn, socket))))
    }

    fn is_tls(&self) -> bool {
        matches!(self, Transport::Tls(_))
    }

    /// Ends TLS with a close_notify, then the TCP connection.
    fn close(&mut self) {
        if let Transport::Tls(s) = self {
            s.conn.send_close_notify();
            let _ = s.conn.complete_io(&mut s.sock);
        }
        let socket = match self {
            Transport::Plain(s) => s,
            Transport::Tls(s) => &mut s.sock,
        };
        let _ = socket.shutdown(Shutdown::Both);
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

/// How a connection ended.
#[derive(Debug)]
pub enum Ending {
    /// The session closed (after QUIT, or after a failure it reported).
    Closed,
    /// The client closed the connection.
    ClientLeft,
    /// No command within the idle timeout.
    IdleTimeout,
}

/// Serves one connection until it ends. Whatever happens, a session that
/// did not QUIT commits nothing: dropping it releases the maildrop.
pub fn serve(ctx: &Context, socket: TcpStream, port: Port, peer: SocketAddr) -> io::Result<Ending> {
    socket.set_read_timeout(Some(ctx.idle_timeout))?;
    socket.set_write_timeout(Some(ctx.idle_timeout))?;
    socket.set_nodelay(true)?;
    let mut transport = match port {
        Port::Pop3 => Transport::Plain(socket),
        Port::Pop3s => Transport::handshake(&ctx.tls, socket).map_err(|e| timeout_or(e, "TLS handshake"))?,
    };
    let config = ServerConfig {
        greeting: "mailwire POP3 server ready".into(),
        tls: if transport.is_tls() {
            Tls::Active
        } else {
            Tls::Available
        },
        allow_plaintext_auth: ctx.allow_plaintext_auth,
        implementation: Some(format!("mailwire {}", env!("CARGO_PKG_VERSION"))),
        // The server never deletes mail on its own.
        expire: Some(Expire::Never),
        utf8: true,
        ..ServerConfig::default()
    };
    let mut session: ServerSession<Pop3Maildrop> = ServerSession::new(config);
    let mut buf = vec![0u8; 16 * 1024];
    let ending = loop {
        let mut start_tls = false;
        loop {
            let mut progressed = false;
            while let Some(event) = session.poll_event() {
                progressed = true;
                match event {
                    ServerEvent::Login(request) => login(ctx, &mut session, &request, peer),
                    ServerEvent::StartTls => start_tls = true,
                    ServerEvent::Closed { committed } => {
                        tracing::info!(committed, "session closed");
                    }
                }
            }
            while let Some(bytes) = session.poll_transmit() {
                progressed = true;
                transport.write_all(&bytes).map_err(|e| timeout_or(e, "write"))?;
            }
            if !progressed {
                break;
            }
        }
        transport.flush().map_err(|e| timeout_or(e, "write"))?;
        if start_tls {
            let Transport::Plain(socket) = transport else {
                return Err(io::Error::other("STLS on a TLS connection"));
            };
            transport =
                Transport::handshake(&ctx.tls, socket).map_err(|e| timeout_or(e, "STLS handshake"))?;
            tracing::debug!("TLS established after STLS");
            session.tls_established();
            continue;
        }
        if session.is_closed() {
            break Ending::Closed;
        }
        if !session.wants_input() {
            return Err(io::Error::other("the client sent too much without reading"));
        }
        let n = match transport.read(&mut buf) {
            Ok(n) => n,
            Err(e) if is_timeout(&e) => break Ending::IdleTimeout,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            break Ending::ClientLeft;
        }
        session.receive(&buf[..n]);
    };
    transport.close();
    // Dropping a session that did not QUIT releases the maildrop without
    // committing anything.
    drop(session);
    Ok(ending)
}

/// Answers a login request.
fn login(ctx: &Context, session: &mut ServerSession<Pop3Maildrop>, request: &LoginRequest, peer: SocketAddr) {
    let shown_user = String::from_utf8_lossy(request.user()).escape_debug().to_string();
    let (authcid, password, method): (&[u8], &[u8], &str) = match request {
        LoginRequest::User { user, password } => (user.as_inner(), password.expose(), "USER"),
        // Logging in as someone else (a different authzid) is not offered.
        LoginRequest::Plain(c) if c.authzid.is_empty() || c.authzid == c.authcid => {
            (&c.authcid, c.expose_password(), "AUTH PLAIN")
        }
        _ => {
            tracing::warn!(user = %shown_user, %peer, "login refused: method not offered");
            return session.reject_login(LoginRejection::BadCredentials);
        }
    };
    let Some(name) = ctx.users.verify(authcid, password) else {
        tracing::warn!(user = %shown_user, %peer, method, "authentication failed");
        std::thread::sleep(ctx.auth_failure_delay);
        return session.reject_login(LoginRejection::BadCredentials);
    };
    let account = AccountName::new(name)
        .map_err(|e| e.to_string())
        .and_then(|n| open_account(&ctx.store, &n).map_err(|e| e.to_string()));
    let account = match account {
        Ok(a) => a,
        Err(e) => {
            tracing::error!(user = %shown_user, error = %e, "cannot open the account");
            return session.reject_login(LoginRejection::TemporaryFailure);
        }
    };
    let maildrop = account.maildrop(ctx.pop3.clone());
    // A login is pending, so the session takes the maildrop.
    let _ = session.accept_login(maildrop);
    if session.is_authenticated() {
        tracing::info!(user = %shown_user, method, "logged in");
    } else {
        tracing::warn!(user = %shown_user, method, "login refused: maildrop unavailable (in use?)");
    }
}

/// The user's account, created on first login as Dovecot creates a Maildir.
fn open_account(store: &Store, name: &AccountName) -> Result<mailwire::mailbox::Account, StoreError> {
    match store.account(name) {
        Err(StoreError::NoSuchAccount(_)) => match store.create_account(name) {
            // Created meanwhile by a concurrent first login.
            Err(StoreError::AccountExists(_)) => store.account(name),
            other => other,
        },
        other => other,
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
}

/// The error with what was being done; timeouts become `TimedOut`.
fn timeout_or(e: io::Error, what: &str) -> io::Error {
    if is_timeout(&e) {
        io::Error::new(io::ErrorKind::TimedOut, format!("{what} timed out"))
    } else {
        io::Error::new(e.kind(), format!("{what}: {e}"))
    }
}
