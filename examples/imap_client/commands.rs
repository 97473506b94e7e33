//! The commands: each one a few IMAP commands over one connection.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mailwire::imap::client::{Completion, MailboxChange};
use mailwire::imap::{
    Append, AppendData, AppendMessage, CommandBody, CopyMove, Fetch, FetchItems, Flag, List, ListMailbox,
    ListReturnOption, Literal, Mailbox, MailboxAttribute, MessageDataItem, SequenceSet, StatusAttribute,
    StatusValue, Store, StoreAction, UidSet,
};
use mailwire::mailbox::text::{TransferDecoder, html_to_text, to_utf8};
use mailwire::mailbox::{Uid, UidRanges};

use crate::Failure;
use crate::connection::{Imap, Streamed, condition, uid_in};
use crate::show::{self, Leaf};

/// A mailbox name as the user wrote it (UTF-8), for the wire.
fn mailbox(name: &str) -> Mailbox<'static> {
    Mailbox::from_utf8_name(name).into_owned()
}

/// A mailbox name from the wire, for people.
fn mailbox_name(mailbox: &Mailbox<'_>) -> String {
    match mailbox.to_utf8_name() {
        Ok(name) => name.into_owned(),
        Err(_) => format!("{mailbox:?}"),
    }
}

/// Opens `name`, read-only unless `write`.
fn open(imap: &mut Imap, name: &str, write: bool) -> Result<u32, Failure> {
    let body = if write {
        CommandBody::Select {
            mailbox: mailbox(name),
            parameters: Vec::new(),
        }
    } else {
        CommandBody::Examine {
            mailbox: mailbox(name),
            parameters: Vec::new(),
        }
    };
    let done = imap.ok(body, &format!("opening {name}"))?;
    Ok(done.data.select.map(|s| s.exists).unwrap_or_default())
}

fn items(text: &str) -> FetchItems<'static> {
    text.parse().expect("the program's FETCH items parse")
}

fn fetch(set: SequenceSet, items_text: &str, uid: bool) -> CommandBody<'static> {
    CommandBody::Fetch {
        fetch: Fetch {
            sequence_set: set,
            items: items(items_text),
            modifiers: Vec::new(),
        },
        uid,
    }
}

/// The UIDs the user gave: numbers and ranges (`12`, `20:25`).
pub fn uid_set(args: &[String]) -> Result<UidSet, Failure> {
    let joined = args.join(",");
    joined
        .parse::<UidSet>()
        .ok()
        .filter(|_| !joined.contains('*') && !joined.contains('$'))
        .ok_or_else(|| Failure::Usage(format!("{joined:?} is not a list of UIDs (such as 12 13 20:25)")))
}

/// `mailboxes`: LIST with the special-use attributes and, where the server
/// offers LIST-STATUS, the counts in the same answer; STATUS otherwise.
pub fn mailboxes(imap: &mut Imap) -> Result<(), Failure> {
    let with_size = imap.offers("STATUS=SIZE");
    let mut attributes = vec![StatusAttribute::Messages, StatusAttribute::Unseen];
    if with_size {
        attributes.push(StatusAttribute::Size);
    }
    let mut list = List::new(Mailbox::from_utf8_name(""), ListMailbox::from_utf8_pattern("*")).into_owned();
    let mut options = Vec::new();
    if imap.offers("SPECIAL-USE") {
        options.push(ListReturnOption::SpecialUse);
    }
    let list_status = imap.offers("LIST-STATUS");
    if list_status {
        options.push(ListReturnOption::Status(attributes.clone()));
    }
    if !options.is_empty() {
        list.return_options = Some(options);
    }
    let done = imap.ok(CommandBody::List(list), "LIST")?;
    let mut statuses: BTreeMap<String, Vec<StatusValue<'static>>> = done
        .data
        .status
        .iter()
        .map(|s| (mailbox_name(&s.mailbox), s.values.clone()))
        .collect();
    let mut rows = Vec::new();
    for entry in &done.data.list {
        let name = mailbox_name(&entry.mailbox);
        let special: Vec<String> = entry
            .attributes
            .iter()
            .filter(|a| {
                matches!(
                    a,
                    MailboxAttribute::All
                        | MailboxAttribute::Archive
                        | MailboxAttribute::Drafts
                        | MailboxAttribute::Flagged
                        | MailboxAttribute::Junk
                        | MailboxAttribute::Sent
                        | MailboxAttribute::Trash
                )
            })
            .map(ToString::to_string)
            .collect();
        let selectable = !entry
            .attributes
            .iter()
            .any(|a| matches!(a, MailboxAttribute::Noselect | MailboxAttribute::NonExistent));
        let mut values = statuses.remove(&name).unwrap_or_default();
        if selectable && values.is_empty() {
            let done = imap.ok(
                CommandBody::Status {
                    mailbox: entry.mailbox.clone(),
                    attributes: attributes.clone(),
                },
                &format!("STATUS {name}"),
            )?;
            values = done.data.status.into_iter().flat_map(|s| s.values).collect();
        }
        let (mut messages, mut unseen, mut size) = (None, None, None);
        for v in values {
            match v {
                StatusValue::Messages(n) => messages = Some(n),
                StatusValue::Unseen(n) => unseen = Some(n),
                StatusValue::Size(n) => size = Some(n),
                _ => {}
            }
        }
        if selectable && size.is_none() {
            size = Some(sum_of_sizes(imap, &name, messages.unwrap_or(0))?);
        }
        let number = |n: Option<u32>| n.map_or_else(|| "-".to_owned(), |n| n.to_string());
        rows.push([
            name,
            special.join(" "),
            number(messages),
            number(unseen),
            size.map_or_else(|| "-".into(), show::size),
        ]);
    }
    print_table(
        &["MAILBOX", "USE", "MESSAGES", "UNSEEN", "SIZE"],
        &rows,
        &[false, false, true, true, true],
    );
    Ok(())
}

