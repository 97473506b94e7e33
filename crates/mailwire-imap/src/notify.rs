//! NOTIFY (RFC 5465): the client names the events it wants to hear of,
//! in which mailboxes, and the server sends them unasked (EXISTS, FETCH,
//! EXPUNGE, STATUS, LIST... responses), so a client watches many
//! mailboxes without polling or one IDLE connection each. Adds the NOTIFY
//! command, the `NOTIFICATIONOVERFLOW` and `BADEVENT` response codes, and
//! the `filter-mailboxes` grammar that MULTISEARCH (RFC 7377) shares.
//!
//! ```text
//! notify          = "NOTIFY" SP (notify-set / notify-none)
//! notify-set      = "SET" [status-indicator] SP event-groups
//! notify-none     = "NONE"
//! status-indicator = SP "STATUS"
//! one-or-more-mailbox = mailbox / many-mailboxes
//! many-mailboxes  = "(" mailbox *(SP mailbox) ")"
//! event-groups    = event-group *(SP event-group)
//! event-group     = "(" filter-mailboxes SP events ")"
//! filter-mailboxes = filter-mailboxes-selected / filter-mailboxes-other
//! filter-mailboxes-other = "inboxes" / "personal" / "subscribed" /
//!                   ( "subtree" SP one-or-more-mailbox ) /
//!                   ( "mailboxes" SP one-or-more-mailbox )
//! filter-mailboxes-other =/ ("subtree-one" SP one-or-more-mailbox)
//!                                                  ; RFC 7377
//! filter-mailboxes-selected = "selected" / "selected-delayed"
//! events          = ( "(" event *(SP event) ")" ) / "NONE"
//! event           = message-event / mailbox-event / user-event / event-ext
//! message-event   = ( "MessageNew" [SP "(" fetch-att *(SP fetch-att) ")" ] )
//!                   / "MessageExpunge" / "FlagChange" / "AnnotationChange"
//! mailbox-event   = "MailboxName" / "SubscriptionChange" /
//!                   "MailboxMetadataChange"
//! user-event      = "ServerMetadataChange"
//! event-ext       = atom
//! resp-text-code  =/ "NOTIFICATIONOVERFLOW" / unsupported-events-code
//! unsupported-events-code = "BADEVENT" SP "(" event-name *(SP event-name) ")"
//! ```
//!
//! The example of RFC 5465 section 3 writes the events of a group without
//! their parentheses (`(subtree Lists MessageNew)`); that form is decoded
//! too, and encoded in the grammar's form. Names are case-insensitive and
//! encoded as the RFC spells them. Groups, events, mailboxes and fetch
//! attributes together count against `limits.list`, parentheses against
//! `limits.depth`.

use crate::decode::DecoderConfig;
use crate::encode::Encoder;
use crate::extension::Budget;
use crate::fetch::FetchItem;
use crate::mailbox::Mailbox;
use crate::parse::{PResult, expect, fail, keyword, sp, too_many};
use crate::string::Atom;

/// `one-or-more-mailbox = mailbox / many-mailboxes`: kept in the form it
/// was sent in, so it re-encodes the same.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum OneOrMoreMailbox<'a> {
    /// A single name without parentheses.
    One(Mailbox<'a>),
    /// `"(" mailbox *(SP mailbox) ")"`; never empty when decoded.
    List(Vec<Mailbox<'a>>),
}

impl<'a> OneOrMoreMailbox<'a> {
    /// The names.
    pub fn mailboxes(&self) -> &[Mailbox<'a>] {
        match self {
            OneOrMoreMailbox::One(m) => std::slice::from_ref(m),
            OneOrMoreMailbox::List(l) => l,
        }
    }

    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> OneOrMoreMailbox<'static> {
        match self {
            OneOrMoreMailbox::One(m) => OneOrMoreMailbox::One(m.into_owned()),
            OneOrMoreMailbox::List(l) => {
                OneOrMoreMailbox::List(l.into_iter().map(Mailbox::into_owned).collect())
            }
        }
    }

    fn parse(input: &'a [u8], config: &DecoderConfig, budget: &mut Budget) -> PResult<'a, Self> {
        if input.first() != Some(&b'(') {
            budget.count(input, "fewer mailboxes")?;
            return Mailbox::parse(input, &config.leniency).map(|(r, m)| (r, OneOrMoreMailbox::One(m)));
        }
        budget.enter(input)?;
        let mut rest = &input[1..];
        let mut list = Vec::new();
        loop {
            budget.count(rest, "')'")?;
            let (r, m) = Mailbox::parse(rest, &config.leniency)?;
            list.push(m);
            match r.first() {
                Some(b')') => {
                    budget.leave();
                    return Ok((&r[1..], OneOrMoreMailbox::List(list)));
                }
                Some(b' ') => rest = &r[1..],
                _ => return fail(r, "space or ')'"),
            }
        }
    }

    fn encode<'e>(&'e self, e: &mut Encoder<'e>) {
        match self {
            OneOrMoreMailbox::One(m) => m.encode(e),
            OneOrMoreMailbox::List(l) => {
                e.put(b"(");
                for (i, m) in l.iter().enumerate() {
                    if i > 0 {
                        e.put(b" ");
                    }
                    m.encode(e);
                }
                e.put(b")");
            }
        }
    }
}

