//! IMAP over a [`Connection`]: moves bytes and time between the connection
//! and a `mailwire::imap::server::ServerSession`, answers its logins from
//! the user database and its commands from the mailbox model, on the
//! blocking pool.
//!
//! The session keeps the protocol (states, tags, literals, IDLE, the
//! client's message numbers and when EXPUNGE may be sent); `exec` runs
//! each command against the store and says what to send; `fetch` renders
//! FETCH items from the MIME analysis. Changes made elsewhere (another
//! session, a POP3 QUIT, another process on the same Maildir) are read
//! from the store after every command and, during IDLE, every
//! [`IDLE_POLL`].

mod append;
mod cache;
mod exec;
mod fetch;
mod fetching;
mod mailboxes;
mod notify;
mod search;

pub use self::cache::StructureCache;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mailwire::imap::server::{
    AppendRequest, AuthRequest, CatenatePart, CommandRequest, Credentials, Greeting, LiteralRefusal,
    LoginRejection, NonSyncLiterals, ServerConfig, ServerEvent, ServerSession, Tls,
};
use mailwire::imap::{
    Capability, CommandBody, DecoderConfig, IString, IdParam, IdParams, NString, Quoted, RespText, Status,
};
use mailwire::mailbox::{Flags, InternalDate, MailboxName, StoreError, Upload};

use self::exec::{Answer, Info, Outcome, Streamed, Work};
use self::fetching::FileLiteral;
use crate::connection::{Connection, Ending, Input};
use crate::server::{Context, Refusal};
use crate::watch::Subscription;

/// How often a session in IDLE reads the store's changes when the account
/// cannot be watched.
const IDLE_POLL: Duration = Duration::from_millis(500);

/// How often it reads them anyway when the account is watched: a change
/// the watch missed (a watch lost to a race, a network file system)
/// arrives late, not never. Rare, since every idle session does it: with
/// 10,000 sessions, every 10 s kept both CPUs of the benchmark machine busy.
const WATCHED_POLL: Duration = Duration::from_secs(5 * 60);

/// About how many octets of message content one FETCH job renders before
/// its answers are sent.
const FETCH_BATCH: usize = 1024 * 1024;

/// How long an APPEND waits for room in the upload budget before it is
/// refused with `NO [UNAVAILABLE]`.
const UPLOAD_WAIT: Duration = Duration::from_secs(30);

/// The piece of a streamed message read at a time.
const STREAM_CHUNK: usize = 64 * 1024;

/// What a client on the plain IMAP port is told when the server is full,
/// in place of the greeting.
pub fn too_many_connections() -> Vec<u8> {
    b"* BYE [UNAVAILABLE] Too many connections, try later\r\n".to_vec()
}

/// The extensions this server implements beyond what the session itself
/// answers (LITERAL+, SASL-IR, ENABLE, IDLE, ID).
fn capabilities(append_limit: u64) -> Vec<Capability<'static>> {
    vec![
        Capability::Namespace,
        Capability::Unselect,
        Capability::UidPlus,
        Capability::Children,
        Capability::ListExtended,
        Capability::ListStatus,
        Capability::SpecialUse,
        Capability::CreateSpecialUse,
        Capability::Move,
        Capability::ESearch,
        Capability::SearchRes,
        Capability::Binary,
        Capability::StatusSize,
        Capability::CondStore,
        Capability::QResync,
        Capability::Within,
        Capability::Quota,
        Capability::QuotaRes(mailwire::imap::Atom::new("STORAGE").expect("an atom")),
        Capability::QuotaRes(mailwire::imap::Atom::new("MESSAGE").expect("an atom")),
        Capability::Preview,
        Capability::SaveDate,
        Capability::Utf8Accept,
        Capability::ObjectId,
        Capability::Catenate,
        Capability::Notify,
        Capability::ContextSearch,
        Capability::Sort,
        Capability::SortDisplay,
        Capability::ESort,
        Capability::Thread(mailwire::imap::Atom::new("ORDEREDSUBJECT").expect("an atom")),
        Capability::Thread(mailwire::imap::Atom::new("REFERENCES").expect("an atom")),
        Capability::Thread(mailwire::imap::Atom::new("REFS").expect("an atom")),
        Capability::MultiAppend,
        Capability::AppendLimit(Some(append_limit)),
    ]
}

fn config(ctx: &Context, tls: bool) -> ServerConfig {
    let quoted = |s: &str| IString::Quoted(Quoted::new(s.as_bytes().to_vec()).expect("a quoted string"));
    let id = IdParam::new(quoted("name"), NString(Some(quoted("mailwire"))))
        .and_then(|name| IdParams::new(vec![name]))
        .expect("one short pair");
    let mut decoder = DecoderConfig::default();
    // Commands other than APPEND (whose limit is APPENDLIMIT) are small:
    // these bound what one connection makes the server hold for a command
    // of many literals (a SEARCH of a million tiny literals, say).
    decoder.limits.literal = 1024 * 1024;
    decoder.limits.command_message = 4 * 1024 * 1024;
    decoder.limits.list = 65_536;
    ServerConfig {
        decoder,
        greeting: Greeting::Ok("mailwire IMAP server ready".into()),
        tls: if tls { Tls::Active } else { Tls::Available },
        allow_plaintext_login: ctx.allow_plaintext_auth,
        non_sync_literals: NonSyncLiterals::Plus,
        id: Some(Some(id)),
        capabilities: capabilities(ctx.append_limit),
        compress: true,
        unauthenticate: true,
        append_limit: Some(ctx.append_limit),
        stream_append: true,
        // RFC 9051 section 5.4: at least 30 minutes once logged in.
        autologout: ctx.idle_timeout.max(Duration::from_secs(30 * 60)),
        login_timeout: ctx.login_timeout,
        ..ServerConfig::default()
    }
}