/// A mailbox's size without STATUS=SIZE: the sum of RFC822.SIZE.
fn sum_of_sizes(imap: &mut Imap, name: &str, messages: u32) -> Result<u64, Failure> {
    if messages == 0 {
        return Ok(0);
    }
    let exists = open(imap, name, false)?;
    if exists == 0 {
        return Ok(0);
    }
    let done = imap.ok(fetch(all(), "RFC822.SIZE", false), &format!("sizes in {name}"))?;
    // Saturated: a hostile server may give any size up to 2^63 - 1.
    Ok(done
        .data
        .fetch
        .iter()
        .flat_map(|(_, items)| items)
        .filter_map(|i| match i {
            MessageDataItem::Rfc822Size(n) => Some(*n),
            _ => None,
        })
        .fold(0, u64::saturating_add))
}

fn all() -> SequenceSet {
    "1:*".parse().expect("1:* is a sequence set")
}

fn print_table<const N: usize>(head: &[&str; N], rows: &[[String; N]], right: &[bool; N]) {
    let rows: Vec<[String; N]> = rows
        .iter()
        .map(|row| row.each_ref().map(|cell| show::printable(cell, false)))
        .collect();
    let mut widths = head.map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[&str]| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            let pad = widths[i].saturating_sub(cell.chars().count());
            if i > 0 {
                out.push_str("  ");
            }
            if right[i] {
                out.push_str(&" ".repeat(pad));
                out.push_str(cell);
            } else {
                out.push_str(cell);
                if i + 1 < cells.len() {
                    out.push_str(&" ".repeat(pad));
                }
            }
        }
        println!("{}", out.trim_end());
    };
    line(head);
    for row in &rows {
        line(&row.each_ref().map(String::as_str));
    }
}

/// `headers`: ENVELOPE, FLAGS, size and date of the newest `limit`
/// messages; no body.
pub fn headers(imap: &mut Imap, name: &str, limit: u32) -> Result<(), Failure> {
    let exists = open(imap, name, false)?;
    if exists == 0 || limit == 0 {
        println!("{name}: no messages");
        return Ok(());
    }
    let first = exists.saturating_sub(limit - 1).max(1);
    let set = SequenceSet::from_numbers(first..=exists).expect("numbers from 1 make a set");
    let done = imap.ok(
        fetch(set, "(UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE)", false),
        "FETCH ENVELOPE",
    )?;
    // Only the messages asked for, with what was asked: a FETCH the server
    // sent of its own (another session changed flags) is no row.
    let asked = |seq: &NonZeroU32, items: &[MessageDataItem<'_>]| {
        (first..=exists).contains(&seq.get())
            && items.iter().any(|i| matches!(i, MessageDataItem::Envelope(_)))
    };
    let mut rows: Vec<(u32, [String; 6])> = done
        .data
        .fetch
        .iter()
        .filter(|(seq, items)| asked(seq, items))
        .map(|(_, items)| {
            let (mut uid, mut flags, mut date, mut size, mut envelope) = (0, String::new(), None, 0, None);
            for item in items {
                match item {
                    MessageDataItem::Uid(u) => uid = u.get(),
                    MessageDataItem::Flags(f) => flags = show::flags(f),
                    MessageDataItem::InternalDate(d) => date = Some(*d),
                    MessageDataItem::Rfc822Size(n) => size = *n,
                    MessageDataItem::Envelope(e) => envelope = Some(e),
                    _ => {}
                }
            }
            let envelope = envelope.map(|e| &**e);
            let row = [
                uid.to_string(),
                show::date(envelope, date.as_ref()),
                envelope.map(show::senders).unwrap_or_default(),
                show::size(size),
                flags,
                envelope.map(|e| show::nstring(&e.subject)).unwrap_or_default(),
            ];
            (uid, row)
        })
        .collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.0));
    let rows: Vec<[String; 6]> = rows.into_iter().map(|(_, r)| r).collect();
    print_table(
        &["UID", "DATE", "FROM", "SIZE", "FLAGS", "SUBJECT"],
        &rows,
        &[true, false, false, true, false, false],
    );
    Ok(())
}

