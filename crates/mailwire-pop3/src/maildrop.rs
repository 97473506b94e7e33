//! The storage behind a POP3 server session, and an in-memory maildrop.
//!
//! The session owns RFC 1939's rules (stable numbering, deletion marks,
//! RSET, commit only at QUIT) and never calls storage itself: it asks the
//! application through events. A [`Maildrop`] only lists, reads, locks and
//! commits, and [`MaildropServer`](crate::MaildropServer) answers a
//! session's events with one. The mailbox-model crate plugs its store in
//! here.

use std::collections::HashSet;
use std::io::{self, Read};
use std::sync::{Arc, Mutex};

use crate::types::{MessageNumber, UniqueId};

/// What a session knows of one message from the moment of login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageInfo {
    /// The exact size in octets as sent by RETR (CRLF line ends, before
    /// dot-stuffing).
    pub size: u64,
    /// The unique id, stable across sessions.
    pub unique_id: UniqueId<'static>,
    /// The message needs UTF-8 mode (RFC 6856 section 2.1), such as one
    /// received with SMTPUTF8: without the UTF8 command the session refuses
    /// it with `-ERR [UTF8]` rather than send non-ASCII as is. Legacy mail
    /// with stray 8-bit header bytes should not be marked, or clients that
    /// never send UTF8 could no longer read it.
    pub needs_utf8: bool,
}

/// A failure of the store, mapped by the session to the right response
/// code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MaildropError {
    /// Another session holds the maildrop: `-ERR [IN-USE]`.
    #[error("maildrop in use")]
    InUse,
    /// A transient failure: `-ERR [SYS/TEMP]`.
    #[error("temporary failure: {0}")]
    Temporary(String),
    /// A permanent failure: `-ERR [SYS/PERM]`.
    #[error("permanent failure: {0}")]
    Permanent(String),
    /// The message is gone (another program removed it since the
    /// listing): `-ERR` without a code, a fault of that message alone
    /// (RFC 3206's `SYS/PERM` speaks of the whole system).
    #[error("message gone: {0}")]
    Gone(String),
}

/// Storage for one user's maildrop, as a POP3 session needs it, read
/// blocking; [`MaildropServer`](crate::MaildropServer) answers a
/// [`ServerSession`](crate::ServerSession)'s storage events with it.
pub trait Maildrop {
    /// A message being read.
    type Message: Read;

    /// Takes the maildrop for this session (or fails with
    /// [`MaildropError::InUse`]) and returns the messages it holds, in
    /// order: message 1 first. The list is frozen for the session.
    fn lock(&mut self) -> Result<Vec<MessageInfo>, MaildropError>;

    /// Opens a message for reading. It yields the message with CRLF line
    /// ends, exactly [`MessageInfo::size`] octets (the session also copes
    /// with bare LF and a missing final CRLF).
    fn open(&mut self, message: MessageNumber) -> Result<Self::Message, MaildropError>;

    /// Removes the `deleted` messages, all or none, and releases the lock.
    /// Called only when the client sent QUIT in the TRANSACTION state.
    /// `retrieved` are the other messages RETR sent whole
    /// ([`CommitHandle::retrieved`](crate::CommitHandle::retrieved)), which
    /// a maildrop may mark read; failing to mark them must not keep the
    /// deletions from being made.
    fn commit(&mut self, deleted: &[MessageNumber], retrieved: &[MessageNumber])
    -> Result<(), MaildropError>;

    /// Releases the lock without changing anything: the session ended
    /// without QUIT.
    fn release(&mut self);
}

#[derive(Debug)]
struct Stored {
    serial: u64,
    unique_id: UniqueId<'static>,
    content: Arc<[u8]>,
    needs_utf8: bool,
}

#[derive(Debug, Default)]
struct Shared {
    /// (serial, unique id, content): the serial tells messages apart even
    /// when two hold the same bytes.
    messages: Vec<Stored>,
    next_serial: u64,
    locked: bool,
}

/// An in-memory maildrop for tests and demos. Clones share the same
/// messages and lock, so two sessions on one maildrop see IN-USE.
#[derive(Debug, Clone, Default)]
pub struct MemoryMaildrop {
    shared: Arc<Mutex<Shared>>,
    /// The messages this handle's session was shown at lock time.
    snapshot: Vec<(u64, Arc<[u8]>)>,
    /// Whether this handle holds the lock.
    holds_lock: bool,
}

impl MemoryMaildrop {
    /// An empty maildrop.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a message with the given unique id.
    pub fn push(&self, unique_id: UniqueId<'static>, message: impl Into<Arc<[u8]>>) {
        self.push_message(unique_id, message, false);
    }