/// Serves one connection until it ends.
pub async fn serve(ctx: &Arc<Context>, mut conn: Connection, peer: SocketAddr) -> io::Result<Ending> {
    let mut session = ServerSession::new(config(ctx, conn.is_tls()));
    // The session's login clock starts at the accept, so an IMAPS
    // handshake is part of it.
    session.handle_timeout(conn.accepted());
    let mut user = User::default();
    let ending = user.drive(ctx, &mut conn, &mut session, peer).await;
    conn.close().await;
    if let Some(work) = user.work.take() {
        // Ending a selection reads nothing; drop it off the network threads
        // all the same, as the store takes its locks.
        let _ = ctx.blocking.run(move || drop(work)).await;
    }
    ending
}

/// The user's side of a connection.
#[derive(Default)]
struct User {
    /// The account and selected mailbox; `None` before login, and while a
    /// job on the blocking pool holds them.
    work: Option<Work>,
    /// Between IDLE and DONE.
    idle: bool,
    /// The APPEND being received.
    append: Option<Appending>,
    /// Wakes IDLE when the account's Maildir changes.
    watching: Option<Subscription>,
    /// What NOTIFY asked for.
    notify: Option<notify::Watching>,
}

/// A streamed APPEND: its messages so far and the one arriving, each
/// written to the mailbox's staging file as it comes (never whole in
/// memory).
struct Appending {
    mailbox: MailboxName,
    /// The messages received in full.
    uploads: Vec<Upload>,
    /// The one arriving; `None` once one failed.
    current: Option<Upload>,
    /// Data received and not yet written (at most [`UPLOAD_CHUNK`]).
    pending: Vec<u8>,
    /// Why a message could not be taken: the APPEND then fails.
    failed: Option<StoreError>,
    /// Its share of the upload budget (for the message arriving).
    budget: Vec<tokio::sync::OwnedSemaphorePermit>,
    /// What CATENATE may still build.
    allowance: append::Allowance,
    /// What the user's quota left when the command's first message came
    /// (octets, messages; `None`: no quota): each message is refused as
    /// soon as those before it and its announced length pass it, not once
    /// the command ends, so that one command (65,536 messages of up to
    /// APPENDLIMIT each, nearly free to send under COMPRESS) cannot stage
    /// terabytes on the disk past the quota.
    quota_room: Option<(u64, u64)>,
}

/// For a job that found no room in the content budget
/// ([`Outcome::wants_room`](exec::Outcome::wants_room)): waits for it in
/// `budget` (the account's share, and the server's budget) on this task,
/// up to [`exec::CONTENT_WAIT`] from the command's first wait
/// (`deadline`), with no storage job held meanwhile; whether to run the
/// job again (else its answer, `NO [UNAVAILABLE]`, stands).
async fn wait_for_room(
    budget: &crate::budget::MemoryBudget,
    wants_room: Option<std::num::NonZeroU64>,
    deadline: &mut Option<Instant>,
) -> bool {
    let Some(amount) = wants_room.map(std::num::NonZeroU64::get) else {
        return false;
    };
    let until = *deadline.get_or_insert_with(|| Instant::now() + exec::CONTENT_WAIT);
    budget.wait_for_room(amount, until).await && Instant::now() < until
}

/// Received APPEND data is written to disk in pieces of this size.
const UPLOAD_CHUNK: usize = 256 * 1024;

impl Appending {
    /// Writes the APPEND data received so far to the message's staging
    /// file, off the network threads; a failure (a full disk, a message
    /// over the store's limit) is kept for the APPEND's answer, and what
    /// comes after it is dropped.
    async fn write_pending(&mut self, ctx: &Arc<Context>) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let mut data = std::mem::take(&mut self.pending);
        let Some(mut upload) = self.current.take() else {
            return Ok(());
        };
        let (upload, written, data) = ctx
            .blocking
            .run(move || {
                let written = upload.write(&data);
                data.clear();
                (upload, written, data)
            })
            .await?;
        match written {
            Ok(()) => {
                self.current = Some(upload);
                self.pending = data;
            }
            Err(e) => self.failed = Some(e),
        }
        Ok(())
    }

    /// Writes what is left of the message and completes it (its staging
    /// file closed: a MULTIAPPEND of thousands of messages holds no open
    /// file for those received, see `Upload::complete`).
    async fn end_message(&mut self, ctx: &Arc<Context>) -> io::Result<()> {
        self.write_pending(ctx).await?;
        let Some(mut upload) = self.current.take() else {
            return Ok(());
        };
        let (upload, completed) = ctx
            .blocking
            .run(move || {
                let completed = upload.complete();
                (upload, completed)
            })
            .await?;
        match completed {
            Ok(()) => self.uploads.push(upload),
            Err(e) => self.failed = Some(e),
        }
        Ok(())
    }
}