/// What one FETCH of a single item brought: the data held, or streamed
/// to a sink.
fn item_data(done: &Completion) -> Option<&[u8]> {
    done.data
        .fetch
        .iter()
        .flat_map(|(_, items)| items)
        .find_map(|i| match i {
            MessageDataItem::Binary { data, .. } | MessageDataItem::BodySection { data, .. } => {
                data.as_bytes()
            }
            _ => None,
        })
}

/// Fetches one part, decoded from its transfer encoding, into `out`:
/// BINARY.PEEK where the server offers BINARY (the server decodes), else
/// BODY.PEEK decoded here. Long parts arrive in pieces and go to `out` as
/// they come.
fn fetch_part(imap: &mut Imap, uid: u32, leaf: &Leaf, out: &mut dyn Write) -> Result<(), Failure> {
    let set: SequenceSet = uid.to_string().parse().expect("a UID is a set");
    let binary = imap.offers("BINARY");
    if binary {
        let mut streamed = false;
        let body = fetch(set.clone(), &format!("(UID BINARY.PEEK[{}])", leaf.part), true);
        let done = imap.run_streaming(body, &mut |piece| {
            match piece {
                Streamed::Start { .. } => streamed = true,
                Streamed::Data(bytes) => out.write_all(bytes)?,
                Streamed::End { .. } => {}
            }
            Ok(())
        })?;
        match done.status {
            mailwire::imap::Status::Ok => {
                if !streamed {
                    let data = item_data(&done).ok_or_else(|| missing(uid, &leaf.part))?;
                    out.write_all(data).map_err(local)?;
                }
                return Ok(());
            }
            // The server cannot decode this part (an encoding it does
            // not know): decode it here.
            _ if condition(&done.text) == Some("UNKNOWN-CTE") => {}
            _ => {
                return Err(Failure::Server(format!(
                    "FETCH BINARY: {}",
                    crate::connection::describe(&done.text)
                )));
            }
        }
    }
    let mut decoder = TransferDecoder::new(&leaf.encoding);
    let mut streamed = false;
    let done = imap.fetch_streaming(
        fetch(set, &format!("(UID BODY.PEEK[{}])", leaf.part), true),
        "FETCH BODY",
        &mut |piece| {
            match piece {
                Streamed::Start { .. } => streamed = true,
                Streamed::Data(bytes) => out.write_all(&decoder.push(bytes))?,
                Streamed::End { .. } => {}
            }
            Ok(())
        },
    )?;
    if !streamed {
        let data = item_data(&done).ok_or_else(|| missing(uid, &leaf.part))?;
        out.write_all(&decoder.push(data)).map_err(local)?;
    }
    out.write_all(&decoder.finish()).map_err(local)
}

/// The most text `read` shows; a larger part is saved with `--part`.
const SHOW_LIMIT: usize = 16 << 20;

/// Holds the text `read` shows, refusing more than [`SHOW_LIMIT`] (a
/// server could send without end).
struct Capped(Vec<u8>);