/// Which mailboxes an event group (NOTIFY) or a multimailbox search
/// (MULTISEARCH, RFC 7377) covers: `filter-mailboxes`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FilterMailboxes<'a> {
    /// `selected`: the selected mailbox, events sent at once.
    Selected,
    /// `selected-delayed`: the selected mailbox, expunges held back until
    /// a command that allows them.
    SelectedDelayed,
    /// `inboxes`: the personal mailboxes mail is delivered to.
    Inboxes,
    /// `personal`: every mailbox of the personal namespaces.
    Personal,
    /// `subscribed`: every subscribed mailbox.
    Subscribed,
    /// `subtree`: the mailboxes and everything below them.
    Subtree(OneOrMoreMailbox<'a>),
    /// `subtree-one` (RFC 7377): the mailboxes and their children, one
    /// level down.
    SubtreeOne(OneOrMoreMailbox<'a>),
    /// `mailboxes`: exactly these (no wildcards).
    Mailboxes(OneOrMoreMailbox<'a>),
}

impl<'a> FilterMailboxes<'a> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> FilterMailboxes<'static> {
        match self {
            FilterMailboxes::Selected => FilterMailboxes::Selected,
            FilterMailboxes::SelectedDelayed => FilterMailboxes::SelectedDelayed,
            FilterMailboxes::Inboxes => FilterMailboxes::Inboxes,
            FilterMailboxes::Personal => FilterMailboxes::Personal,
            FilterMailboxes::Subscribed => FilterMailboxes::Subscribed,
            FilterMailboxes::Subtree(m) => FilterMailboxes::Subtree(m.into_owned()),
            FilterMailboxes::SubtreeOne(m) => FilterMailboxes::SubtreeOne(m.into_owned()),
            FilterMailboxes::Mailboxes(m) => FilterMailboxes::Mailboxes(m.into_owned()),
        }
    }

    /// `filter-mailboxes`, with RFC 7377's `subtree-one`.
    pub(crate) fn parse(input: &'a [u8], config: &DecoderConfig, budget: &mut Budget) -> PResult<'a, Self> {
        let n = input
            .iter()
            .take_while(|&&b| b.is_ascii_alphabetic() || b == b'-')
            .count();
        let name = input[..n].to_ascii_lowercase();
        let after = &input[n..];
        let names = |make: fn(OneOrMoreMailbox<'a>) -> FilterMailboxes<'a>, budget: &mut Budget| {
            let (r, _) = sp(after)?;
            let (r, m) = OneOrMoreMailbox::parse(r, config, budget)?;
            Ok((r, make(m)))
        };
        match name.as_slice() {
            b"selected" => Ok((after, FilterMailboxes::Selected)),
            b"selected-delayed" => Ok((after, FilterMailboxes::SelectedDelayed)),
            b"inboxes" => Ok((after, FilterMailboxes::Inboxes)),
            b"personal" => Ok((after, FilterMailboxes::Personal)),
            b"subscribed" => Ok((after, FilterMailboxes::Subscribed)),
            b"subtree" => names(FilterMailboxes::Subtree, budget),
            b"subtree-one" => names(FilterMailboxes::SubtreeOne, budget),
            b"mailboxes" => names(FilterMailboxes::Mailboxes, budget),
            _ => fail(input, "mailbox filter"),
        }
    }

    pub(crate) fn encode<'e>(&'e self, e: &mut Encoder<'e>) {
        let (name, names) = match self {
            FilterMailboxes::Selected => ("selected", None),
            FilterMailboxes::SelectedDelayed => ("selected-delayed", None),
            FilterMailboxes::Inboxes => ("inboxes", None),
            FilterMailboxes::Personal => ("personal", None),
            FilterMailboxes::Subscribed => ("subscribed", None),
            FilterMailboxes::Subtree(m) => ("subtree", Some(m)),
            FilterMailboxes::SubtreeOne(m) => ("subtree-one", Some(m)),
            FilterMailboxes::Mailboxes(m) => ("mailboxes", Some(m)),
        };
        e.put(name.as_bytes());
        if let Some(m) = names {
            e.put(b" ");
            m.encode(e);
        }
    }
}

/// An event a client asks to be told of: `event`; in a `BADEVENT` code,
/// an `event-name`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NotifyEvent<'a> {
    /// `MessageNew`, with the fetch attributes the server sends for a new
    /// message in the selected mailbox (empty: none asked; not part of an
    /// event name, so not written in `BADEVENT`).
    MessageNew(Vec<FetchItem<'a>>),
    /// `MessageExpunge`.
    MessageExpunge,
    /// `FlagChange`.
    FlagChange,
    /// `AnnotationChange`.
    AnnotationChange,
    /// `MailboxName`: created, deleted, renamed.
    MailboxName,
    /// `SubscriptionChange`.
    SubscriptionChange,
    /// `MailboxMetadataChange` (RFC 5464 METADATA).
    MailboxMetadataChange,
    /// `ServerMetadataChange` (RFC 5464 METADATA).
    ServerMetadataChange,
    /// `event-ext = atom`: an event this crate does not know, as sent.
    Other(Atom<'a>),
}

/// The events of RFC 5465 by name, as the RFC spells them.
const EVENT_NAMES: [&str; 8] = [
    "MessageNew",
    "MessageExpunge",
    "FlagChange",
    "AnnotationChange",
    "MailboxName",
    "SubscriptionChange",
    "MailboxMetadataChange",
    "ServerMetadataChange",
];

impl<'a> NotifyEvent<'a> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> NotifyEvent<'static> {
        match self {
            NotifyEvent::MessageNew(f) => {
                NotifyEvent::MessageNew(f.into_iter().map(FetchItem::into_owned).collect())
            }
            NotifyEvent::MessageExpunge => NotifyEvent::MessageExpunge,
            NotifyEvent::FlagChange => NotifyEvent::FlagChange,
            NotifyEvent::AnnotationChange => NotifyEvent::AnnotationChange,
            NotifyEvent::MailboxName => NotifyEvent::MailboxName,
            NotifyEvent::SubscriptionChange => NotifyEvent::SubscriptionChange,
            NotifyEvent::MailboxMetadataChange => NotifyEvent::MailboxMetadataChange,
            NotifyEvent::ServerMetadataChange => NotifyEvent::ServerMetadataChange,
            NotifyEvent::Other(a) => NotifyEvent::Other(a.into_owned()),
        }
    }

    /// The event's name as the RFC spells it (an unknown one as sent).
    pub fn name(&self) -> &str {
        match self {
            NotifyEvent::MessageNew(_) => EVENT_NAMES[0],
            NotifyEvent::MessageExpunge => EVENT_NAMES[1],
            NotifyEvent::FlagChange => EVENT_NAMES[2],
            NotifyEvent::AnnotationChange => EVENT_NAMES[3],
            NotifyEvent::MailboxName => EVENT_NAMES[4],
            NotifyEvent::SubscriptionChange => EVENT_NAMES[5],
            NotifyEvent::MailboxMetadataChange => EVENT_NAMES[6],
            NotifyEvent::ServerMetadataChange => EVENT_NAMES[7],
            NotifyEvent::Other(a) => a.as_str(),
        }
    }

    /// `event-name`: the name alone.
    fn parse_name(input: &'a [u8]) -> PResult<'a, Self> {
        let (rest, atom) = expect("event", Atom::parse)(input)?;
        let known = EVENT_NAMES
            .iter()
            .position(|n| n.eq_ignore_ascii_case(atom.as_str()));
        let event = match known {
            Some(0) => NotifyEvent::MessageNew(Vec::new()),
            Some(1) => NotifyEvent::MessageExpunge,
            Some(2) => NotifyEvent::FlagChange,
            Some(3) => NotifyEvent::AnnotationChange,
            Some(4) => NotifyEvent::MailboxName,
            Some(5) => NotifyEvent::SubscriptionChange,
            Some(6) => NotifyEvent::MailboxMetadataChange,
            Some(7) => NotifyEvent::ServerMetadataChange,
            _ => NotifyEvent::Other(atom),
        };
        Ok((rest, event))
    }

    /// `event`: a name, and after `MessageNew` an optional
    /// `SP "(" fetch-att *(SP fetch-att) ")"`.
    fn parse(input: &'a [u8], config: &DecoderConfig, budget: &mut Budget) -> PResult<'a, Self> {
        let (rest, event) = Self::parse_name(input)?;
        let NotifyEvent::MessageNew(_) = event else {
            return Ok((rest, event));
        };
        let Some(list) = rest.strip_prefix(b" ").filter(|r| r.first() == Some(&b'(')) else {
            return Ok((rest, event));
        };
        budget.enter(list)?;
        let mut r = &list[1..];
        let mut items = Vec::new();
        loop {
            budget.count(r, "')'")?;
            let (n, item) = FetchItem::parse(r, config)?;
            items.push(item);
            match n.first() {
                Some(b')') => {
                    budget.leave();
                    return Ok((&n[1..], NotifyEvent::MessageNew(items)));
                }
                Some(b' ') => r = &n[1..],
                _ => return fail(n, "space or ')'"),
            }
        }
    }

    fn encode<'e>(&'e self, e: &mut Encoder<'e>, with_fetch: bool) {
        e.put(self.name().as_bytes());
        if let (NotifyEvent::MessageNew(items), true) = (self, with_fetch) {
            if !items.is_empty() {
                e.put(b" (");
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        e.put(b" ");
                    }
                    item.encode(e);
                }
                e.put(b")");
            }
        }
    }
}