impl User {
    /// The loop: answer the session's events, send what it has to send,
    /// then wait for the client, the session's deadline, the next look at
    /// the store during IDLE, or a stop.
    async fn drive(
        &mut self,
        ctx: &Arc<Context>,
        conn: &mut Connection,
        session: &mut ServerSession,
        peer: SocketAddr,
    ) -> io::Result<Ending> {
        let mut buf = vec![0u8; 16 * 1024];
        session.handle_timeout(Instant::now());
        loop {
            let mut start_tls = false;
            let mut compress = None;
            loop {
                let mut progressed = false;
                while let Some(event) = session.poll_event() {
                    progressed = true;
                    // A command pipelined after LOGIN runs, and writes,
                    // once the login succeeded.
                    login_deadline(conn, session);
                    match event {
                        ServerEvent::Authenticate(request) => {
                            self.login(ctx, conn, session, request, peer).await?
                        }
                        ServerEvent::Literal(request) => {
                            // The decoder's limits bound literals already.
                            let _ = session.accept_literal(request);
                        }
                        ServerEvent::Command(request) => self.command(ctx, conn, session, request).await?,
                        ServerEvent::StartTls => start_tls = true,
                        ServerEvent::Compress { input } => compress = Some(input),
                        ServerEvent::IdleStarted => {
                            self.idle = true;
                            if self.watch(ctx).await? {
                                // What changed before the watch began.
                                self.poll_changes(ctx, conn, session).await?;
                            }
                        }
                        ServerEvent::IdleEnded => self.idle = false,
                        ServerEvent::Append(request) => self.append_start(ctx, session, request).await?,
                        ServerEvent::CatenatePart(part) => self.catenate_part(ctx, session, part).await?,
                        ServerEvent::AppendData(data) => {
                            if let Some(a) = self.append.as_mut() {
                                a.pending.extend_from_slice(&data);
                                if a.pending.len() >= UPLOAD_CHUNK {
                                    a.write_pending(ctx).await?;
                                }
                            }
                        }
                        ServerEvent::AppendMessageEnd => {
                            if let Some(a) = self.append.as_mut() {
                                a.end_message(ctx).await?;
                            }
                        }
                        ServerEvent::AppendComplete(completion) => {
                            let appending = self.append.take();
                            let outcome = match (appending, self.work.take()) {
                                (Some(a), Some(mut work)) => {
                                    let info = info_of(session, Vec::new(), "");
                                    let (work, outcome) = ctx
                                        .blocking
                                        .run(move || {
                                            let Appending {
                                                mailbox,
                                                uploads,
                                                failed,
                                                budget,
                                                ..
                                            } = a;
                                            let mut outcome = match failed {
                                                Some(e) => exec::store_failure(&e),
                                                None => append::append_uploads(&mut work, &mailbox, uploads),
                                            };
                                            // The messages are on disk (or refused): the
                                            // budget they held is free.
                                            drop(budget);
                                            exec::changes(&mut work, true, &info, &mut outcome.answers);
                                            (work, outcome)
                                        })
                                        .await?;
                                    self.work = Some(work);
                                    outcome
                                }
                                (_, work) => {
                                    self.work = work;
                                    Outcome::no("APPEND failed")
                                }
                            };
                            for answer in outcome.answers {
                                apply_change(session, answer);
                            }
                            let _ = session.complete_append(completion, outcome.status, outcome.text);
                        }
                        ServerEvent::AppendAborted => self.append = None,
                        ServerEvent::Unauthenticated => {
                            self.append = None;
                            self.notify = None;
                            self.watching = None;
                            self.idle = false;
                            if let Some(work) = self.work.take() {
                                let _ = ctx.blocking.run(move || drop(work)).await;
                            }
                            tracing::info!("logged out (UNAUTHENTICATE)");
                        }
                        ServerEvent::Closed(reason) => tracing::info!(?reason, "session closed"),
                        ServerEvent::ClientId(id) => tracing::debug!(?id, "client identified itself"),
                        ServerEvent::Enabled(what) => tracing::debug!(?what, "extensions enabled"),
                        _ => {}
                    }
                }
                login_deadline(conn, session);
                while let Some(bytes) = session.poll_transmit() {
                    progressed = true;
                    if session.is_closed() {
                        // The answer to LOGOUT goes out even during a stop.
                        conn.write_last(&bytes).await?;
                    } else {
                        conn.write_all(&bytes).await?;
                    }
                }
                if !progressed {
                    break;
                }
            }
            if let Some(input) = compress {
                conn.start_compression(&input);
                tracing::debug!("compressing (COMPRESS=DEFLATE)");
                session.compression_started();
                continue;
            }
            if start_tls {
                conn.upgrade().await?;
                tracing::debug!("TLS established after STARTTLS");
                session.tls_established();
                continue;
            }
            if session.is_closed() {
                return Ok(Ending::Closed);
            }
            if !session.wants_input() {
                return Err(io::Error::other("the client sent too much without reading"));
            }
            // IDLE, or NOTIFY, wants news as it happens.
            let idle = (self.idle && self.selected()) || self.notify.is_some();
            let every = if self.watching.is_some() {
                WATCHED_POLL
            } else {
                IDLE_POLL
            };
            let poll = idle.then(|| Instant::now() + every);
            let deadline = match (session.poll_timeout(), poll) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let input = match self.watching.as_mut().filter(|_| idle) {
                Some(watching) => tokio::select! {
                    input = conn.read(&mut buf, deadline) => input?,
                    // A change: look at the store now, as at a deadline.
                    _ = watching.changed() => Input::Deadline,
                },
                None => conn.read(&mut buf, deadline).await?,
            };
            match input {
                Input::Data(n) => {
                    session.receive(&buf[..n]);
                    session.handle_timeout(Instant::now());
                }
                Input::Eof => return Ok(Ending::ClientLeft),
                Input::Deadline => {
                    if self.idle || self.notify.is_some() {
                        self.poll_changes(ctx, conn, session).await?;
                    }
                    session.handle_timeout(Instant::now());
                    if session.is_closed() {
                        // Autologout: send the BYE, then end.
                        while let Some(bytes) = session.poll_transmit() {
                            conn.write_last(&bytes).await?;
                        }
                        return Ok(Ending::IdleTimeout);
                    }
                }
                Input::Stop => {
                    session.shutdown("Server shutting down");
                    while let Some(bytes) = session.poll_transmit() {
                        let _ = conn.write_last(&bytes).await;
                    }
                    return Ok(Ending::Stopped);
                }
            }
        }
    }