impl Write for Capped {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if self.0.len() + bytes.len() > SHOW_LIMIT {
            return Err(io::Error::other(format!(
                "the text is over {} MiB: save it with --part",
                SHOW_LIMIT >> 20
            )));
        }
        self.0.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn missing(uid: u32, part: &str) -> Failure {
    Failure::Server(format!("the server sent no part {part} of message {uid}"))
}

fn local(e: io::Error) -> Failure {
    Failure::Local(e.to_string())
}

/// `read`: BODYSTRUCTURE and the envelope, then only the text part shown
/// (or, with `--part`, only the part saved).
pub fn read(
    imap: &mut Imap,
    name: &str,
    uid: u32,
    part: Option<&str>,
    output: Option<PathBuf>,
    peek: bool,
) -> Result<(), Failure> {
    open(imap, name, !peek)?;
    let set: SequenceSet = uid.to_string().parse().expect("a UID is a set");
    let unreadable = imap.unreadable();
    let done = imap.ok(
        fetch(set.clone(), "(UID FLAGS ENVELOPE BODYSTRUCTURE)", true),
        "FETCH BODYSTRUCTURE",
    )?;
    let (mut envelope, mut structure) = (None, None);
    // The answer of message `uid` only: another message's (a server's
    // mistake, or its own FETCH of another message) is not shown as it.
    let answers = done
        .data
        .fetch
        .iter()
        .filter(|(_, items)| uid_in(items) == Some(uid))
        .flat_map(|(_, items)| items);
    for item in answers {
        match item {
            MessageDataItem::Envelope(e) => envelope = Some(e.clone()),
            MessageDataItem::BodyStructure(b) | MessageDataItem::Body(b) => structure = Some(b.clone()),
            _ => {}
        }
    }
    let (Some(envelope), Some(structure)) = (envelope, structure) else {
        if imap.unreadable() != unreadable {
            return Err(Failure::Network(format!(
                "{name} {uid}: the server's answer could not be read (its structure of the message is broken)"
            )));
        }
        return Err(Failure::Server(format!("{name} has no message with UID {uid}")));
    };
    let leaves = show::leaves(&structure);
    if let Some(wanted) = part {
        let leaf = leaves.iter().find(|l| l.part == wanted).ok_or_else(|| {
            Failure::Usage(format!(
                "message {uid} has no part {wanted} (`read {uid}` lists them)"
            ))
        })?;
        let path = output.unwrap_or_else(|| {
            PathBuf::from(show::safe_file_name(
                leaf.file_name.as_deref().unwrap_or("attachment"),
            ))
        });
        save_part(imap, uid, leaf, &path)?;
    } else {
        let stdout = io::stdout();
        let mut out = stdout.lock();
        let header = [
            ("Date", show::nstring(&envelope.date)),
            ("From", show::addresses(envelope.from.iter())),
            ("To", show::addresses(envelope.to.iter())),
            ("Cc", show::addresses(envelope.cc.iter())),
            ("Subject", show::nstring(&envelope.subject)),
        ];
        for (field, value) in header {
            if !value.is_empty() {
                writeln!(out, "{field}: {value}").map_err(local)?;
            }
        }
        let shown = show::text_leaf(&leaves);
        for leaf in leaves
            .iter()
            .filter(|l| Some(l.part.as_str()) != shown.map(|s| s.part.as_str()))
        {
            let file = leaf
                .file_name
                .as_deref()
                .map(|n| format!(" {n:?}"))
                .unwrap_or_default();
            writeln!(
                out,
                "[part {}: {}{file}, {}]",
                leaf.part,
                show::printable(&leaf.media, false),
                show::size(u64::from(leaf.octets))
            )
            .map_err(local)?;
        }
        writeln!(out).map_err(local)?;
        if let Some(leaf) = shown {
            let mut octets = Capped(Vec::new());
            fetch_part(imap, uid, leaf, &mut octets)?;
            let octets = octets.0;
            let text = to_utf8(&octets, leaf.charset.as_deref());
            let text = if leaf.media == "text/html" {
                html_to_text(&text).into()
            } else {
                text
            };
            out.write_all(show::printable(&text.replace("\r\n", "\n"), true).as_bytes())
                .map_err(local)?;
            if !text.ends_with('\n') {
                writeln!(out).map_err(local)?;
            }
        } else {
            writeln!(out, "(no text part)").map_err(local)?;
        }
    }
    if !peek {
        store(imap, &set, StoreAction::Add, vec![Flag::Seen])?;
    }
    Ok(())
}

/// Writes a part to a new file (never over an existing one); a failure
/// leaves no partial file behind.
fn save_part(imap: &mut Imap, uid: u32, leaf: &Leaf, path: &Path) -> Result<(), Failure> {
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| Failure::Local(format!("{}: {e}", path.display())))?;
    let mut writer = io::BufWriter::new(file);
    let written = fetch_part(imap, uid, leaf, &mut writer).and_then(|()| {
        writer
            .into_inner()
            .map_err(|e| e.into_error())
            .and_then(|f: File| f.sync_all())
            .map_err(|e| Failure::Local(format!("{}: {e}", path.display())))
    });
    if let Err(e) = written {
        let _ = std::fs::remove_file(path);
        return Err(e);
    }
    println!("saved part {} of message {uid} to {}", leaf.part, path.display());
    Ok(())
}

fn store(
    imap: &mut Imap,
    set: &SequenceSet,
    action: StoreAction,
    flags: Vec<Flag<'static>>,
) -> Result<(), Failure> {
    imap.ok(
        CommandBody::Store {
            store: Store {
                sequence_set: set.clone(),
                modifiers: Vec::new(),
                action,
                silent: true,
                flags,
            },
            uid: true,
        },
        "STORE",
    )?;
    Ok(())
}

/// Prints COPYUID's pairs: where each message went. Each UID asked for is
/// looked up in the server's sets (by its position, range by range), never
/// the sets walked through: they may name four billion UIDs.
fn report_copy(done: &Completion, verb: &str, to: &str, asked: &UidSet) {
    match done.copy_uid() {
        Some((_, from, into)) => {
            for a in asked.iter() {
                if let Some(b) = from.position(a).and_then(|n| into.nth(n)) {
                    println!("{verb} {a} -> {to} {b}");
                }
            }
        }
        None => println!("{verb} to {to}"),
    }
}

