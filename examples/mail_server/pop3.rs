//! POP3 over a [`Connection`]: moves bytes and time between the connection
//! and a `ServerSession`, answers its logins from the user database and
//! its storage events from the account's maildrop, on the blocking pool.

use std::io::{self, Read};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use mailwire::mailbox::Pop3Maildrop;
use mailwire::pop3::{
    CommitHandle, Expire, LoginHandle, LoginRejection, LoginRequest, Maildrop, MaildropError, MessageInfo,
    ResponseCode, RetrieveHandle, ServerConfig, ServerEvent, ServerSession, StatusLine, Tls,
};

use crate::connection::{Connection, Ending, Input};
use crate::server::{Context, Refusal};

/// What a client on the plain POP3 port is told when the server is full:
/// `-ERR [SYS/TEMP]` in place of the greeting (RFC 3206: try later).
pub fn too_many_connections() -> Vec<u8> {
    let mut line = Vec::new();
    StatusLine::err_with(ResponseCode::SysTemp, "Too many connections, try later").encode(&mut line);
    line
}

/// Serves one connection until it ends. Whatever happens, a session that
/// did not QUIT commits nothing: its maildrop is released unchanged.
pub async fn serve(ctx: &Arc<Context>, mut conn: Connection, peer: SocketAddr) -> io::Result<Ending> {
    let config = ServerConfig {
        greeting: "mailwire POP3 server ready".into(),
        tls: if conn.is_tls() {
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
    let mut storage = Storage::default();
    let ending = drive(ctx, &mut conn, &mut session, &mut storage, peer).await;
    conn.close().await;
    storage.release(ctx).await;
    ending
}

/// The loop: answer the session's events, send what it has to send
/// (streaming a message from storage), then wait for the client, the
/// session's deadline or a stop.
async fn drive(
    ctx: &Arc<Context>,
    conn: &mut Connection,
    session: &mut ServerSession,
    storage: &mut Storage,
    peer: SocketAddr,
) -> io::Result<Ending> {
    let mut buf = vec![0u8; 16 * 1024];
    let mut idle = false;
    // Logged in by then, or the connection ends (POP3 has no way to say
    // so but closing); counted from the accept, so a POP3S handshake is
    // part of it.
    let login_deadline = conn.accepted() + ctx.login_timeout;
    loop {
        session.handle_timeout(Instant::now());
        let mut start_tls = false;
        loop {
            let mut progressed = false;
            while let Some(event) = session.poll_event() {
                progressed = true;
                match event {
                    ServerEvent::Login(login) => storage.login(ctx, conn, session, login, peer).await?,
                    ServerEvent::Retrieve(message) => storage.open(ctx, session, message).await?,
                    ServerEvent::Commit(commit) => storage.commit(ctx, session, commit).await?,
                    ServerEvent::StartTls => start_tls = true,
                    ServerEvent::Closed { committed } => {
                        tracing::info!(committed, "session closed");
                        if !committed {
                            storage.release(ctx).await;
                        }
                    }
                    _ => {}
                }
            }
            conn.set_login_deadline((!session.is_authenticated()).then_some(login_deadline));
            while let Some(bytes) = session.poll_transmit() {
                progressed = true;
                if session.is_closed() {
                    // The answer to QUIT goes out even during a stop.
                    conn.write_last(&bytes).await?;
                } else {
                    conn.write_all(&bytes).await?;
                }
            }
            if storage.feed(ctx, session).await? {
                progressed = true;
            }
            if !progressed {
                break;
            }
        }
        if start_tls {
            // The session dropped what came after STLS; the rest goes to
            // the handshake.
            conn.upgrade().await?;
            tracing::debug!("TLS established after STLS");
            session.tls_established();
            continue;
        }
        if session.is_closed() {
            return Ok(if idle { Ending::IdleTimeout } else { Ending::Closed });
        }
        if !session.wants_input() {
            return Err(io::Error::other("the client sent too much without reading"));
        }
        let deadline = match (session.poll_timeout(), session.is_authenticated()) {
            (Some(at), false) => Some(at.min(login_deadline)),
            (None, false) => Some(login_deadline),
            (at, true) => at,
        };
        match conn.read(&mut buf, deadline).await? {
            Input::Data(n) => session.receive(&buf[..n]),
            Input::Eof => return Ok(Ending::ClientLeft),
            Input::Deadline => {
                if !session.is_authenticated() && Instant::now() >= login_deadline {
                    tracing::info!(%peer, "no login in time, closing");
                    return Ok(Ending::IdleTimeout);
                }
                // The session decides whether that was the autologout.
                session.handle_timeout(Instant::now());
                idle = session.is_closed();
            }
            Input::Stop => return Ok(Ending::Stopped),
        }
    }
}

/// The connection's side of the store: the account's maildrop once
/// locked, and the message being sent. Every call into storage runs on
/// the blocking pool; the maildrop moves there and back.
#[derive(Default)]
struct Storage {
    /// The locked maildrop; `None` before login and once released or
    /// committed.
    maildrop: Option<Pop3Maildrop>,
    sending: Option<Sending>,
}

/// A message being read from storage and streamed into the session.
struct Sending {
    handle: RetrieveHandle,
    message: Box<dyn Read + Send>,
    buf: Vec<u8>,
    /// The first piece, read in the job that opened the message (one trip
    /// to the blocking pool fewer per RETR; a small message is whole in
    /// it).
    ready: Option<io::Result<(usize, bool)>>,
}

/// What checking a login found, on the blocking pool.
enum Checked {
    /// APOP, another SASL mechanism, or acting as another user.
    NotOffered,
    BadCredentials,
    NoAccount(String),
    Denied(crate::users::Denied),
    Locked(Pop3Maildrop, Vec<MessageInfo>),
    Unavailable(MaildropError),
}

impl Storage {
    /// Answers a login request: checks the credentials, then locks and
    /// lists the account's maildrop.
    async fn login(
        &mut self,
        ctx: &Arc<Context>,
        conn: &mut Connection,
        session: &mut ServerSession,
        login: LoginHandle,
        peer: SocketAddr,
    ) -> io::Result<()> {
        self.release(ctx).await;
        let user = String::from_utf8_lossy(login.user()).escape_debug().to_string();
        let method = match login.request() {
            LoginRequest::User { .. } => "USER",
            LoginRequest::Plain(_) => "AUTH PLAIN",
            LoginRequest::Apop { .. } => "APOP",
            _ => "SASL",
        };
        let request = login.request().clone();
        let job_ctx = Arc::clone(ctx);
        let ip = peer.ip();
        let account = String::from_utf8_lossy(login.user()).into_owned();
        // The address's turn in the checks first, then its wait: an
        // attempt waiting for a turn reserves no time (see `penalty`).
        let turn = conn.before_login_deadline(ctx.checks.turn(ip)).await?;
        let wait = ctx.penalties.wait(ip, &account);
        if !wait.is_zero() {
            tracing::info!(%user, %peer, ?wait, "earlier failed logins: waiting before the check");
            conn.pause(wait).await?;
        }
        let checked = conn
            .before_login_deadline(ctx.hashing.run(move || check_login(&job_ctx, &request, ip)))
            .await??;
        drop(turn);
        // The handle is the pending login of this session, so answering
        // cannot fail.
        match checked {
            Checked::NotOffered => {
                tracing::warn!(%user, %peer, method, "login refused: method not offered");
                let _ = session.reject_login(login, LoginRejection::BadCredentials);
            }
            Checked::BadCredentials => {
                ctx.penalties.failed(ip, &account);
                tracing::warn!(%user, %peer, method, "authentication failed");
                conn.pause(ctx.auth_failure_delay).await?;
                let _ = session.reject_login(login, LoginRejection::BadCredentials);
            }
            Checked::NoAccount(error) => {
                tracing::error!(%user, %error, "cannot open the account");
                let _ = session.reject_login(login, LoginRejection::TemporaryFailure);
            }
            Checked::Denied(crate::users::Denied::NoLogin(reason)) => {
                ctx.penalties.failed(ip, &account);
                tracing::warn!(%user, %peer, %reason, "login refused: nologin");
                conn.pause(ctx.auth_failure_delay).await?;
                let _ = session.reject_login(login, LoginRejection::PermanentFailure);
            }
            Checked::Denied(crate::users::Denied::Network) => {
                ctx.penalties.failed(ip, &account);
                tracing::warn!(%user, %peer, "login refused: not from a network allow_nets names");
                conn.pause(ctx.auth_failure_delay).await?;
                let _ = session.reject_login(login, LoginRejection::BadCredentials);
            }
            Checked::Locked(maildrop, messages) => {
                ctx.penalties.succeeded(&account);
                if session.accept_login(login, messages).is_ok() {
                    self.maildrop = Some(maildrop);
                    tracing::info!(%user, method, "logged in");
                }
            }
            Checked::Unavailable(error) => {
                tracing::warn!(%user, method, %error, "login refused: maildrop unavailable (in use?)");
                let _ = session.reject_login(login, LoginRejection::from(&error));
            }
        }
        Ok(())
    }

    /// Opens the message of a RETR or TOP; [`Storage::feed`] streams it.
    async fn open(
        &mut self,
        ctx: &Arc<Context>,
        session: &mut ServerSession,
        handle: RetrieveHandle,
    ) -> io::Result<()> {
        let Some(mut maildrop) = self.maildrop.take() else {
            let _ = session.message_failed(handle, MaildropError::Permanent("no maildrop locked".into()));
            return Ok(());
        };
        let number = handle.message();
        let chunk = session.config().transmit_chunk.max(512);
        let (maildrop, opened) = ctx
            .blocking
            .run(move || {
                let opened = maildrop.open(number).map(|mut message| {
                    let mut buf = vec![0; chunk];
                    let ready = fill(&mut message, &mut buf);
                    (message, buf, ready)
                });
                (maildrop, opened)
            })
            .await?;
        self.maildrop = Some(maildrop);
        match opened {
            Ok((message, buf, ready)) => {
                self.sending = Some(Sending {
                    handle,
                    message,
                    buf,
                    ready: Some(ready),
                })
            }
            Err(e) => {
                let _ = session.message_failed(handle, e);
            }
        }
        Ok(())
    }

    /// Reads the next piece of the message being sent into the session,
    /// if it takes one now; false if there was nothing to do. One piece
    /// at a time, so a connection holds at most one piece and the
    /// session's bounded output.
    async fn feed(&mut self, ctx: &Arc<Context>, session: &mut ServerSession) -> io::Result<bool> {
        let Some(sending) = self.sending.take() else {
            return Ok(false);
        };
        if session.top_complete() {
            let _ = session.message_end(sending.handle);
            return Ok(true);
        }
        if !session.wants_message_data() {
            self.sending = Some(sending);
            return Ok(false);
        }
        let chunk = session.config().transmit_chunk.max(512);
        let Sending {
            handle,
            mut message,
            mut buf,
            ready,
        } = sending;
        let (message, buf, read) = match ready {
            Some(read) => (message, buf, read),
            None => {
                ctx.blocking
                    .run(move || {
                        buf.resize(chunk, 0);
                        let read = fill(&mut message, &mut buf);
                        (message, buf, read)
                    })
                    .await?
            }
        };
        // The handle is the pending request: answering cannot fail.
        match read {
            Ok((n, ended)) => {
                let _ = session.message_data(&handle, &buf[..n]);
                if ended {
                    let _ = session.message_end(handle);
                } else {
                    self.sending = Some(Sending {
                        handle,
                        message,
                        buf,
                        ready: None,
                    });
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot read a message");
                let _ = session.message_failed(handle, MaildropError::Temporary(e.to_string()));
            }
        }
        Ok(true)
    }

    /// QUIT in the TRANSACTION state: removes the deleted messages, all or
    /// none, and releases the maildrop either way.
    async fn commit(
        &mut self,
        ctx: &Arc<Context>,
        session: &mut ServerSession,
        handle: CommitHandle,
    ) -> io::Result<()> {
        self.sending = None;
        let Some(mut maildrop) = self.maildrop.take() else {
            let _ = session.commit_failed(handle, MaildropError::Permanent("no maildrop locked".into()));
            return Ok(());
        };
        let deleted = handle.deleted().to_vec();
        let retrieved = handle.retrieved().to_vec();
        let committed = ctx
            .blocking
            .run(move || {
                let committed = maildrop.commit(&deleted, &retrieved);
                if committed.is_err() {
                    maildrop.release();
                }
                committed
            })
            .await?;
        match committed {
            Ok(()) => {
                let _ = session.commit_done(handle);
            }
            Err(e) => {
                tracing::error!(error = %e, "commit failed; nothing was removed");
                let _ = session.commit_failed(handle, e);
            }
        }
        Ok(())
    }

    /// Releases the maildrop, if locked, without changing anything.
    async fn release(&mut self, ctx: &Arc<Context>) {
        self.sending = None;
        if let Some(mut maildrop) = self.maildrop.take() {
            // Should the job fail, dropping the maildrop releases it too.
            let _ = ctx.blocking.run(move || maildrop.release()).await;
        }
    }
}

/// Reads until `buf` is full or the message ends: how many bytes, and
/// whether it ended. One job on the blocking pool per piece, not per
/// `read` call.
fn fill(message: &mut impl Read, buf: &mut [u8]) -> io::Result<(usize, bool)> {
    let mut filled = 0;
    while filled < buf.len() {
        match message.read(&mut buf[filled..]) {
            Ok(0) => return Ok((filled, true)),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok((filled, false))
}

/// Checks the credentials of a login and locks the account's maildrop.
/// Blocking: password hashes are slow on purpose, and storage is read.
fn check_login(ctx: &Context, request: &LoginRequest, peer: std::net::IpAddr) -> Checked {
    let (authcid, password): (&[u8], &[u8]) = match request {
        LoginRequest::User { user, password } => (user.as_inner(), password.expose()),
        // Logging in as someone else (a different authzid) is not offered.
        LoginRequest::Plain(c) if c.authzid.is_empty() || c.authzid == c.authcid => {
            (&c.authcid, c.expose_password())
        }
        _ => return Checked::NotOffered,
    };
    let mut maildrop = match ctx.authenticate(authcid, password, peer) {
        Ok((account, _)) => account.maildrop(ctx.pop3.clone()),
        Err(Refusal::BadCredentials) => return Checked::BadCredentials,
        Err(Refusal::NoAccount(e)) => return Checked::NoAccount(e),
        Err(Refusal::Denied(why)) => return Checked::Denied(why),
    };
    match maildrop.lock() {
        Ok(messages) => Checked::Locked(maildrop, messages),
        Err(e) => Checked::Unavailable(e),
    }
}