    /// Watches the account's Maildir from the first IDLE or NOTIFY on, for
    /// the rest of the login: sessions that never wait for news cost no
    /// watch.
    /// True when the watch begins now.
    async fn watch(&mut self, ctx: &Arc<Context>) -> io::Result<bool> {
        if self.watching.is_some() {
            return Ok(false);
        }
        let Some(path) = self.work.as_ref().and_then(|w| w.account.watch_path()) else {
            return Ok(false);
        };
        let watcher = Arc::clone(&ctx.watcher);
        self.watching = ctx.blocking.run(move || watcher.subscribe(&path)).await?;
        Ok(self.watching.is_some())
    }

    fn selected(&self) -> bool {
        self.work.as_ref().is_some_and(|w| w.selected.is_some())
    }

    /// Checks a LOGIN or AUTHENTICATE PLAIN and opens the account.
    async fn login(
        &mut self,
        ctx: &Arc<Context>,
        conn: &mut Connection,
        session: &mut ServerSession,
        request: AuthRequest,
        peer: SocketAddr,
    ) -> io::Result<()> {
        let Some(credentials) = request.credentials().cloned() else {
            // A mechanism the session did not decode: none other is offered.
            let _ = session.reject_login(request, LoginRejection::AuthenticationFailed);
            return Ok(());
        };
        if let Credentials::Plain { authzid, authcid, .. } = &credentials {
            if !authzid.is_empty() && authzid != authcid {
                tracing::warn!(%peer, "login refused: acting as another user is not offered");
                let _ = session.reject_login(request, LoginRejection::AuthorizationFailed);
                return Ok(());
            }
        }
        let user = String::from_utf8_lossy(credentials.user())
            .escape_debug()
            .to_string();
        let name = String::from_utf8_lossy(credentials.user()).into_owned();
        // The address's turn in the checks first, then its wait: an
        // attempt waiting for a turn reserves no time (see `penalty`).
        let turn = conn.before_login_deadline(ctx.checks.turn(peer.ip())).await?;
        let wait = ctx.penalties.wait(peer.ip(), &name);
        if !wait.is_zero() {
            tracing::info!(%user, %peer, ?wait, "earlier failed logins: waiting before the check");
            conn.pause(wait).await?;
        }
        let job_ctx = Arc::clone(ctx);
        let check = ctx
            .hashing
            .run(move || job_ctx.authenticate(credentials.user(), credentials.password(), peer.ip()));
        let checked = conn.before_login_deadline(check).await??;
        drop(turn);
        match checked {
            Ok((account, quota)) => {
                ctx.penalties.succeeded(&name);
                if session.accept_login(request).is_ok() {
                    tracing::info!(%user, "logged in");
                    let share = ctx.account_share(account.name());
                    self.work = Some(Work {
                        account,
                        selected: None,
                        quota,
                        append_limit: ctx.append_limit,
                        structures: Arc::clone(&ctx.structures),
                        content: Arc::clone(&share.content),
                        share,
                        live: Vec::new(),
                    });
                }
            }
            Err(Refusal::BadCredentials) => {
                ctx.penalties.failed(peer.ip(), &name);
                tracing::warn!(%user, %peer, "authentication failed");
                conn.pause(ctx.auth_failure_delay).await?;
                let _ = session.reject_login(request, LoginRejection::AuthenticationFailed);
            }
            Err(Refusal::NoAccount(error)) => {
                tracing::error!(%user, %error, "cannot open the account");
                let _ = session.reject_login(request, LoginRejection::Unavailable);
            }
            Err(Refusal::Denied(crate::users::Denied::NoLogin(reason))) => {
                ctx.penalties.failed(peer.ip(), &name);
                tracing::warn!(%user, %peer, %reason, "login refused: nologin");
                conn.pause(ctx.auth_failure_delay).await?;
                let _ = session.reject_login(request, LoginRejection::ContactAdmin);
            }
            Err(Refusal::Denied(crate::users::Denied::Network)) => {
                ctx.penalties.failed(peer.ip(), &name);
                tracing::warn!(%user, %peer, "login refused: not from a network allow_nets names");
                conn.pause(ctx.auth_failure_delay).await?;
                let _ = session.reject_login(request, LoginRejection::AuthenticationFailed);
            }
        }
        Ok(())
    }