/// `move` and `copy`. Without MOVE, a move is COPY, STORE \Deleted and
/// UID EXPUNGE of exactly those messages (UIDPLUS).
pub fn transfer(imap: &mut Imap, name: &str, uids: &[String], to: &str, moving: bool) -> Result<(), Failure> {
    let uids = uid_set(uids)?;
    open(imap, name, moving)?;
    let set = uids.as_sequence_set().clone();
    let args = CopyMove {
        sequence_set: set.clone(),
        mailbox: mailbox(to),
    };
    if moving && imap.offers("MOVE") {
        let done = imap.ok(CommandBody::Move { args, uid: true }, &format!("MOVE to {to}"))?;
        report_copy(&done, "moved", to, &uids);
        return Ok(());
    }
    let done = imap.ok(CommandBody::Copy { args, uid: true }, &format!("COPY to {to}"))?;
    if !moving {
        report_copy(&done, "copied", to, &uids);
        return Ok(());
    }
    expunge_uids(imap, &set)?;
    report_copy(&done, "moved", to, &uids);
    Ok(())
}

/// Marks the messages \Deleted and expunges them, and only them
/// (UID EXPUNGE, UIDPLUS); a server without UIDPLUS is refused, since its
/// EXPUNGE would also remove other messages marked \Deleted.
fn expunge_uids(imap: &mut Imap, set: &SequenceSet) -> Result<(), Failure> {
    if !imap.offers("UIDPLUS") {
        store(imap, set, StoreAction::Add, vec![Flag::Deleted])?;
        return Err(Failure::Server(
            "the server has no UID EXPUNGE (UIDPLUS): the messages are marked \\Deleted but not removed, \
             so other messages marked \\Deleted are not removed with them"
                .into(),
        ));
    }
    store(imap, set, StoreAction::Add, vec![Flag::Deleted])?;
    imap.ok(CommandBody::UidExpunge(set.clone()), "UID EXPUNGE")?;
    Ok(())
}

/// The mailbox with the `\Trash` special use, if the server names one:
/// asked for with `RETURN (SPECIAL-USE)` where the server offers it, else
/// looked for among the attributes of a plain LIST (RFC 6154 section 2
/// lets a server give them there without the capability).
fn trash(imap: &mut Imap) -> Result<Option<String>, Failure> {
    let mut list = List::new(Mailbox::from_utf8_name(""), ListMailbox::from_utf8_pattern("*")).into_owned();
    if imap.offers("SPECIAL-USE") {
        list.return_options = Some(vec![ListReturnOption::SpecialUse]);
    }
    let done = imap.ok(CommandBody::List(list), "LIST")?;
    Ok(done
        .data
        .list
        .iter()
        .find(|l| l.attributes.contains(&MailboxAttribute::Trash))
        .map(|l| mailbox_name(&l.mailbox)))
}

/// `delete`: to the trash, or for good (with `--expunge`, or in the
/// trash itself). Without a trash on the server, and without
/// `--expunge`, nothing is deleted: the user asked for a deletion that can
/// be undone.
pub fn delete(imap: &mut Imap, name: &str, uids: &[String], expunge: bool) -> Result<(), Failure> {
    let uids = uid_set(uids)?;
    let trash = if expunge { None } else { trash(imap)? };
    match trash {
        Some(trash) if trash != name => transfer(imap, name, &[uids.to_string()], &trash, true),
        None if !expunge => Err(Failure::Usage(
            "the server names no \\Trash mailbox, so the messages cannot be moved to the trash: \
             nothing was deleted (--expunge deletes them for good)"
                .into(),
        )),
        _ => {
            open(imap, name, true)?;
            expunge_uids(imap, uids.as_sequence_set())?;
            println!("deleted {uids} from {name}");
            Ok(())
        }
    }
}

/// `flag`: UIDs, then +FLAG and -FLAG.
pub fn flag(imap: &mut Imap, name: &str, args: &[String]) -> Result<(), Failure> {
    // The flags may start with `-`, so clap hands over everything after
    // the first UID: `--mailbox` may be among it.
    let mut name = name.to_owned();
    let mut rest = Vec::with_capacity(args.len());
    let mut words = args.iter();
    while let Some(arg) = words.next() {
        if arg == "--mailbox" {
            name = words
                .next()
                .ok_or_else(|| Failure::Usage("--mailbox needs a mailbox name".into()))?
                .clone();
        } else if let Some(value) = arg.strip_prefix("--mailbox=") {
            name = value.to_owned();
        } else if arg.starts_with("--") {
            return Err(Failure::Usage(format!(
                "{arg:?} is neither a UID nor a flag to set or clear"
            )));
        } else {
            rest.push(arg.clone());
        }
    }
    let (name, args) = (name.as_str(), rest.as_slice());
    let split = args
        .iter()
        .position(|a| a.starts_with(['+', '-']))
        .ok_or_else(|| Failure::Usage("give flags to set (+FLAG) or clear (-FLAG) after the UIDs".into()))?;
    let uids = uid_set(&args[..split])?;
    let (mut add, mut remove) = (Vec::new(), Vec::new());
    for arg in &args[split..] {
        if !arg.starts_with(['+', '-']) {
            return Err(Failure::Usage(format!(
                "{arg:?}: after the UIDs, each flag has + (set) or - (clear) before it"
            )));
        }
        let (sign, text) = arg.split_at(1);
        let flag: Flag<'static> = parse_flag(text)?;
        if sign == "+" {
            add.push(flag)
        } else {
            remove.push(flag)
        }
    }
    open(imap, name, true)?;
    let set = uids.into_sequence_set();
    if !add.is_empty() {
        store(imap, &set, StoreAction::Add, add)?;
    }
    if !remove.is_empty() {
        store(imap, &set, StoreAction::Remove, remove)?;
    }
    println!("flags changed on {set} in {name}");
    Ok(())
}

