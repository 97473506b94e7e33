//! Compiling a resolved key into a tree that evaluates cheaply, and
//! evaluating it against one message.

use std::cell::OnceCell;

use bytes::Bytes;

use crate::analysis::StoredMessage;
use crate::analysis::header::top_header;
use crate::flags::{Keyword, SystemFlags};
use crate::sort::MAX_HEADER_READ;
use crate::types::StoreError;

use super::content::Doc;
use super::date::internal_day;
use super::text::Needle;
use super::{Date, Key, MessageContent, MessageContext, NumberSet, SearchError};

/// What evaluating a node costs, cheapest first; `And` and `Or` evaluate
/// their children in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Cost {
    /// Flags, UID, sequence number, size, INTERNALDATE: no content.
    Meta,
    /// The top header block only.
    Header,
    /// The MIME tree and decoded bodies.
    Body,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DateOp {
    Before,
    On,
    Since,
}

impl DateOp {
    fn test<T: Ord>(self, value: T, key: T) -> bool {
        match self {
            DateOp::Before => value < key,
            DateOp::On => value == key,
            DateOp::Since => value >= key,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AddressField {
    From,
    To,
    Cc,
    Bcc,
}

impl AddressField {
    fn name(self) -> &'static [u8] {
        match self {
            AddressField::From => b"from",
            AddressField::To => b"to",
            AddressField::Cc => b"cc",
            AddressField::Bcc => b"bcc",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) enum Node {
    Const(bool),
    System { flag: SystemFlags, set: bool },
    Keyword { keyword: Keyword, set: bool },
    Recent,
    Internal { op: DateOp, day: i64 },
    Saved { op: DateOp, day: i64 },
    Sent { op: DateOp, date: Date },
    Larger(u64),
    Smaller(u64),
    Uid(NumberSet),
    Seq(NumberSet),
    Header { name: Box<[u8]>, needle: Needle },
    Address { field: AddressField, needle: Needle },
    Body(Needle),
    Text(Needle),
    Not(Box<Node>),
    And(Vec<Node>),
    Or(Vec<Node>),
}

impl Node {
    pub(crate) fn cost(&self) -> Cost {
        match self {
            Node::Const(_)
            | Node::System { .. }
            | Node::Keyword { .. }
            | Node::Recent
            | Node::Internal { .. }
            | Node::Saved { .. }
            | Node::Larger(_)
            | Node::Smaller(_)
            | Node::Uid(_)
            | Node::Seq(_) => Cost::Meta,
            Node::Sent { .. } | Node::Header { .. } | Node::Address { .. } => Cost::Header,
            Node::Body(_) | Node::Text(_) => Cost::Body,
            Node::Not(n) => n.cost(),
            Node::And(list) | Node::Or(list) => list.iter().map(Node::cost).max().unwrap_or(Cost::Meta),
        }
    }
}

/// Compiles `key` at nesting level `depth` (the top key is level 1).
pub(crate) fn compile(key: &Key, depth: usize, max_depth: usize) -> Result<Node, SearchError> {
    if depth > max_depth {
        return Err(SearchError::TooDeep { limit: max_depth });
    }
    let system = |flag, set| Node::System { flag, set };
    let address = |field, s: &str| Node::Address {
        field,
        needle: Needle::new(s),
    };
    Ok(match key {
        Key::All => Node::Const(true),
        Key::Answered => system(SystemFlags::ANSWERED, true),
        Key::Deleted => system(SystemFlags::DELETED, true),
        Key::Draft => system(SystemFlags::DRAFT, true),
        Key::Flagged => system(SystemFlags::FLAGGED, true),
        Key::Seen => system(SystemFlags::SEEN, true),
        Key::Unanswered => system(SystemFlags::ANSWERED, false),
        Key::Undeleted => system(SystemFlags::DELETED, false),
        Key::Undraft => system(SystemFlags::DRAFT, false),
        Key::Unflagged => system(SystemFlags::FLAGGED, false),
        Key::Unseen => system(SystemFlags::SEEN, false),
        Key::Keyword(k) => Node::Keyword {
            keyword: k.clone(),
            set: true,
        },
        Key::Unkeyword(k) => Node::Keyword {
            keyword: k.clone(),
            set: false,
        },
        Key::Recent => Node::Recent,
        Key::New => Node::And(vec![Node::Recent, system(SystemFlags::SEEN, false)]),
        Key::Old => Node::Not(Box::new(Node::Recent)),
        Key::Before(d) => internal(DateOp::Before, *d),
        Key::On(d) => internal(DateOp::On, *d),
        Key::Since(d) => internal(DateOp::Since, *d),
        Key::SavedBefore(d) => saved(DateOp::Before, *d),
        Key::SavedOn(d) => saved(DateOp::On, *d),
        Key::SavedSince(d) => saved(DateOp::Since, *d),
        Key::SentBefore(d) => Node::Sent {
            op: DateOp::Before,
            date: *d,
        },
        Key::SentOn(d) => Node::Sent {
            op: DateOp::On,
            date: *d,
        },
        Key::SentSince(d) => Node::Sent {
            op: DateOp::Since,
            date: *d,
        },
        Key::Larger(n) => Node::Larger(*n),
        Key::Smaller(n) => Node::Smaller(*n),
        Key::From(s) => address(AddressField::From, s),
        Key::To(s) => address(AddressField::To, s),
        Key::Cc(s) => address(AddressField::Cc, s),
        Key::Bcc(s) => address(AddressField::Bcc, s),
        Key::Subject(s) => Node::Header {
            name: Box::from(&b"subject"[..]),
            needle: Needle::new(s),
        },
        Key::Header { name, value } => Node::Header {
            name: Box::from(name.as_bytes()),
            needle: Needle::new(value),
        },
        Key::Body(s) => Node::Body(Needle::new(s)),
        Key::Text(s) => Node::Text(Needle::new(s)),
        Key::Uid(set) => Node::Uid(set.clone()),
        Key::Sequence(set) => Node::Seq(set.clone()),
        Key::Not(inner) => match compile(inner, depth + 1, max_depth)? {
            Node::Not(n) => *n,
            Node::Const(b) => Node::Const(!b),
            n => Node::Not(Box::new(n)),
        },
        Key::Or(a, b) => {
            let a = compile(a, depth + 1, max_depth)?;
            let b = compile(b, depth + 1, max_depth)?;
            let mut list = Vec::with_capacity(2);
            for n in [a, b] {
                match n {
                    Node::Or(inner) => list.extend(inner),
                    n => list.push(n),
                }
            }
            list.sort_by_key(Node::cost);
            Node::Or(list)
        }
        Key::And(keys) => {
            let mut list = Vec::with_capacity(keys.len());
            for k in keys {
                match compile(k, depth + 1, max_depth)? {
                    Node::And(inner) => list.extend(inner),
                    Node::Const(true) => {}
                    n => list.push(n),
                }
            }
            if list.is_empty() {
                return Ok(Node::Const(true));
            }
            list.sort_by_key(Node::cost);
            Node::And(list)
        }
    })
}

fn internal(op: DateOp, date: Date) -> Node {
    Node::Internal {
        op,
        day: date.days_since_epoch(),
    }
}

fn saved(op: DateOp, date: Date) -> Node {
    Node::Saved {
        op,
        day: date.days_since_epoch(),
    }
}

/// A message's content as loaded for an evaluation.
pub(crate) enum Loaded {
    /// The message whole.
    Bytes(Bytes),
    /// The message in its file, and its top header block.
    Stored(Box<StoredMessage>, Vec<u8>),
}

/// What one evaluation loads, each at most once: the content, and the top
/// header block alone of a message in its file, each with its [`Doc`].
#[derive(Default)]
pub(crate) struct Cells<'e> {
    loaded: OnceCell<Loaded>,
    doc: OnceCell<Doc<'e>>,
    header: OnceCell<Vec<u8>>,
    header_doc: OnceCell<Doc<'e>>,
}

/// One evaluation: the message and its content, loaded at most once.
pub(crate) struct Eval<'e> {
    ctx: &'e MessageContext<'e>,
    loaded: &'e OnceCell<Loaded>,
    doc: &'e OnceCell<Doc<'e>>,
    header: &'e OnceCell<Vec<u8>>,
    header_doc: &'e OnceCell<Doc<'e>>,
}

impl<'e> Eval<'e> {
    pub(crate) fn new(ctx: &'e MessageContext<'e>, cells: &'e Cells<'e>) -> Eval<'e> {
        Eval {
            ctx,
            loaded: &cells.loaded,
            doc: &cells.doc,
            header: &cells.header,
            header_doc: &cells.header_doc,
        }
    }

    /// What header keys read: the whole message's [`Doc`] once loaded;
    /// before, for a message in its file, its top header block alone (read
    /// from the start of the file). Of a block longer than 1 MiB (a
    /// message made to be expensive), the keys see the first 1 MiB: the
    /// message is not read whole for them.
    fn header_doc(&self) -> Result<&'e Doc<'e>, StoreError> {
        if let Some(doc) = self.doc.get().or_else(|| self.header_doc.get()) {
            return Ok(doc);
        }
        let MessageContent::File { file, .. } = self.ctx.content else {
            return self.doc();
        };
        let Some((f, len)) = file()? else {
            // No file: the message is loaded as body keys load it.
            return self.doc();
        };
        let header = std::io::Seek::rewind(&mut &f)
            .and_then(|()| top_header(std::io::Read::take(&f, len), MAX_HEADER_READ))
            .map_err(|e| StoreError::Temporary(format!("read a message: {e}")))?;
        let header: &'e Vec<u8> = self.header.get_or_init(|| header);
        Ok(self.header_doc.get_or_init(|| Doc::new(header)))
    }

    fn doc(&self) -> Result<&'e Doc<'e>, StoreError> {
        if let Some(doc) = self.doc.get() {
            return Ok(doc);
        }
        let loaded = match self.ctx.content {
            MessageContent::Bytes(raw) => return Ok(self.doc.get_or_init(|| Doc::new(raw))),
            // A file that cannot be analysed in pages (a header block above
            // 1 MiB) is read whole.
            MessageContent::File { file, read } => {
                match file()?.and_then(|(f, len)| StoredMessage::open(f, len).ok()) {
                    Some(msg) => {
                        let root = msg.part_tree();
                        let header = msg
                            .read_range(root.header_start..root.body_start)
                            .map_err(|e| StoreError::Temporary(format!("read a message: {e}")))?;
                        Loaded::Stored(Box::new(msg), header)
                    }
                    None => Loaded::Bytes(read()?),
                }
            }
            MessageContent::Lazy(read) => Loaded::Bytes(read()?),
        };
        let loaded: &'e Loaded = self.loaded.get_or_init(|| loaded);
        Ok(self.doc.get_or_init(|| match loaded {
            Loaded::Bytes(b) => Doc::new(b),
            Loaded::Stored(msg, header) => Doc::stored(msg, header),
        }))
    }

    pub(crate) fn eval(&self, node: &Node) -> Result<bool, StoreError> {
        let ctx = self.ctx;
        Ok(match node {
            Node::Const(b) => *b,
            Node::System { flag, set } => ctx.flags.system.contains(*flag) == *set,
            Node::Keyword { keyword, set } => ctx.flags.keywords.contains(keyword) == *set,
            Node::Recent => ctx.recent,
            Node::Internal { op, day } => op.test(internal_day(ctx.internal_date), *day),
            Node::Saved { op, day } => op.test(ctx.save_date.div_euclid(86_400), *day),
            Node::Larger(n) => ctx.size > *n,
            Node::Smaller(n) => ctx.size < *n,
            Node::Uid(set) => set.contains(ctx.uid.get()),
            Node::Seq(set) => set.contains(ctx.seq),
            Node::Sent { op, date } => match self.header_doc()?.sent_date() {
                Some(sent) => op.test(sent, *date),
                None => false,
            },
            Node::Header { name, needle } => self.header_doc()?.header_contains(name, needle),
            Node::Address { field, needle } => self.header_doc()?.address_contains(field.name(), needle),
            Node::Body(needle) => self.doc()?.body_contains(needle),
            Node::Text(needle) => self.doc()?.text_contains(needle),
            Node::Not(n) => !self.eval(n)?,
            Node::And(list) => {
                for n in list {
                    if !self.eval(n)? {
                        return Ok(false);
                    }
                }
                true
            }
            Node::Or(list) => {
                for n in list {
                    if self.eval(n)? {
                        return Ok(true);
                    }
                }
                false
            }
        })
    }
}