    /// Runs a command on the blocking pool and sends its answers.
    async fn command(
        &mut self,
        ctx: &Arc<Context>,
        conn: &mut Connection,
        session: &mut ServerSession,
        request: CommandRequest,
    ) -> io::Result<()> {
        let Some(mut work) = self.work.take() else {
            let _ = session.complete(request, Status::No, RespText::text("Not logged in"));
            return Ok(());
        };
        if let (true, Some(selected)) = (request.owes_highest_modseq(), &work.selected) {
            // The first CONDSTORE-enabling command (RFC 7162 section 3.1):
            // the highest MODSEQ the session has seen, what the client's
            // view stands at; later changes come with their own MODSEQ.
            let text = RespText {
                code: Some(mailwire::imap::Code::HighestModSeq(
                    selected.safe_highest_modseq().into(),
                )),
                text: "Highest".into(),
            };
            let highest = mailwire::imap::Response::Status {
                tag: None,
                status: Status::Ok,
                text,
            };
            if let Err(e) = session.respond(&request, &highest) {
                tracing::warn!(error = %e, "HIGHESTMODSEQ was refused by the session");
            }
        }
        let info = info_of(session, request.messages().to_vec(), request.tag().as_str());
        let command = request.command().clone();
        if let CommandBody::Notify(notify) = &command.body {
            let notify = notify.clone();
            let (work, (watching, outcome)) = ctx
                .blocking
                .run(move || {
                    let done = notify::set(&work, &notify, &info);
                    (work, done)
                })
                .await?;
            self.work = Some(work);
            self.notify = watching;
            if self.notify.is_some() {
                self.watch(ctx).await?;
            }
            finish(session, request, outcome);
            return Ok(());
        }
        if let CommandBody::Fetch { fetch, uid } = &command.body {
            let fetch = (fetch.clone(), *uid);
            return self.fetch(ctx, conn, session, request, work, fetch, info).await;
        }
        let (command, info) = (Arc::new(command), Arc::new(info));
        let mut room_deadline = None;
        let (work, outcome) = loop {
            let (job_command, job_info) = (Arc::clone(&command), Arc::clone(&info));
            let (back, outcome) = ctx
                .blocking
                .run(move || {
                    let outcome = exec::run(&mut work, &job_command, &job_info);
                    (work, outcome)
                })
                .await?;
            work = back;
            if !wait_for_room(&work.content, outcome.wants_room, &mut room_deadline).await {
                break (work, outcome);
            }
        };
        self.work = Some(work);
        finish(session, request, outcome);
        Ok(())
    }