fn parse_flag(text: &str) -> Result<Flag<'static>, Failure> {
    Flag::new(text.to_owned()).map_err(|e| Failure::Usage(format!("{text:?} is not a flag or keyword: {e}")))
}

/// `upload`: APPEND, one command for every file where the server offers
/// MULTIAPPEND.
pub fn upload(imap: &mut Imap, files: &[PathBuf], to: &str, flags: &[String]) -> Result<(), Failure> {
    let flags = flags
        .iter()
        .map(|f| parse_flag(f))
        .collect::<Result<Vec<_>, _>>()?;
    let limit = imap.append_limit();
    let mut messages = Vec::with_capacity(files.len());
    for path in files {
        let content = std::fs::read(path).map_err(|e| Failure::Usage(format!("{}: {e}", path.display())))?;
        if content.is_empty() {
            return Err(Failure::Usage(format!("{}: the file is empty", path.display())));
        }
        if let Some(limit) = limit.filter(|&l| content.len() as u64 > l) {
            return Err(Failure::Usage(format!(
                "{}: {} is larger than the server accepts ({})",
                path.display(),
                show::size(content.len() as u64),
                show::size(limit)
            )));
        }
        let content = mailwire::mailbox::canonical_crlf(content.into());
        let literal = Literal::new(content.to_vec())
            .map_err(|e| Failure::Usage(format!("{}: cannot be sent: {e}", path.display())))?;
        messages.push(AppendMessage {
            flags: (!flags.is_empty()).then(|| flags.clone()),
            date: None,
            data: AppendData::Literal(literal),
        });
    }
    // Each file is told as soon as the server has it: should a later one
    // fail (over quota, too big, the connection lost), the user knows
    // which to send again, and sends none twice.
    let paths: Vec<&PathBuf> = files.iter().collect();
    let batches: Vec<(&[&PathBuf], Vec<AppendMessage<'static>>)> = if imap.offers("MULTIAPPEND") {
        vec![(&paths[..], messages)]
    } else {
        paths
            .chunks(1)
            .zip(messages.into_iter().map(|m| vec![m]))
            .collect()
    };
    let mut uploaded = 0;
    for (paths, batch) in batches {
        let sent = batch.len();
        let done = imap
            .ok(
                CommandBody::Append(Append {
                    mailbox: mailbox(to),
                    messages: batch,
                }),
                &format!("APPEND to {to}"),
            )
            .map_err(|e| {
                let first = paths
                    .first()
                    .map_or_else(String::new, |p| p.display().to_string());
                let context = match uploaded {
                    0 => format!("{first} and the files after it were not uploaded"),
                    n => format!("{n} files were uploaded (above); {first} and the files after it were not"),
                };
                e.within(&context)
            })?;
        // One UID per message sent, where the server gives them (a set
        // may name four billion); 0 for each where it does not (RFC 4315
        // allows APPEND without APPENDUID).
        let mut uids: Vec<u32> = match done.append_uid() {
            Some((_, set)) => set.iter().take(sent).collect(),
            None => Vec::new(),
        };
        uids.resize(sent, 0);
        for (path, uid) in paths.iter().zip(uids) {
            match uid {
                0 => println!("uploaded {} to {to}", path.display()),
                uid => println!("uploaded {} to {to} as UID {uid}", path.display()),
            }
        }
        uploaded += sent;
    }
    Ok(())
}

/// What `watch` knows of the mailbox: each message's UID and flags.
struct Watched {
    uid_validity: Option<NonZeroU32>,
    messages: BTreeMap<u32, String>,
}

