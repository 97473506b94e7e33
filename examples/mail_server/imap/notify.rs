//! NOTIFY (RFC 5465): news of mailboxes other than the selected one, sent
//! without waiting for a command: `STATUS` when messages arrive, leave or
//! change flags, `LIST` when mailboxes are created, deleted or renamed and
//! when subscriptions change. The selected mailbox's news is the session's
//! usual EXISTS, EXPUNGE and FETCH, sent at once rather than at the next
//! command.

use std::collections::{BTreeMap, BTreeSet};

use mailwire::imap::{
    Code, EventGroup, FetchItem, FilterMailboxes, MailboxAttribute, MailboxList, Notify, NotifyEvent,
    Response,
};
use mailwire::mailbox::{MailboxName, StoreError};

use super::exec::{self, Answer, DELIMITER, Info, Outcome, Work};

/// What a `NOTIFY SET` asked for, and what was last reported.
#[derive(Debug, Default)]
pub struct Watching {
    /// Events for the selected mailbox, and whether expunges wait for a
    /// command (`selected-delayed`).
    pub selected: Option<SelectedEvents>,
    groups: Vec<Group>,
    /// The last STATUS values reported, per mailbox in a group.
    statuses: BTreeMap<MailboxName, Vec<u64>>,
    mailboxes: BTreeSet<MailboxName>,
    subscriptions: BTreeSet<MailboxName>,
    /// The names of the `mailboxes` and `subtree` filters are UTF-8
    /// (UTF8=ACCEPT was on when NOTIFY SET came), not modified UTF-7.
    utf8: bool,
}

/// The events a client wants for the selected mailbox.
#[derive(Debug, Clone)]
pub struct SelectedEvents {
    /// Expunges wait for a command that may report them.
    pub delayed: bool,
    /// What MessageNew asked to be sent of each new message (RFC 5465
    /// section 5.2), after its EXISTS.
    pub new_message: Vec<FetchItem<'static>>,
}

/// One event group other than the selected mailbox.
#[derive(Debug)]
struct Group {
    filter: FilterMailboxes<'static>,
    messages: bool,
    flags: bool,
    names: bool,
    subscriptions: bool,
}

/// Runs `NOTIFY NONE` or `NOTIFY SET`; the watching to keep, and the
/// outcome (with the STATUS of every mailbox concerned for `SET STATUS`).
/// STATUS carries MESSAGES, UIDNEXT, UIDVALIDITY and UNSEEN (RFC 5465
/// sections 5.2 to 5.4); MessageNew's FETCH attributes for the selected
/// mailbox are sent after the EXISTS of each new message (see
/// [`exec::new_message_data`]).
pub fn set(work: &Work, notify: &Notify<'static>, info: &Info) -> (Option<Watching>, Outcome) {
    let (status, groups) = match notify {
        Notify::None => return (None, Outcome::ok(Vec::new(), "NOTIFY completed")),
        Notify::Set { status, groups } => (*status, groups),
        #[allow(unreachable_patterns)]
        _ => return (None, Outcome::bad("Unknown NOTIFY form")),
    };
    let mut watching = Watching {
        utf8: info.utf8,
        ..Watching::default()
    };
    let mut unsupported = Vec::new();
    for group in groups {
        let EventGroup { filter, events } = group;
        let events = events.as_deref().unwrap_or_default();
        let mut g = Group {
            filter: filter.clone(),
            messages: false,
            flags: false,
            names: false,
            subscriptions: false,
        };
        for event in events {
            match event {
                NotifyEvent::MessageNew(_) | NotifyEvent::MessageExpunge => g.messages = true,
                NotifyEvent::FlagChange => g.flags = true,
                NotifyEvent::MailboxName => g.names = true,
                NotifyEvent::SubscriptionChange => g.subscriptions = true,
                other => unsupported.push(other.clone()),
            }
        }
        match filter {
            FilterMailboxes::Selected | FilterMailboxes::SelectedDelayed => {
                if !events.is_empty() {
                    let new_message = events
                        .iter()
                        .find_map(|e| match e {
                            NotifyEvent::MessageNew(items) => {
                                Some(super::fetch::once_each(items).into_owned())
                            }
                            _ => None,
                        })
                        .unwrap_or_default();
                    watching.selected = Some(SelectedEvents {
                        delayed: matches!(filter, FilterMailboxes::SelectedDelayed),
                        new_message,
                    });
                }
            }
            _ => watching.groups.push(g),
        }
    }
    if !unsupported.is_empty() {
        // RFC 5465 section 5: the events this server cannot report.
        let mut outcome = Outcome::no("Event not supported");
        outcome.text.code = Some(Code::BadEvent(vec![
            NotifyEvent::MessageNew(Vec::new()),
            NotifyEvent::MessageExpunge,
            NotifyEvent::FlagChange,
            NotifyEvent::MailboxName,
            NotifyEvent::SubscriptionChange,
        ]));
        return (None, outcome);
    }
    let mut answers = Vec::new();
    match watching.refresh(work, info) {
        Ok(_) => {}
        Err(e) => return (None, exec::store_failure(&e)),
    }
    if status {
        for (name, values) in &watching.statuses {
            answers.push(Answer::Data(status_response(name, values, info)));
        }
    }
    (Some(watching), Outcome::ok(answers, "NOTIFY completed"))
}