    /// FETCH, in batches: each job renders about [`FETCH_BATCH`] octets,
    /// which are sent before the next job starts.
    #[allow(clippy::too_many_arguments)]
    async fn fetch(
        &mut self,
        ctx: &Arc<Context>,
        conn: &mut Connection,
        session: &mut ServerSession,
        request: CommandRequest,
        mut work: Work,
        (fetch, uid_command): (mailwire::imap::Fetch<'static>, bool),
        info: Info,
    ) -> io::Result<()> {
        let info = Arc::new(info);
        let fetch = Arc::new(fetch);
        let allow_expunge = !request.command().body.forbids_expunge();
        let mut start = 0;
        let mut room_deadline = None;
        // What the look at the store after the command found, when the
        // last batch's job could take it (one hop to the blocking pool
        // fewer).
        let polled = loop {
            let (job_info, job_fetch) = (Arc::clone(&info), Arc::clone(&fetch));
            let (back, result, looked) = ctx
                .blocking
                .run(move || {
                    let result = fetching::fetch_batch(
                        &mut work,
                        &job_fetch,
                        uid_command,
                        &job_info,
                        start,
                        FETCH_BATCH,
                    );
                    // The last batch, with nothing left to stream from the
                    // selected mailbox: the look at the store follows in
                    // the same job. Its answers go after the batch's.
                    let last = match &result {
                        Ok(batch) => {
                            batch.next >= job_info.messages.len()
                                && batch.refused.is_none()
                                && !batch.answers.iter().any(|a| matches!(a, Answer::Stream(_)))
                        }
                        Err(_) => false,
                    };
                    let looked = last.then(|| after_fetch(&mut work, allow_expunge, &job_info));
                    (work, result, looked)
                })
                .await?;
            work = back;
            match result {
                Ok(fetching::Batch {
                    answers,
                    next,
                    refused,
                }) => {
                    // Budget for what was read whole, given back once sent.
                    let mut held = Vec::new();
                    for answer in answers {
                        match answer {
                            Answer::Fetch(uid, items) => {
                                let _ = session.fetch_data(&request, uid, items);
                            }
                            Answer::Hold(h) => held.push(h),
                            Answer::Data(response) => {
                                let _ = session.respond(&request, &response);
                            }
                            Answer::Stream(streamed) => {
                                work = stream(ctx, conn, session, &request, work, streamed).await?;
                            }
                            _ => {}
                        }
                    }
                    while let Some(bytes) = session.poll_transmit() {
                        conn.write_all(&bytes).await?;
                    }
                    drop(held);
                    if let Some(outcome) = refused {
                        self.work = Some(work);
                        finish(session, request, outcome);
                        return Ok(());
                    }
                    start = next;
                    if start >= info.messages.len() {
                        break looked;
                    }
                }
                Err(outcome) => {
                    // No room for the message at `start`: waited for
                    // here, and the batch runs again.
                    if !wait_for_room(&work.content, outcome.wants_room, &mut room_deadline).await {
                        self.work = Some(work);
                        finish(session, request, outcome);
                        return Ok(());
                    }
                }
            }
        };
        let (work, answers) = match polled {
            Some(answers) => (work, answers),
            None => {
                let job_info = Arc::clone(&info);
                ctx.blocking
                    .run(move || {
                        let answers = after_fetch(&mut work, allow_expunge, &job_info);
                        (work, answers)
                    })
                    .await?
            }
        };
        self.work = Some(work);
        finish(session, request, Outcome::ok(answers, "FETCH completed"));
        Ok(())
    }

    /// The first message of an APPEND: checks the mailbox exists (else
    /// `NO [TRYCREATE]`); later messages join it.
    async fn append_start(
        &mut self,
        ctx: &Arc<Context>,
        session: &mut ServerSession,
        request: AppendRequest,
    ) -> io::Result<()> {
        let Some(work) = self.work.as_ref() else {
            let _ = session.refuse_append(request, LiteralRefusal::Bad("Not logged in".into()));
            return Ok(());
        };
        let flags = match request.flags().map(Flags::try_from).transpose() {
            Ok(f) => f.unwrap_or_default(),
            Err(e) => {
                let _ = session.refuse_append(request, LiteralRefusal::Bad(format!("Invalid flag: {e}")));
                return Ok(());
            }
        };
        let internal_date = request.date().map(|d| InternalDate::from(*d));
        // A message is written to disk as it comes; what waits in memory
        // meanwhile (a piece, and the file's buffer) comes out of a budget
        // all the uploads of the server share.
        // (A CATENATE message's size is known only as it is built.)
        let held = match request.is_catenate() {
            true => (UPLOAD_CHUNK + 64 * 1024) as u64,
            false => request.length().min((UPLOAD_CHUNK + 64 * 1024) as u64),
        };
        let kib = u32::try_from(held.div_ceil(1024).max(1)).unwrap_or(u32::MAX);
        // The account's share first: its own APPENDs queue there, not in
        // the server's budget ahead of other users'.
        let (share, server) = (Arc::clone(&work.share.uploads), Arc::clone(&ctx.uploads));
        let budget = async move {
            let mine = share.acquire_many_owned(kib).await?;
            let all = server.acquire_many_owned(kib).await?;
            Ok::<_, tokio::sync::AcquireError>([mine, all])
        };
        let Ok(Ok(permit)) = tokio::time::timeout(UPLOAD_WAIT, budget).await else {
            tracing::warn!(
                octets = request.length(),
                "upload budget exhausted, APPEND refused"
            );
            let refusal = LiteralRefusal::Unavailable("Too much is being uploaded, try again later".into());
            let _ = session.refuse_append(request, refusal);
            return Ok(());
        };
        let next = request.index() > 0 && self.append.is_some();
        let name = match &self.append {
            Some(a) if next => a.mailbox.clone(),
            _ => match exec::mailbox_name(request.mailbox(), session.utf8_names()) {
                Ok(n) => n,
                Err(outcome) => {
                    let _ =
                        session.refuse_append(request, LiteralRefusal::Bad(outcome.text.text.into_owned()));
                    return Ok(());
                }
            },
        };
        let quota_room = match &self.append {
            Some(a) if next => a.quota_room,
            _ => {
                let (account, quota) = (work.account.clone(), work.quota);
                match ctx
                    .blocking
                    .run(move || exec::quota_room(&account, quota))
                    .await?
                {
                    Ok(room) => room,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot read the quota's usage, APPEND refused");
                        let refusal = LiteralRefusal::Unavailable("Try again later".into());
                        let _ = session.refuse_append(request, refusal);
                        return Ok(());
                    }
                }
            }
        };
        if let Some((octets, messages)) = quota_room {
            let (staged, count) = match &self.append {
                Some(a) if next => (
                    a.uploads.iter().chain(&a.current).map(Upload::size).sum::<u64>(),
                    a.uploads.len() as u64 + u64::from(a.current.is_some()),
                ),
                _ => (0, 0),
            };
            // A CATENATE message's size is known only once built (and
            // bounded by APPENDLIMIT): the check at the end counts it.
            let length = if request.is_catenate() {
                0
            } else {
                request.length()
            };
            if staged.saturating_add(length) > octets || count + 1 > messages {
                let _ = session.refuse_append(request, LiteralRefusal::OverQuota("Quota exceeded".into()));
                return Ok(());
            }
        }
        let account = work.account.clone();
        let job_name = name.clone();
        let started = ctx
            .blocking
            .run(move || account.start_upload(&job_name, flags, internal_date))
            .await?;
        let upload = match started {
            Ok(upload) => upload,
            Err(StoreError::NoSuchMailbox(_)) => {
                let _ = session.refuse_append(request, LiteralRefusal::TryCreate("No such mailbox".into()));
                return Ok(());
            }
            Err(e) => {
                let refusal = match e {
                    StoreError::Limit(what) => LiteralRefusal::Bad(what.into()),
                    StoreError::Temporary(_) => LiteralRefusal::Unavailable("Try again later".into()),
                    _ => LiteralRefusal::Bad("The message cannot be stored".into()),
                };
                tracing::warn!(error = %e, "APPEND refused");
                let _ = session.refuse_append(request, refusal);
                return Ok(());
            }
        };
        let append_limit = work.append_limit;
        match self.append.as_mut() {
            Some(a) if next => {
                a.allowance.next_message();
                a.current = Some(upload);
                // The messages before it are on disk: only this one holds
                // memory.
                a.budget = permit.into();
            }
            _ => {
                self.append = Some(Appending {
                    mailbox: name,
                    uploads: Vec::new(),
                    current: Some(upload),
                    pending: Vec::new(),
                    failed: None,
                    budget: permit.into(),
                    allowance: append::Allowance::new(append_limit),
                    quota_room,
                });
            }
        }
        let _ = session.accept_append(request);
        Ok(())
    }

    /// A part of a CATENATE message (RFC 4469): a TEXT literal is counted
    /// before its data is asked for (its data then comes as a plain
    /// message's does); what a URL names is copied into the message's
    /// staging file, after the text received before it.
    async fn catenate_part(
        &mut self,
        ctx: &Arc<Context>,
        session: &mut ServerSession,
        part: CatenatePart,
    ) -> io::Result<()> {
        let Some(a) = self.append.as_mut() else {
            let _ = session
                .refuse_catenate_part(part, LiteralRefusal::Bad("No message is being appended".into()));
            return Ok(());
        };
        if let Some(length) = part.text_length() {
            let _ = match a.allowance.take(length) {
                Ok(()) => session.accept_catenate_part(part),
                Err(e) => session.refuse_catenate_part(part, e.refusal()),
            };
            return Ok(());
        }
        let Some(url) = part.url().cloned() else {
            let _ = session.refuse_catenate_part(part, LiteralRefusal::Bad("Unknown CATENATE part".into()));
            return Ok(());
        };
        a.write_pending(ctx).await?;
        // A write failed before: the APPEND fails as it completes.
        let Some(mut upload) = a.current.take() else {
            let _ = session.accept_catenate_part(part);
            return Ok(());
        };
        let Some(work) = self.work.take() else {
            a.current = Some(upload);
            let _ = session.refuse_catenate_part(part, LiteralRefusal::Bad("Not logged in".into()));
            return Ok(());
        };
        let mut allowance = a.allowance;
        let (work, upload, allowance, copied) = ctx
            .blocking
            .run(move || {
                let copied = append::copy_url(&work, &url, &mut upload, &mut allowance);
                (work, upload, allowance, copied)
            })
            .await?;
        self.work = Some(work);
        a.current = Some(upload);
        a.allowance = allowance;
        let _ = match copied {
            Ok(()) => session.accept_catenate_part(part),
            Err(e) => session.refuse_catenate_part(part, e.refusal()),
        };
        Ok(())
    }

