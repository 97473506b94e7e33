//! The POP3 view of an account: its INBOX as a [`mailwire_pop3::Maildrop`].
//!
//! At `lock()` the view freezes the INBOX into a numbered list (RFC 1939
//! section 4: numbers and sizes do not change during the session), reading
//! sizes and ids from the index without opening any message. It then hears
//! of nothing but expunges, so that a message another session expunges
//! stays readable to this one until it ends. `commit()` at QUIT marks the
//! messages RETR sent `\Seen` (as Dovecot does; see
//! [`Pop3Config::mark_seen`]), then removes the deleted messages in one
//! transaction, and skips those someone else expunged already;
//! `release()` changes nothing.
//!
//! The sizes are the messages' RFC822.SIZE (CRLF line ends), as Dovecot
//! lists them: a message whose last line has no line end (another program
//! delivered it so) is sent with the CRLF RFC 1939 puts before the
//! terminating `.` line, one or two octets more than listed. Counting them
//! would need a read of every such file at login, and would list sizes
//! that differ from Dovecot's for the same Maildir.

use std::io::Read;
use std::sync::Arc;

use mailwire_pop3::{Maildrop, MaildropError, MessageInfo, MessageNumber, UniqueId};

use crate::backend::{ExpungeRequest, StoreFlags};
use crate::feed::{FeedId, SessionId, SessionKind};
use crate::flags::{FlagAction, Flags, SystemFlags};
use crate::store::Account;
use crate::types::{MailboxName, MailboxRef, StoreError, Uid};
use crate::uidl::{UidlFormat, UidlTemplate};

/// How POP3 sessions share a maildrop.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum LockPolicy {
    /// One POP3 session at a time (RFC 1939 section 8): a second one gets
    /// `-ERR [IN-USE]`. IMAP sessions are not affected. The lock is held
    /// in this [`Store`](crate::Store), not across processes.
    #[default]
    Exclusive,
    /// No lock: POP3 sessions may overlap; each has its own frozen list,
    /// and a message deleted by two of them is removed once.
    None,
}

/// Settings of the POP3 view.
#[derive(Debug, Clone)]
pub struct Pop3Config {
    /// The lock policy.
    pub lock: LockPolicy,
    /// How unique ids are made; [`UidlTemplate::default`] (Dovecot's
    /// `%08Xu%08Xv`) unless set.
    pub uidl: Arc<dyn UidlFormat>,
    /// Whether a session that ends with QUIT marks the messages RETR sent
    /// `\Seen` (TOP does not), so that an IMAP client of the account sees
    /// them read; on by default, as in Dovecot (its
    /// `pop3_no_flag_updates = yes` turns it off). A session that ends
    /// without QUIT changes nothing.
    pub mark_seen: bool,
}

impl Default for Pop3Config {
    fn default() -> Self {
        Pop3Config {
            lock: LockPolicy::Exclusive,
            uidl: Arc::new(UidlTemplate::default()),
            mark_seen: true,
        }
    }
}

#[derive(Debug)]
struct Locked {
    feed: FeedId,
    session: SessionId,
    mailbox: MailboxRef,
    /// Message n is `uids[n - 1]`.
    uids: Vec<Uid>,
}

/// An account's INBOX as a POP3 maildrop. At each login, give one to the
/// connection's [`mailwire_pop3::MaildropServer`], which answers its
/// [`mailwire_pop3::ServerSession`]'s storage events with it.
#[derive(Debug)]
pub struct Pop3Maildrop {
    account: Account,
    config: Pop3Config,
    locked: Option<Locked>,
}

impl Account {
    /// The account's INBOX as a POP3 maildrop.
    pub fn maildrop(&self, config: Pop3Config) -> Pop3Maildrop {
        Pop3Maildrop {
            account: self.clone(),
            config,
            locked: None,
        }
    }
}

fn maildrop_error(e: StoreError) -> MaildropError {
    match e {
        StoreError::Temporary(text) => MaildropError::Temporary(text),
        other => MaildropError::Permanent(other.to_string()),
    }
}

impl Pop3Maildrop {
    /// The UIDs of the frozen list while locked (message 1 first).
    pub fn uids(&self) -> Option<&[Uid]> {
        self.locked.as_ref().map(|l| &l.uids[..])
    }

    fn uid(&self, n: MessageNumber) -> Result<(&Locked, Uid), MaildropError> {
        let locked = self
            .locked
            .as_ref()
            .ok_or_else(|| MaildropError::Permanent("maildrop not locked".into()))?;
        let uid = locked
            .uids
            .get(n.index())
            .ok_or_else(|| MaildropError::Permanent("no such message".into()))?;
        Ok((locked, *uid))
    }

    fn end(&mut self) {
        if let Some(locked) = self.locked.take() {
            self.account.unregister(locked.feed, locked.session, Vec::new());
        }
    }
}