/// `event-group = "(" filter-mailboxes SP events ")"`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EventGroup<'a> {
    /// The mailboxes.
    pub filter: FilterMailboxes<'a>,
    /// The events; `None` is `NONE` (no events for these mailboxes).
    /// Never `Some` and empty when decoded.
    pub events: Option<Vec<NotifyEvent<'a>>>,
}

impl<'a> EventGroup<'a> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> EventGroup<'static> {
        EventGroup {
            filter: self.filter.into_owned(),
            events: self
                .events
                .map(|l| l.into_iter().map(NotifyEvent::into_owned).collect()),
        }
    }

    fn parse(input: &'a [u8], config: &DecoderConfig, budget: &mut Budget) -> PResult<'a, Self> {
        if input.first() != Some(&b'(') {
            return fail(input, "'(' and event group");
        }
        budget.enter(input)?;
        let (r, filter) = FilterMailboxes::parse(&input[1..], config, budget)?;
        let (r, _) = sp(r)?;
        let (r, events) = if let Some(list) = r.strip_prefix(b"(") {
            budget.enter(r)?;
            let (r, events) = event_list(list, config, budget)?;
            let (r, _) = crate::parse::byte(b')', "')'")(r)?;
            budget.leave();
            (r, Some(events))
        } else if let Some(after) = keyword("NONE")(r)
            .ok()
            .map(|(a, _)| a)
            .filter(|a| a.first() == Some(&b')'))
        {
            (after, None)
        } else {
            // RFC 5465 section 3's example: the events without their
            // parentheses, up to the group's own ')'.
            let (r, events) = event_list(r, config, budget)?;
            (r, Some(events))
        };
        let (r, _) = crate::parse::byte(b')', "')'")(r)?;
        budget.leave();
        Ok((r, EventGroup { filter, events }))
    }

    fn encode<'e>(&'e self, e: &mut Encoder<'e>) {
        e.put(b"(");
        self.filter.encode(e);
        match &self.events {
            None => e.put(b" NONE"),
            Some(events) => {
                e.put(b" (");
                for (i, ev) in events.iter().enumerate() {
                    if i > 0 {
                        e.put(b" ");
                    }
                    ev.encode(e, true);
                }
                e.put(b")");
            }
        }
        e.put(b")");
    }
}