    /// During IDLE, or with NOTIFY: reads the store's changes and gives
    /// them to the session, which sends them at once (IDLE, or NOTIFY's
    /// selected-mailbox events), and sends NOTIFY's news of the other
    /// mailboxes.
    async fn poll_changes(
        &mut self,
        ctx: &Arc<Context>,
        conn: &mut Connection,
        session: &mut ServerSession,
    ) -> io::Result<()> {
        let Some(mut work) = self.work.take() else {
            return Ok(());
        };
        let info = info_of(session, Vec::new(), "");
        let mut notify = self.notify.take();
        // Expunges go to the session only when it sends them at once, so
        // that its message numbers and the view's stay the same.
        let expunge = self.idle
            || notify
                .as_ref()
                .and_then(|n| n.selected.as_ref())
                .is_some_and(|s| !s.delayed);
        let new_message = notify
            .as_ref()
            .and_then(|n| n.selected.as_ref())
            .map(|s| s.new_message.clone())
            .unwrap_or_default();
        let wanted = new_message.clone();
        let (mut work, notify, answers, news, (fetched, added, mut next)) = ctx
            .blocking
            .run(move || {
                let mut answers = Vec::new();
                exec::changes(&mut work, expunge, &info, &mut answers);
                let added: Vec<_> = answers
                    .iter()
                    .filter_map(|a| match a {
                        Answer::Added(uid) => Some(*uid),
                        _ => None,
                    })
                    .collect();
                let fetched = if wanted.is_empty() {
                    (Vec::new(), Arc::new(Vec::new()), 0)
                } else {
                    let (part, next) =
                        fetching::new_message_data(&mut work, &wanted, &added, &info, FETCH_BATCH as u64);
                    (part, Arc::new(added), next)
                };
                search::update_live_searches(&mut work, &info, &mut answers);
                let news = match notify.as_mut().filter(|n| n.has_groups()) {
                    Some(n) => n.refresh(&work, &info).unwrap_or_else(|e| {
                        tracing::warn!(error = %e, "NOTIFY cannot read the mailboxes");
                        Vec::new()
                    }),
                    None => Vec::new(),
                };
                (work, notify, answers, news, fetched)
            })
            .await?;
        let mut updates = Vec::new();
        let take = |session: &mut ServerSession, answers: Vec<Answer>, updates: &mut Vec<_>| {
            for answer in answers {
                match answer {
                    Answer::Data(response) => updates.push(response),
                    change => apply_change(session, change),
                }
            }
            if let Some(selected) = notify.as_ref().and_then(|n| n.selected.as_ref()) {
                session.announce_changes(!selected.delayed);
            }
        };
        take(session, answers, &mut updates);
        // After the EXISTS that announced them, a part at a time: each
        // is sent before the next is rendered. A session that took none of
        // a part (a command runs, or the new messages were not announced)
        // is not rendered the rest.
        // The messages whose FETCH was queued with every item: those that
        // get the \Seen a body read without PEEK sets.
        let mut sent = Vec::new();
        let mut send = |session: &mut ServerSession, part: fetching::NewMessageData| {
            let empty = part.is_empty();
            part.into_iter().fold(empty, |taken, (uid, items, whole)| {
                let took = session.unsolicited_fetch(uid, items).is_ok();
                if took && whole {
                    sent.push(uid);
                }
                took || taken
            })
        };
        let mut taken = send(session, fetched);
        while taken && next < added.len() {
            while let Some(bytes) = session.poll_transmit() {
                conn.write_all(&bytes).await?;
            }
            let (items, info) = (new_message.clone(), info_of(session, Vec::new(), ""));
            let all = Arc::clone(&added);
            let (back, (part, went)) = ctx
                .blocking
                .run(move || {
                    let rest = &all[next..];
                    let part = fetching::new_message_data(&mut work, &items, rest, &info, FETCH_BATCH as u64);
                    (work, part)
                })
                .await?;
            work = back;
            next += went;
            taken = send(session, part);
        }
        let writable = work.selected.as_ref().is_some_and(|s| !s.is_read_only());
        if writable && fetch::sets_seen(&new_message) && !sent.is_empty() {
            let info = info_of(session, Vec::new(), "");
            let (back, seen) = ctx
                .blocking
                .run(move || {
                    let seen = fetching::mark_sent_seen(&mut work, &sent, &info);
                    (work, seen)
                })
                .await?;
            work = back;
            take(session, seen, &mut updates);
        }
        self.work = Some(work);
        // The search updates after the changes they follow from.
        for response in updates.iter().chain(&news) {
            let _ = session.unsolicited(response);
        }
        self.notify = notify;
        Ok(())
    }
}