/// Lists every message's UID and flags (after a reconnect, what changed
/// while the connection was down is told from the difference).
fn snapshot(imap: &mut Imap, name: &str) -> Result<Watched, Failure> {
    let exists = open(imap, name, false)?;
    let uid_validity = imap.mailbox().and_then(|m| m.uid_validity);
    let mut messages = BTreeMap::new();
    if exists > 0 {
        let done = imap.ok(fetch(all(), "(UID FLAGS)", false), "FETCH FLAGS")?;
        for (_, items) in &done.data.fetch {
            let (mut uid, mut flags) = (None, String::new());
            for item in items {
                match item {
                    MessageDataItem::Uid(u) => uid = Some(u.get()),
                    MessageDataItem::Flags(f) => flags = show::flags(f),
                    _ => {}
                }
            }
            if let Some(uid) = uid {
                messages.insert(uid, flags);
            }
        }
    }
    imap.take_changes();
    Ok(Watched {
        uid_validity,
        messages,
    })
}

/// Prints a new message's line: UID, sender, subject.
fn announce_new(imap: &mut Imap, uids: &[u32]) -> Result<Vec<(u32, String)>, Failure> {
    if uids.is_empty() {
        return Ok(Vec::new());
    }
    let set = SequenceSet::from_unordered(uids.iter().copied()).expect("UIDs make a set");
    let done = imap.ok(fetch(set, "(UID FLAGS ENVELOPE)", true), "FETCH ENVELOPE")?;
    let asked: std::collections::HashSet<u32> = uids.iter().copied().collect();
    let mut seen = Vec::new();
    for (_, items) in &done.data.fetch {
        let (mut uid, mut flags, mut envelope) = (None, String::new(), None);
        for item in items {
            match item {
                MessageDataItem::Uid(u) => uid = Some(u.get()),
                MessageDataItem::Flags(f) => flags = show::flags(f),
                MessageDataItem::Envelope(e) => envelope = Some(e),
                _ => {}
            }
        }
        // Only the messages asked for, with what was asked: a FETCH the
        // server sent of its own (another session changed flags) is no
        // new message.
        let (Some(uid), Some(envelope)) = (uid.filter(|u| asked.contains(u)), envelope) else {
            continue;
        };
        let (from, subject) = (show::senders(envelope), show::nstring(&envelope.subject));
        println!("new {uid} from {from}: {subject}");
        seen.push((uid, flags));
    }
    Ok(seen)
}

/// `watch`: IDLE, printing what happens; a dropped connection, and a
/// login the server refuses for now (`UNAVAILABLE`, too many connections),
/// is opened again after a pause that grows from 1 s to a minute, and what
/// changed meanwhile is printed. The pause starts again from 1 s only
/// after a connection that lasted a minute: a server (or a middlebox) that
/// drops every IDLE at once is not logged in to every second.
pub fn watch(
    connect: &dyn Fn() -> Result<Imap, Failure>,
    name: &str,
    stop_after: Option<Duration>,
) -> Result<(), Failure> {
    let stop_at = stop_after.map(|d| Instant::now() + d);
    let mut known: Option<Watched> = None;
    const FIRST_PAUSE: Duration = Duration::from_secs(1);
    let mut pause = FIRST_PAUSE;
    loop {
        let mut connected: Option<Instant> = None;
        let left = || stop_at.map(|s| s.saturating_duration_since(Instant::now()));
        if left().is_some_and(|l| l.is_zero()) {
            return Ok(());
        }
        let session = connect().and_then(|mut imap| {
            if !imap.offers("IDLE") {
                return Err(Failure::Server("the server does not offer IDLE".into()));
            }
            let now = snapshot(&mut imap, name)?;
            if let Some(before) = known.take() {
                catch_up(&mut imap, &before, &now)?;
            } else {
                println!("watching {name}: {} messages", now.messages.len());
            }
            known = Some(now);
            connected = Some(Instant::now());
            loop {
                // RFC 9051 section 6.3.13: IDLE again before 29 minutes.
                let mut limit = Duration::from_secs(25 * 60);
                if let Some(l) = left() {
                    if l.is_zero() {
                        imap.logout();
                        return Ok(());
                    }
                    limit = limit.min(l);
                }
                let changes = imap.idle(limit)?;
                let state = known.as_mut().expect("a snapshot");
                report(&mut imap, state, changes)?;
            }
        });
        let why = match session {
            Ok(()) => return Ok(()),
            Err(Failure::Network(why)) => format!("connection lost ({why})"),
            Err(Failure::LoginTemporary(why)) => format!("the server refused the login for now ({why})"),
            Err(other) => return Err(other),
        };
        if connected.is_some_and(|at| at.elapsed() >= Duration::from_secs(60)) {
            pause = FIRST_PAUSE;
        }
        eprintln!("{why}; reconnecting in {} s", pause.as_secs());
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_secs(60));
    }
}

