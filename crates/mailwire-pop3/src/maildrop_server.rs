//! A blocking adapter: a [`Maildrop`] answering a [`ServerSession`]'s
//! storage events.
//!
//! The session asks for storage through events and handles; a program
//! whose storage is a [`Maildrop`] read on the connection's own thread
//! hands those events to a [`MaildropServer`] and keeps only the decisions
//! that are its own (who may log in, TLS, logging).

use std::io::{ErrorKind, Read};

use bytes::Bytes;

use crate::maildrop::{Maildrop, MaildropError};
use crate::server::{
    CommitHandle, HandleError, LoginHandle, LoginRejection, RetrieveHandle, ServerEvent, ServerSession,
};

/// Answers a [`ServerSession`]'s storage events from a [`Maildrop`], on
/// the caller's thread.
///
/// - [`accept_login`](Self::accept_login) locks and lists the user's
///   maildrop once the application has checked the credentials (IN-USE
///   and failures become the right `-ERR`);
/// - [`handle_event`](Self::handle_event) (or
///   [`poll_event`](Self::poll_event)) answers [`ServerEvent::Commit`]
///   with [`Maildrop::commit`], opens the message of a
///   [`ServerEvent::Retrieve`], and releases the maildrop on
///   [`ServerEvent::Closed`] without a commit;
/// - [`poll_transmit`](Self::poll_transmit) streams the open message into
///   the session in pieces of [`ServerConfig::transmit_chunk`](crate::ServerConfig::transmit_chunk)
///   bytes, reading only as fast as the output is taken;
/// - dropping it releases a maildrop still locked (a session that ended
///   without QUIT commits nothing).
///
/// ```
/// use mailwire_pop3::{MaildropServer, MemoryMaildrop, ServerConfig, ServerEvent, ServerSession, UniqueId};
///
/// let maildrop = MemoryMaildrop::new();
/// maildrop.push(UniqueId::new("m1")?, &b"Subject: hi\r\n\r\nHello\r\n"[..]);
///
/// let mut session = ServerSession::new(ServerConfig {
///     allow_plaintext_auth: true,
///     ..ServerConfig::default()
/// });
/// let mut store = MaildropServer::new();
/// session.receive(b"USER alice\r\nPASS secret\r\nRETR 1\r\nQUIT\r\n");
/// let mut sent = Vec::new();
/// loop {
///     let mut progressed = false;
///     while let Some(event) = store.poll_event(&mut session) {
///         progressed = true;
///         if let ServerEvent::Login(login) = event {
///             // Check the credentials here.
///             store.accept_login(&mut session, login, maildrop.clone())?;
///         }
///     }
///     while let Some(bytes) = store.poll_transmit(&mut session) {
///         progressed = true;
///         sent.extend_from_slice(&bytes);
///     }
///     if !progressed {
///         break;
///     }
/// }
/// assert!(sent.ends_with(b"Hello\r\n.\r\n+OK POP3 server signing off (1 message left)\r\n"));
/// assert!(session.is_closed() && !maildrop.is_locked());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct MaildropServer<M: Maildrop> {
    maildrop: Option<M>,
    locked: bool,
    sending: Option<(RetrieveHandle, M::Message)>,
    buffer: Vec<u8>,
}

impl<M: Maildrop> std::fmt::Debug for MaildropServer<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MaildropServer")
            .field("locked", &self.locked)
            .field("sending", &self.sending.as_ref().map(|(handle, _)| handle))
            .finish_non_exhaustive()
    }
}

impl<M: Maildrop> Default for MaildropServer<M> {
    fn default() -> Self {
        Self::new()
    }
}

impl<M: Maildrop> MaildropServer<M> {
    /// An adapter with no maildrop yet: it gets one at login.
    pub fn new() -> Self {
        MaildropServer {
            maildrop: None,
            locked: false,
            sending: None,
            buffer: Vec::new(),
        }
    }

    /// The maildrop given at login.
    pub fn maildrop(&self) -> Option<&M> {
        self.maildrop.as_ref()
    }

    /// Whether this adapter holds its maildrop's lock.
    pub fn is_locked(&self) -> bool {
        self.locked
    }

    /// Accepts the login of `handle` (the application checked the
    /// credentials) with the user's `maildrop`: locks it and gives the
    /// session its list. If it cannot be locked, the login is rejected
    /// instead: [`MaildropError::InUse`] with `-ERR [IN-USE]`, other
    /// failures with `[SYS/TEMP]` or `[SYS/PERM]`
    /// ([`LoginRejection::from`]); [`ServerSession::is_authenticated`]
    /// tells which happened.
    pub fn accept_login(
        &mut self,
        session: &mut ServerSession,
        handle: LoginHandle,
        maildrop: M,
    ) -> Result<(), HandleError> {
        self.release();
        let mut maildrop = maildrop;
        match maildrop.lock() {
            Ok(messages) => match session.accept_login(handle, messages) {
                Ok(()) => {
                    self.maildrop = Some(maildrop);
                    self.locked = true;
                    Ok(())
                }
                Err(e) => {
                    maildrop.release();
                    Err(e)
                }
            },
            Err(e) => session.reject_login(handle, LoginRejection::from(&e)),
        }
    }