impl Watching {
    /// Whether anything outside the selected mailbox is watched.
    pub fn has_groups(&self) -> bool {
        !self.groups.is_empty()
    }

    /// Reads the mailboxes again and returns the news since the last
    /// look: STATUS of mailboxes whose counts changed, LIST of mailboxes
    /// that appeared or went and of changed subscriptions. The selected
    /// mailbox is left out (the session reports it).
    pub fn refresh(&mut self, work: &Work, info: &Info) -> Result<Vec<Response<'static>>, StoreError> {
        let all: BTreeSet<MailboxName> = work.account.list()?.into_iter().map(|e| e.name).collect();
        let subscriptions: BTreeSet<MailboxName> = work.account.subscriptions()?.into_iter().collect();
        let selected = work.selected.as_ref().map(|s| s.mailbox().name.clone());
        let mut out = Vec::new();
        let names = self.groups.iter().any(|g| g.names);
        if names && !self.mailboxes.is_empty() {
            for gone in self.mailboxes.difference(&all) {
                if self.watched(gone, &subscriptions, |g| g.names) {
                    out.push(list(gone, vec![MailboxAttribute::NonExistent], info));
                }
            }
            for new in all.difference(&self.mailboxes) {
                if self.watched(new, &subscriptions, |g| g.names) {
                    out.push(list(new, Vec::new(), info));
                }
            }
        }
        if self.groups.iter().any(|g| g.subscriptions) && !self.mailboxes.is_empty() {
            for changed in subscriptions.symmetric_difference(&self.subscriptions) {
                if self.watched(changed, &subscriptions, |g| g.subscriptions) {
                    let attributes = if subscriptions.contains(changed) {
                        vec![MailboxAttribute::Subscribed]
                    } else {
                        Vec::new()
                    };
                    out.push(list(changed, attributes, info));
                }
            }
        }
        let mut statuses = BTreeMap::new();
        for name in &all {
            if Some(name) == selected.as_ref()
                || !self.watched(name, &subscriptions, |g| g.messages || g.flags)
            {
                continue;
            }
            let status = match work.account.status(name) {
                Ok(s) => s,
                // Deleted meanwhile: the next look reports it.
                Err(StoreError::NoSuchMailbox(_) | StoreError::MailboxGone(_)) => continue,
                Err(e) => return Err(e),
            };
            let values = vec![
                u64::from(status.messages),
                u64::from(status.uid_next.get()),
                u64::from(status.uid_validity.get()),
                u64::from(status.unseen),
            ];
            if self.statuses.get(name).is_some_and(|old| *old != values) {
                out.push(status_response(name, &values, info));
            }
            statuses.insert(name.clone(), values);
        }
        self.statuses = statuses;
        self.mailboxes = all;
        self.subscriptions = subscriptions;
        Ok(out)
    }

    /// Whether a group that matches `name` wants the events `wants` picks.
    fn watched(
        &self,
        name: &MailboxName,
        subscriptions: &BTreeSet<MailboxName>,
        wants: impl Fn(&Group) -> bool,
    ) -> bool {
        self.groups.iter().any(|g| {
            wants(g)
                && match &g.filter {
                    FilterMailboxes::Personal => true,
                    FilterMailboxes::Inboxes => name.is_inbox(),
                    FilterMailboxes::Subscribed => subscriptions.contains(name),
                    FilterMailboxes::Subtree(list) => list.mailboxes().iter().any(|m| {
                        MailboxName::from_imap(m, self.utf8)
                            .is_ok_and(|root| &root == name || name.is_inferior_of(&root))
                    }),
                    FilterMailboxes::Mailboxes(list) => list
                        .mailboxes()
                        .iter()
                        .any(|m| MailboxName::from_imap(m, self.utf8).is_ok_and(|n| &n == name)),
                    _ => false,
                }
        })
    }
}

fn status_response(name: &MailboxName, values: &[u64], info: &Info) -> Response<'static> {
    use mailwire::imap::StatusValue;
    let [messages, uid_next, uid_validity, unseen] = values else {
        unreachable!("four values")
    };
    let nz = |v: u64| {
        std::num::NonZeroU32::new(u32::try_from(v).unwrap_or(u32::MAX)).unwrap_or(std::num::NonZeroU32::MIN)
    };
    Response::MailboxStatus(mailwire::imap::MailboxStatus {
        mailbox: name.to_imap(info.utf8).into_owned(),
        values: vec![
            StatusValue::Messages(*messages as u32),
            StatusValue::UidNext(nz(*uid_next)),
            StatusValue::UidValidity(nz(*uid_validity)),
            StatusValue::Unseen(*unseen as u32),
        ],
    })
}

fn list(name: &MailboxName, attributes: Vec<MailboxAttribute<'static>>, info: &Info) -> Response<'static> {
    Response::List(MailboxList {
        attributes,
        delimiter: Some(DELIMITER),
        mailbox: name.to_imap(info.utf8).into_owned(),
        extended: Vec::new(),
    })
}