impl Maildrop for Pop3Maildrop {
    type Message = Box<dyn Read + Send>;

    fn lock(&mut self) -> Result<Vec<MessageInfo>, MaildropError> {
        if self.locked.is_some() {
            return Err(MaildropError::Permanent(
                "maildrop already locked by this session".into(),
            ));
        }
        let account = self.account.clone();
        let backend = account.backend();
        let inbox = MailboxName::inbox();
        let mut state = account.lock();
        if self.config.lock == LockPolicy::Exclusive && state.pop3_lock.is_some() {
            return Err(MaildropError::InUse);
        }
        let entry = account.mailbox(&inbox).map_err(maildrop_error)?;
        let feed = state.feeds.open(&inbox, entry.uid_validity);
        let snapshot = account
            .sync_locked(&mut state, feed)
            .and_then(|()| backend.mailbox_snapshot(account.name(), &inbox));
        let snapshot = match snapshot {
            Ok(s) if s.uid_validity == entry.uid_validity => s,
            Ok(_) => {
                state.feeds.close_if_idle(feed);
                return Err(MaildropError::Temporary("INBOX changed, try again".into()));
            }
            Err(e) => {
                state.feeds.close_if_idle(feed);
                return Err(maildrop_error(e));
            }
        };
        let mut infos = Vec::with_capacity(snapshot.messages.len());
        let mut id = String::new();
        for m in &snapshot.messages {
            id.clear();
            self.config.uidl.write(m.uid, snapshot.uid_validity, &mut id);
            let Ok(unique_id) = UniqueId::new(id.clone()) else {
                state.feeds.close_if_idle(feed);
                return Err(MaildropError::Permanent(
                    "the UIDL format made an invalid id".into(),
                ));
            };
            infos.push(MessageInfo {
                size: m.size,
                unique_id,
                needs_utf8: false,
            });
        }
        let session = account.store.next_session();
        if let Some(f) = state.feeds.get_mut(feed) {
            let highest = snapshot.messages.iter().map(|m| m.uid.get()).max().unwrap_or(0);
            f.register(session, SessionKind::Pop3 { highest });
        }
        if self.config.lock == LockPolicy::Exclusive {
            state.pop3_lock = Some(session);
        }
        drop(state);
        self.locked = Some(Locked {
            feed,
            session,
            mailbox: entry.to_ref(),
            uids: snapshot.messages.iter().map(|m| m.uid).collect(),
        });
        Ok(infos)
    }

    fn open(&mut self, message: MessageNumber) -> Result<Self::Message, MaildropError> {
        let (locked, uid) = self.uid(message)?;
        let backend = self.account.backend();
        backend
            .open_message(self.account.name(), &locked.mailbox, uid)
            .map_err(|e| match e {
                StoreError::NoSuchMessage(_) => {
                    MaildropError::Gone("message was removed by another program".into())
                }
                other => maildrop_error(other),
            })
    }

    fn commit(
        &mut self,
        deleted: &[MessageNumber],
        retrieved: &[MessageNumber],
    ) -> Result<(), MaildropError> {
        let Some(locked) = &self.locked else {
            return Err(MaildropError::Permanent("maildrop not locked".into()));
        };
        let uids_of = |numbers: &[MessageNumber]| -> Vec<Uid> {
            numbers
                .iter()
                .filter_map(|n| locked.uids.get(n.index()).copied())
                .collect()
        };
        let account = self.account.clone();
        let uids = uids_of(deleted);
        if !uids.is_empty() {
            let request = ExpungeRequest {
                uids: Some(uids),
                only_deleted: false,
            };
            let mut state = account.lock();
            // Messages someone else expunged meanwhile are simply not
            // found: the rest is still removed.
            account
                .expunge_locked(&mut state, &locked.mailbox, &request)
                .map_err(maildrop_error)?;
        }
        // After the deletions, so that a QUIT that fails changes nothing.
        let seen = if self.config.mark_seen {
            uids_of(retrieved)
        } else {
            Vec::new()
        };
        if !seen.is_empty() {
            let request = StoreFlags {
                uids: seen,
                action: FlagAction::Add,
                flags: Flags::system(SystemFlags::SEEN),
                condition: None,
            };
            let mut state = account.lock();
            // Marking read is not what QUIT commits to: a failure (a full
            // disk) is reported, and the deletions stand.
            if let Err(e) = account.store_flags_locked(&mut state, &locked.mailbox, &request) {
                tracing::warn!(error = %e, "the messages RETR sent could not be marked \\Seen");
            }
        }
        self.end();
        Ok(())
    }

    fn release(&mut self) {
        self.end();
    }
}

impl Drop for Pop3Maildrop {
    fn drop(&mut self) {
        self.end();
    }
}