    /// The session's next event that the application answers itself
    /// ([`ServerEvent::Login`], [`ServerEvent::StartTls`],
    /// [`ServerEvent::Closed`], ...): storage events are answered on the
    /// way, as [`handle_event`](Self::handle_event) does.
    pub fn poll_event(&mut self, session: &mut ServerSession) -> Option<ServerEvent> {
        while let Some(event) = session.poll_event() {
            if let Some(event) = self.handle_event(session, event) {
                return Some(event);
            }
        }
        None
    }

    /// Answers `event` if it is a storage event and gives it back
    /// otherwise. A [`ServerEvent::Retrieve`] opens the message, which
    /// [`poll_transmit`](Self::poll_transmit) then streams; a
    /// [`ServerEvent::Commit`] commits; a [`ServerEvent::Closed`] without
    /// commit releases the lock and is given back too.
    pub fn handle_event(&mut self, session: &mut ServerSession, event: ServerEvent) -> Option<ServerEvent> {
        match event {
            ServerEvent::Retrieve(handle) => {
                self.retrieve(session, handle);
                None
            }
            ServerEvent::Commit(handle) => {
                self.commit(session, handle);
                None
            }
            ServerEvent::Closed { committed } => {
                if !committed {
                    self.release();
                }
                self.sending = None;
                Some(event)
            }
            other => Some(other),
        }
    }

    /// The next bytes to send: the session's output, and once that is
    /// drained, the next piece of the message being retrieved, read from
    /// the maildrop.
    pub fn poll_transmit(&mut self, session: &mut ServerSession) -> Option<Bytes> {
        loop {
            if let Some(bytes) = session.poll_transmit() {
                return Some(bytes);
            }
            if !self.feed(session) {
                return None;
            }
        }
    }

    /// Reads the next piece of the message being sent into the session;
    /// false if there is none.
    fn feed(&mut self, session: &mut ServerSession) -> bool {
        let Some((handle, reader)) = &mut self.sending else {
            return false;
        };
        if session.top_complete() {
            self.end(session);
            return true;
        }
        if !session.wants_message_data() {
            return false;
        }
        self.buffer.resize(session.config().transmit_chunk.max(512), 0);
        let read = loop {
            match reader.read(&mut self.buffer) {
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                other => break other,
            }
        };
        match read {
            Ok(0) => self.end(session),
            Ok(n) => {
                // The handle is the pending one: the session took it from us.
                let _ = session.message_data(handle, &self.buffer[..n]);
            }
            Err(e) => {
                if let Some((handle, _)) = self.sending.take() {
                    let _ = session.message_failed(handle, MaildropError::Temporary(e.to_string()));
                }
            }
        }
        true
    }

    fn end(&mut self, session: &mut ServerSession) {
        if let Some((handle, _)) = self.sending.take() {
            let _ = session.message_end(handle);
        }
    }

    fn retrieve(&mut self, session: &mut ServerSession, handle: RetrieveHandle) {
        let opened = match &mut self.maildrop {
            Some(maildrop) if self.locked => maildrop.open(handle.message()),
            _ => Err(MaildropError::Permanent("no maildrop locked".into())),
        };
        match opened {
            Ok(reader) => self.sending = Some((handle, reader)),
            Err(e) => {
                let _ = session.message_failed(handle, e);
            }
        }
    }

    fn commit(&mut self, session: &mut ServerSession, handle: CommitHandle) {
        let result = match &mut self.maildrop {
            Some(maildrop) if self.locked => maildrop.commit(handle.deleted(), handle.retrieved()),
            _ => Err(MaildropError::Permanent("no maildrop locked".into())),
        };
        match result {
            Ok(()) => {
                self.locked = false;
                let _ = session.commit_done(handle);
            }
            Err(e) => {
                self.release();
                let _ = session.commit_failed(handle, e);
            }
        }
    }

    /// Releases the lock, if held, without changing anything.
    fn release(&mut self) {
        self.sending = None;
        if self.locked {
            self.locked = false;
            if let Some(maildrop) = &mut self.maildrop {
                maildrop.release();
            }
        }
    }
}

impl<M: Maildrop> Drop for MaildropServer<M> {
    fn drop(&mut self) {
        // A session that ended without a committed QUIT commits nothing.
        self.release();
    }
}
