//! One POP3 connection: moves bytes and time between the socket (plain,
//! implicit TLS, or upgraded by STLS) and a `ServerSession`, answers its
//! logins from the user database, and lets a `MaildropServer` answer its
//! storage events from the account's maildrop.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mailwire::mailbox::{AccountName, Pop3Config, Pop3Maildrop, Store, StoreError};
use mailwire::pop3::{
    Expire, LoginHandle, LoginRejection, LoginRequest, MaildropServer, ServerConfig, ServerEvent,
    ServerSession, Tls,
};
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

    fn socket(&self) -> &TcpStream {
        match self {
            Transport::Plain(s) => s,
            Transport::Tls(s) => &s.sock,
        }
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
    /// No command within the idle timeout (RFC 1939's autologout).
    IdleTimeout,
}

/// Serves one connection until it ends. Whatever happens, a session that
/// did not QUIT commits nothing: dropping its `MaildropServer` releases the
/// maildrop.
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
        autologout: Some(ctx.idle_timeout),
        ..ServerConfig::default()
    };
    let mut session = ServerSession::new(config);
    let mut store: MaildropServer<Pop3Maildrop> = MaildropServer::new();
    let mut buf = vec![0u8; 16 * 1024];
    let mut idle = false;
    let ending = loop {
        session.handle_timeout(Instant::now());
        let mut start_tls = false;
        loop {
            let mut progressed = false;
            while let Some(event) = store.poll_event(&mut session) {
                progressed = true;
                match event {
                    ServerEvent::Login(login) => self::login(ctx, &mut session, &mut store, login, peer),
                    ServerEvent::StartTls => start_tls = true,
                    ServerEvent::Closed { committed } => {
                        tracing::info!(committed, "session closed");
                    }
                    _ => {}
                }
            }
            while let Some(bytes) = store.poll_transmit(&mut session) {
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
            socket.set_read_timeout(Some(ctx.idle_timeout))?;
            transport =
                Transport::handshake(&ctx.tls, socket).map_err(|e| timeout_or(e, "STLS handshake"))?;
            tracing::debug!("TLS established after STLS");
            session.tls_established();
            continue;
        }
        if session.is_closed() {
            break if idle { Ending::IdleTimeout } else { Ending::Closed };
        }
        if !session.wants_input() {
            return Err(io::Error::other("the client sent too much without reading"));
        }
        // Wait for the client until the session's next deadline.
        let wait = session.poll_timeout().map_or(ctx.idle_timeout, |deadline| {
            deadline.saturating_duration_since(Instant::now())
        });
        transport
            .socket()
            .set_read_timeout(Some(wait.max(Duration::from_millis(1))))?;
        let n = match transport.read(&mut buf) {
            Ok(n) => n,
            Err(e) if is_timeout(&e) => {
                // The session decides whether that was the autologout.
                session.handle_timeout(Instant::now());
                idle = session.is_closed();
                continue;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            break Ending::ClientLeft;
        }
        session.receive(&buf[..n]);
    };
    transport.close();
    // Dropping the store of a session that did not QUIT releases the
    // maildrop without committing anything.
    drop(store);
    Ok(ending)
}

/// Answers a login request: checks the credentials, then locks and lists
/// the account's maildrop.
fn login(
    ctx: &Context,
    session: &mut ServerSession,
    store: &mut MaildropServer<Pop3Maildrop>,
    login: LoginHandle,
    peer: SocketAddr,
) {
    let request = login.request();
    let shown_user = String::from_utf8_lossy(request.user()).escape_debug().to_string();
    let reject = |session: &mut ServerSession, login: LoginHandle, why: LoginRejection| {
        // The handle is the pending login of this session.
        let _ = session.reject_login(login, why);
    };
    let (authcid, password, method): (&[u8], &[u8], &str) = match request {
        LoginRequest::User { user, password } => (user.as_inner(), password.expose(), "USER"),
        // Logging in as someone else (a different authzid) is not offered.
        LoginRequest::Plain(c) if c.authzid.is_empty() || c.authzid == c.authcid => {
            (&c.authcid, c.expose_password(), "AUTH PLAIN")
        }
        _ => {
            tracing::warn!(user = %shown_user, %peer, "login refused: method not offered");
            return reject(session, login, LoginRejection::BadCredentials);
        }
    };
    let Some(name) = ctx.users.verify(authcid, password) else {
        tracing::warn!(user = %shown_user, %peer, method, "authentication failed");
        std::thread::sleep(ctx.auth_failure_delay);
        return reject(session, login, LoginRejection::BadCredentials);
    };
    let account = AccountName::new(name)
        .map_err(|e| e.to_string())
        .and_then(|n| open_account(&ctx.store, &n).map_err(|e| e.to_string()));
    let account = match account {
        Ok(a) => a,
        Err(e) => {
            tracing::error!(user = %shown_user, error = %e, "cannot open the account");
            return reject(session, login, LoginRejection::TemporaryFailure);
        }
    };
    // The handle is the pending login of this session.
    let _ = store.accept_login(session, login, account.maildrop(ctx.pop3.clone()));
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