/// `event *(SP event)`, up to (not including) the `)` that ends it.
fn event_list<'a>(
    input: &'a [u8],
    config: &DecoderConfig,
    budget: &mut Budget,
) -> PResult<'a, Vec<NotifyEvent<'a>>> {
    let mut rest = input;
    let mut events = Vec::new();
    loop {
        budget.count(rest, "')'")?;
        let (r, ev) = NotifyEvent::parse(rest, config, budget)?;
        events.push(ev);
        match r.first() {
            Some(b')') => return Ok((r, events)),
            Some(b' ') => rest = &r[1..],
            _ => return fail(r, "space or ')'"),
        }
    }
}

/// The NOTIFY command.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Notify<'a> {
    /// `NOTIFY NONE`: no more events.
    None,
    /// `NOTIFY SET [STATUS] event-groups`: replaces the events asked for.
    Set {
        /// `STATUS`: send a STATUS response for each mailbox with message
        /// events before the tagged OK.
        status: bool,
        /// The groups, at least one.
        groups: Vec<EventGroup<'a>>,
    },
}

impl<'a> Notify<'a> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> Notify<'static> {
        match self {
            Notify::None => Notify::None,
            Notify::Set { status, groups } => Notify::Set {
                status,
                groups: groups.into_iter().map(EventGroup::into_owned).collect(),
            },
        }
    }

    /// `SP (notify-set / notify-none)`, after `NOTIFY`.
    pub(crate) fn parse(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, Self> {
        let (r, _) = sp(input)?;
        if let Ok((r, _)) = keyword("NONE")(r) {
            return Ok((r, Notify::None));
        }
        let (mut r, _) = expect("SET or NONE", keyword("SET"))(r)?;
        let mut status = false;
        if let Ok((after, _)) = keyword(" STATUS")(r) {
            status = true;
            r = after;
        }
        let mut budget = Budget::new(config);
        let mut groups = Vec::new();
        while let Some(next) = r.strip_prefix(b" ") {
            let next = crate::parse::skip_extra_spaces(next, config.leniency.extra_spaces);
            if config.leniency.extra_spaces && matches!(next.first(), None | Some(b'\r' | b'\n')) {
                break;
            }
            if groups.len() == config.limits.list {
                return too_many(next, config.limits.list, "end of command");
            }
            budget.count(next, "end of command")?;
            let (n, g) = EventGroup::parse(next, config, &mut budget)?;
            groups.push(g);
            r = n;
        }
        if groups.is_empty() {
            return fail(r, "space and event group");
        }
        Ok((r, Notify::Set { status, groups }))
    }

    pub(crate) fn encode<'e>(&'e self, e: &mut Encoder<'e>) {
        match self {
            Notify::None => e.put(b" NONE"),
            Notify::Set { status, groups } => {
                e.put(if *status { b" SET STATUS" } else { b" SET" });
                for g in groups {
                    e.put(b" ");
                    g.encode(e);
                }
            }
        }
    }
}

/// `SP "(" event-name *(SP event-name) ")"` after `BADEVENT`: the events
/// the server supports.
pub(crate) fn parse_badevent_code<'a>(
    input: &'a [u8],
    config: &DecoderConfig,
) -> PResult<'a, Vec<NotifyEvent<'a>>> {
    let (r, _) = sp(input)?;
    let (r, events) = crate::parse::paren_list(
        config.limits.list,
        config.leniency.extra_spaces,
        NotifyEvent::parse_name,
    )(r)?;
    if events.is_empty() {
        return fail(&input[2..], "event name");
    }
    Ok((r, events))
}

/// Writes ` (name...)` after `BADEVENT`.
pub(crate) fn encode_badevent_code(events: &[NotifyEvent<'_>], e: &mut Encoder<'_>) {
    e.put(b"BADEVENT (");
    for (i, ev) in events.iter().enumerate() {
        if i > 0 {
            e.put(b" ");
        }
        e.put(ev.name().as_bytes());
    }
    e.put(b")");
}