/// Streams one message or section of a FETCH from disk: the literal's
/// header, then pieces read on the blocking pool, each sent before the
/// next is read. The length announced is the message's size or the
/// section's measured length; content that turns out shorter or longer
/// ends the connection (the literal cannot be mended).
async fn stream(
    ctx: &Arc<Context>,
    conn: &mut Connection,
    session: &mut ServerSession,
    request: &CommandRequest,
    work: Work,
    streamed: Streamed,
) -> io::Result<Work> {
    let Streamed {
        uid,
        items,
        literal:
            FileLiteral {
                name,
                length,
                content,
                binary,
            },
    } = streamed;
    let (work, mut reader): (Work, Box<dyn io::Read + Send>) = match content {
        Some(content) => (work, content),
        None => {
            let (work, opened) = ctx
                .blocking
                .run(move || {
                    let opened = match work.selected.as_ref() {
                        Some(selected) => selected.open(uid.into()),
                        None => Err(mailwire::mailbox::StoreError::NotAllowed("no mailbox selected")),
                    };
                    (work, opened)
                })
                .await?;
            match opened {
                Ok(r) => (work, r),
                // Expunged meanwhile: the message is left out of the answer.
                Err(e) => {
                    tracing::debug!(%uid, error = %e, "a message to stream is gone");
                    return Ok(work);
                }
            }
        }
    };
    if session
        .fetch_literal_start(request, uid, items, name, length, binary)
        .is_err()
    {
        return Ok(work);
    }
    let mut owed = length;
    let mut buf = vec![0u8; STREAM_CHUNK];
    loop {
        let (back, read) = ctx
            .blocking
            .run(move || {
                let read = read_full(&mut reader, &mut buf);
                (reader, buf, read)
            })
            .await
            .map(|(r, b, n)| ((r, b), n))?;
        (reader, buf) = back;
        let n = read.map_err(|e| io::Error::new(e.kind(), format!("reading a message: {e}")))?;
        if n as u64 > owed {
            return Err(io::Error::other(format!(
                "message UID {uid} is longer than its size {length}"
            )));
        }
        if n == 0 {
            break;
        }
        if !binary {
            fetch::replace_nul(&mut buf[..n]);
        }
        let _ = session.fetch_literal_data(request, &buf[..n]);
        owed -= n as u64;
        while let Some(bytes) = session.poll_transmit() {
            conn.write_all(&bytes).await?;
        }
    }
    if owed != 0 {
        return Err(io::Error::other(format!(
            "message UID {uid} is shorter than its size {length}"
        )));
    }
    let _ = session.fetch_literal_end(request);
    Ok(work)
}

/// Tells the connection the login deadline, which bounds its writes and
/// TLS handshakes: the session's deadline before login (UNAUTHENTICATE
/// starts it again), none after.
fn login_deadline(conn: &mut Connection, session: &ServerSession) {
    if session.is_authenticated() {
        conn.set_login_deadline(None);
    } else if let Some(at) = session.poll_timeout() {
        conn.set_login_deadline(Some(at));
    }
}

/// Reads until `buf` is full or the reader ends; how many bytes.
fn read_full(reader: &mut impl io::Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Room for a message of `length` octets, up to a bound: the length is the
/// client's word, the data that arrives is what counts.
fn info_of(session: &ServerSession, messages: Vec<std::num::NonZeroU32>, tag: &str) -> Info {
    let enabled = session.enabled();
    Info {
        messages,
        enabled,
        utf8: session.utf8_names(),
        // Both revisions are offered: IMAP4rev2 once the client enables it.
        rev2: enabled.imap4rev2,
        saved: session.saved_search().map(<[_]>::to_vec),
        tag: tag.to_owned(),
    }
}

/// Sends a command's answers and completes it.
fn finish(session: &mut ServerSession, request: CommandRequest, outcome: Outcome) {
    let mut gone = false;
    for answer in outcome.answers {
        match answer {
            // The command (a DELETE of the selected mailbox, say) completes
            // first; then the session ends.
            Answer::Gone => gone = true,
            Answer::Data(response) => {
                if let Err(e) = session.respond(&request, &response) {
                    tracing::warn!(error = %e, "an answer was refused by the session");
                }
            }
            Answer::Fetch(uid, items) => {
                let _ = session.fetch_data(&request, uid, items);
            }
            Answer::Search(uids, modseq) => {
                let _ = session.search_matches(&request, &uids, modseq);
            }
            Answer::Open(snapshot) => {
                let _ = session.open_mailbox(&request, snapshot);
            }
            change => apply_change(session, change),
        }
    }
    // The handle is the pending request: completing cannot fail.
    let _ = session.complete(request, outcome.status, outcome.text);
    if gone {
        apply_change(session, Answer::Gone);
    }
}

/// Gives the session a change of the selected mailbox.
fn apply_change(session: &mut ServerSession, answer: Answer) {
    match answer {
        Answer::Added(uid) => session.message_added(uid),
        Answer::Expunged(uid) => session.message_expunged(uid),
        Answer::Flags(uid, flags, modseq) => session.flags_changed(uid, flags, modseq),
        Answer::Gone => session.shutdown("The selected mailbox was deleted"),
        Answer::Recent(n) => session.recent_changed(n),
        other => tracing::debug!(?other, "not a change"),
    }
}

/// The look at the store that ends a FETCH: changes to report (expunges
/// only where the command allows them) and the searches kept up to date.
fn after_fetch(work: &mut Work, allow_expunge: bool, info: &Info) -> Vec<Answer> {
    let mut answers = Vec::new();
    exec::changes(work, allow_expunge, info, &mut answers);
    search::update_live_searches(work, info, &mut answers);
    answers
}