/// Prints what changed between two listings of the mailbox.
fn catch_up(imap: &mut Imap, before: &Watched, now: &Watched) -> Result<(), Failure> {
    if before.uid_validity != now.uid_validity {
        println!(
            "the mailbox was recreated (UIDVALIDITY changed): {} messages",
            now.messages.len()
        );
        return Ok(());
    }
    for uid in before.messages.keys().filter(|u| !now.messages.contains_key(u)) {
        println!("vanished {uid}");
    }
    let new: Vec<u32> = now
        .messages
        .keys()
        .filter(|u| !before.messages.contains_key(u))
        .copied()
        .collect();
    announce_new(imap, &new)?;
    for (uid, flags) in &now.messages {
        if before.messages.get(uid).is_some_and(|old| old != flags) {
            println!("flags {uid} ({flags})");
        }
    }
    Ok(())
}

/// Prints the changes IDLE brought.
fn report(imap: &mut Imap, state: &mut Watched, changes: Vec<MailboxChange>) -> Result<(), Failure> {
    let mut grew = false;
    let mut relist_all = false;
    for change in changes {
        match change {
            MailboxChange::Exists { .. } => grew = true,
            MailboxChange::Expunged { uid, .. } => {
                if let Some(uid) = uid {
                    state.messages.remove(&uid.get());
                    println!("vanished {uid}");
                } else {
                    relist_all = true; // list again to find which
                }
            }
            MailboxChange::Vanished { uids } | MailboxChange::VanishedEarlier { uids } => {
                // The messages known looked up in the set, not the set
                // walked through: it may name four billion UIDs. Merged
                // once, the set answers each lookup by binary search.
                let uids = UidRanges::from(&uids);
                let gone: Vec<u32> = state
                    .messages
                    .keys()
                    .copied()
                    .filter(|&u| Uid::new(u).is_some_and(|u| uids.contains(u)))
                    .collect();
                for uid in gone {
                    state.messages.remove(&uid);
                    println!("vanished {uid}");
                }
            }
            MailboxChange::Flags { uid, flags, .. } => {
                let flags = show::flags(&flags);
                match uid.map(NonZeroU32::get) {
                    Some(uid) => match state.messages.get_mut(&uid) {
                        Some(old) => {
                            if *old != flags {
                                println!("flags {uid} ({flags})");
                            }
                            *old = flags;
                        }
                        // A message not known yet (its flags came with
                        // its EXISTS, as RFC 9051 section 7.5.2 lets an
                        // IMAP4rev2 server send them): new, and announced
                        // as such below. Taken in here, it raised the
                        // UID the new ones are looked for from, and was
                        // never announced.
                        None => grew = true,
                    },
                    None => relist_all = true,
                }
            }
            MailboxChange::UidValidity(_) => relist_all = true,
            _ => {}
        }
    }
    // Only the messages above the highest UID known can be new. Above
    // 4294967295 there is none: a server that says the mailbox grew then
    // broke its UIDs (RFC 9051 section 2.3.1.1), and a new listing tells
    // what changed.
    let next = state
        .messages
        .keys()
        .next_back()
        .map_or(Some(1), |u| u.checked_add(1));
    if grew && next.is_none() {
        relist_all = true;
    }
    if let Some(next) = next.filter(|_| grew && !relist_all) {
        let set: SequenceSet = format!("{next}:*").parse().expect("a UID range");
        let done = imap.ok(fetch(set, "(UID)", true), "UID FETCH")?;
        let new: Vec<u32> = done
            .data
            .fetch
            .iter()
            .flat_map(|(_, items)| items)
            .filter_map(|i| match i {
                MessageDataItem::Uid(u) if u.get() >= next => Some(u.get()),
                _ => None,
            })
            .collect();
        for (uid, flags) in announce_new(imap, &new)? {
            state.messages.insert(uid, flags);
        }
    }
    if relist_all {
        // New messages (or numbers the session cannot place): list the
        // mailbox again and tell the difference.
        let before = Watched {
            uid_validity: state.uid_validity,
            messages: std::mem::take(&mut state.messages),
        };
        let name_free_snapshot = relist(imap)?;
        catch_up(imap, &before, &name_free_snapshot)?;
        *state = name_free_snapshot;
    }
    Ok(())
}

/// The selected mailbox's UIDs and flags, without selecting it again.
fn relist(imap: &mut Imap) -> Result<Watched, Failure> {
    let uid_validity = imap.mailbox().and_then(|m| m.uid_validity);
    let exists = imap.mailbox().map_or(0, |m| m.exists());
    let mut messages = BTreeMap::new();
    if exists > 0 {
        let done = imap.ok(fetch(all(), "(UID FLAGS)", false), "FETCH FLAGS")?;
        for (_, items) in &done.data.fetch {
            let uid = uid_in(items);
            let flags = items.iter().find_map(|i| match i {
                MessageDataItem::Flags(f) => Some(show::flags(f)),
                _ => None,
            });
            if let Some(uid) = uid {
                messages.insert(uid, flags.unwrap_or_default());
            }
        }
    }
    imap.take_changes();
    Ok(Watched {
        uid_validity,
        messages,
    })
}