    /// Adds a message, saying whether it needs UTF-8 mode
    /// ([`MessageInfo::needs_utf8`]).
    pub fn push_message(
        &self,
        unique_id: UniqueId<'static>,
        message: impl Into<Arc<[u8]>>,
        needs_utf8: bool,
    ) {
        let mut shared = self.lock_shared();
        let serial = shared.next_serial;
        shared.next_serial += 1;
        shared.messages.push(Stored {
            serial,
            unique_id,
            content: message.into(),
            needs_utf8,
        });
    }

    /// The messages now stored, in order.
    pub fn messages(&self) -> Vec<Arc<[u8]>> {
        self.lock_shared()
            .messages
            .iter()
            .map(|m| m.content.clone())
            .collect()
    }

    /// Whether some session holds the lock.
    pub fn is_locked(&self) -> bool {
        self.lock_shared().locked
    }

    fn lock_shared(&self) -> std::sync::MutexGuard<'_, Shared> {
        // A panic elsewhere must not make the maildrop unusable.
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Maildrop for MemoryMaildrop {
    type Message = io::Cursor<Arc<[u8]>>;

    fn lock(&mut self) -> Result<Vec<MessageInfo>, MaildropError> {
        let mut shared = self.lock_shared();
        if shared.locked {
            return Err(MaildropError::InUse);
        }
        shared.locked = true;
        let infos = shared
            .messages
            .iter()
            .map(|m| MessageInfo {
                size: crlf_size(&m.content),
                unique_id: m.unique_id.clone(),
                needs_utf8: m.needs_utf8,
            })
            .collect();
        let snapshot = shared
            .messages
            .iter()
            .map(|m| (m.serial, m.content.clone()))
            .collect();
        drop(shared);
        self.snapshot = snapshot;
        self.holds_lock = true;
        Ok(infos)
    }

    fn open(&mut self, message: MessageNumber) -> Result<Self::Message, MaildropError> {
        self.snapshot
            .get(message.index())
            .map(|(_, m)| io::Cursor::new(m.clone()))
            .ok_or_else(|| MaildropError::Permanent("no such message".into()))
    }

    fn commit(
        &mut self,
        deleted: &[MessageNumber],
        _retrieved: &[MessageNumber],
    ) -> Result<(), MaildropError> {
        let gone: HashSet<u64> = deleted
            .iter()
            .filter_map(|n| self.snapshot.get(n.index()))
            .map(|(serial, _)| *serial)
            .collect();
        let mut shared = self.lock_shared();
        shared.messages.retain(|m| !gone.contains(&m.serial));
        shared.locked = false;
        drop(shared);
        self.holds_lock = false;
        Ok(())
    }

    fn release(&mut self) {
        if self.holds_lock {
            self.lock_shared().locked = false;
            self.holds_lock = false;
        }
    }
}

/// The size of a message once bare LF is CRLF and a final CRLF is present:
/// what RETR sends before dot-stuffing.
pub fn crlf_size(message: &[u8]) -> u64 {
    let mut size = message.len() as u64;
    for lf in memchr::memchr_iter(b'\n', message) {
        if lf == 0 || message[lf - 1] != b'\r' {
            size += 1;
        }
    }
    match message {
        [] | [.., b'\n'] => size,
        [.., b'\r'] => size + 1,
        _ => size + 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_match_what_retr_sends() {
        for m in [
            &b""[..],
            b"a",
            b"a\n",
            b"a\r\n",
            b"a\nb",
            b"a\r",
            b"\n\n",
            b"x\r\ny",
        ] {
            let mut out = Vec::new();
            let mut s = crate::DotStuffer::new();
            s.push(m, &mut out);
            s.finish(&mut out);
            assert_eq!(crlf_size(m), s.normalised_len(), "{m:?}");
        }
    }

    #[test]
    fn lock_is_exclusive_and_released() {
        let drop1 = MemoryMaildrop::new();
        drop1.push(UniqueId::new("a").unwrap(), &b"x\r\n"[..]);
        let mut s1 = drop1.clone();
        let mut s2 = drop1.clone();
        assert_eq!(s1.lock().unwrap().len(), 1);
        assert_eq!(s2.lock(), Err(MaildropError::InUse));
        s1.release();
        assert!(s2.lock().is_ok());
        s2.commit(&[MessageNumber::FIRST], &[]).unwrap();
        assert!(drop1.messages().is_empty());
        assert!(!drop1.is_locked());
    }
}
