//! The MIME tree: splitting a message into parts the way Dovecot's message
//! parser does, and the BODYSTRUCTURE values built from it.
//!
//! Splitting rules (RFC 2046 section 5.1, with Dovecot's readings):
//! - a boundary line is a line that *starts* with `--` and a boundary of an
//!   enclosing multipart; anything may follow on the line (`--b  `, `--bX`).
//!   The innermost multipart's boundary is tried first, so a boundary that
//!   is a prefix of an inner one does not steal the inner one's lines;
//! - the line break before a boundary line belongs to the boundary, except
//!   when it ends a header line: a header block cut short by a boundary keeps
//!   its last CRLF (an embedded message whose text is all header);
//! - a boundary of an outer multipart ends every part inside it; a close
//!   delimiter `--b--` starts the epilogue, which lasts until an outer
//!   boundary or the end of the message;
//! - a boundary longer than [`MAX_BOUNDARY`] octets is cut to its first
//!   `MAX_BOUNDARY` (each line starting with `--` is compared with the
//!   boundaries, so their length must be bounded);
//! - a multipart without a boundary parameter, or whose boundary never
//!   occurs, has no parts; a part without Content-Type is text/plain, or
//!   message/rfc822 inside multipart/digest;
//! - message/rfc822 content is parsed as a message whatever its
//!   Content-Transfer-Encoding; message/global is not (Dovecot 2.3).
//!
//! Sizes count each bare LF as CRLF by default, as Dovecot does (it serves
//! messages with CRLF line ends); line counts are counts of LF.

use std::borrow::Cow;

use super::envelope::envelope;
use super::header::Fields;
use super::mime::{Param, content_type, disposition, encoding, find_param, imap_params, languages};
use super::source::{Counts, Source};
use super::wire::{nstring, string};
use super::{AnalysisOptions, header::without_line_breaks};
use mailwire_imap::{
    BodyFields, BodyStructure, Envelope, ExtensionTail, IString, Language, LanguageTail, LocationTail,
    MultipartExtension, NString, SinglePartExtension, SpecificFields,
};

/// The longest boundary a multipart has: RFC 2046 allows 70 octets;
/// longer ones are cut to this length, as Dovecot does.
pub const MAX_BOUNDARY: usize = 80;

/// Where a part is in the message, and the parts inside it: the model's
/// map of the MIME tree, which `BODY[section]`, `BINARY[section]` and
/// SEARCH read. What IMAP sends about a part is in the
/// [`BodyStructure`] built alongside; the two trees have the same shape,
/// except that a multipart without parts has none here, where the
/// BODYSTRUCTURE shows the empty text/plain part Dovecot sends for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// Offset of the part's header in the message.
    pub header_start: usize,
    /// Offset of the part's body (just after the header's blank line).
    pub body_start: usize,
    /// Offset just past the part's body.
    pub end: usize,
    /// The body's size in octets (body-fld-octets, which IMAP caps at
    /// 4 GiB), bare LF counted as CRLF unless
    /// [`AnalysisOptions::count_lf_as_crlf`] was turned off.
    pub size: u64,
    /// What the body holds.
    pub kind: PartKind,
    /// The Content-Transfer-Encoding header, read.
    pub(crate) transfer_encoding: TransferEncoding,
    /// The header was cut short by a boundary line (no blank line).
    pub(crate) header_cut: bool,
}

/// What the body of a [`Part`] holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartKind {
    /// Content: a single part that is not a parsed message/rfc822.
    Leaf,
    /// The parts of a multipart, in order.
    Multipart(Vec<Part>),
    /// The embedded message of a message/rfc822 part.
    Message(Box<Part>),
}

/// The Content-Transfer-Encoding header of a part, read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TransferEncoding {
    /// No header, `7bit`, `8bit` or `binary`.
    Identity,
    /// `base64`.
    Base64,
    /// `quoted-printable`.
    QuotedPrintable,
    /// Anything else, an empty header included.
    Unknown,
}

impl TransferEncoding {
    fn of(header: Option<&[u8]>) -> TransferEncoding {
        let Some(header) = header else {
            return TransferEncoding::Identity;
        };
        let token = encoding(header);
        let is = |n: &[u8]| token.eq_ignore_ascii_case(n);
        if is(b"7bit") || is(b"8bit") || is(b"binary") {
            TransferEncoding::Identity
        } else if is(b"base64") {
            TransferEncoding::Base64
        } else if is(b"quoted-printable") {
            TransferEncoding::QuotedPrintable
        } else {
            TransferEncoding::Unknown
        }
    }
}

impl Part {
    /// True for multipart nodes.
    pub fn is_multipart(&self) -> bool {
        matches!(self.kind, PartKind::Multipart(_))
    }

    /// The parts directly inside this one: a multipart's parts, a
    /// message/rfc822's embedded message, nothing for a leaf.
    pub fn children(&self) -> &[Part] {
        match &self.kind {
            PartKind::Leaf => &[],
            PartKind::Multipart(parts) => parts,
            PartKind::Message(message) => std::slice::from_ref(&**message),
        }
    }

    /// The part's header, as a range of the message.
    pub fn header_range(&self) -> std::ops::Range<usize> {
        self.header_start..self.body_start
    }

    /// The part's body, as a range of the message.
    pub fn body_range(&self) -> std::ops::Range<usize> {
        self.body_start..self.end
    }
}

/// The leaves of the tree with what BODYSTRUCTURE says about each, the
/// first first (iteratively: the tree is as deep as the analysis allowed).
pub(crate) fn leaves<'b, 'a>(
    root: &'b Part,
    body: &'b BodyStructure<'a>,
) -> Vec<(&'b Part, &'b BodyStructure<'a>)> {
    let mut out = Vec::new();
    let mut stack = vec![(root, body)];
    while let Some((part, body)) = stack.pop() {
        match (&part.kind, body) {
            (PartKind::Leaf, _) => out.push((part, body)),
            (PartKind::Multipart(parts), BodyStructure::Multipart { parts: bodies, .. }) => {
                stack.extend(parts.iter().zip(bodies).rev());
            }
            (
                PartKind::Message(inner),
                BodyStructure::Single {
                    specific: SpecificFields::Message { body, .. },
                    ..
                },
            ) => stack.push((inner, body)),
            _ => {}
        }
    }
    out
}

/// The BODY form of a BODYSTRUCTURE: the same without extension data.
pub(crate) fn without_extensions<'a>(body: &BodyStructure<'a>) -> BodyStructure<'a> {
    match body {
        BodyStructure::Single {
            media_type,
            media_subtype,
            fields,
            specific,
            ..
        } => BodyStructure::Single {
            media_type: media_type.clone(),
            media_subtype: media_subtype.clone(),
            fields: fields.clone(),
            specific: match specific {
                SpecificFields::Message {
                    envelope,
                    body,
                    lines,
                } => SpecificFields::Message {
                    envelope: envelope.clone(),
                    body: Box::new(without_extensions(body)),
                    lines: *lines,
                },
                other => other.clone(),
            },
            extension: None,
        },
        BodyStructure::Multipart { parts, subtype, .. } => BodyStructure::Multipart {
            parts: parts.iter().map(without_extensions).collect(),
            subtype: subtype.clone(),
            extension: None,
        },
    }
}

/// A boundary line found in the message.
#[derive(Debug, Clone, Copy)]
struct Hit {
    /// Offset of the `--`.
    pos: usize,
    /// Index in the frame stack of the multipart whose boundary it is.
    frame: usize,
    /// `--boundary--`.
    close: bool,
    /// Where the search that found it started: a line break before `pos`
    /// but not after `from` belongs to the previous boundary line.
    from: usize,
    /// Offset of the line after it.
    next: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NodeKind {
    Leaf,
    Multipart,
    Message,
}

/// Content headers of a part, raw: values borrowed from its header block,
/// or (`V` = `Range<usize>`) where they are in it.
#[derive(Default)]
struct RawHeaders<V> {
    content_type: Option<V>,
    encoding: Option<V>,
    id: Option<V>,
    description: Option<V>,
    md5: Option<V>,
    disposition: Option<V>,
    language: Option<V>,
    location: Option<V>,
}

impl<V> RawHeaders<V> {
    fn map<W>(self, f: impl Fn(V) -> W) -> RawHeaders<W> {
        RawHeaders {
            content_type: self.content_type.map(&f),
            encoding: self.encoding.map(&f),
            id: self.id.map(&f),
            description: self.description.map(&f),
            md5: self.md5.map(&f),
            disposition: self.disposition.map(&f),
            language: self.language.map(&f),
            location: self.location.map(&f),
        }
    }
}

type HeaderRanges = RawHeaders<std::ops::Range<usize>>;

impl HeaderRanges {
    /// The values, in the header block they were found in.
    fn resolve<'h>(&self, header: &'h [u8]) -> RawHeaders<&'h [u8]> {
        let get = |r: &Option<std::ops::Range<usize>>| r.clone().and_then(|r| header.get(r));
        RawHeaders {
            content_type: get(&self.content_type),
            encoding: get(&self.encoding),
            id: get(&self.id),
            description: get(&self.description),
            md5: get(&self.md5),
            disposition: get(&self.disposition),
            language: get(&self.language),
            location: get(&self.location),
        }
    }
}

/// Reads the content headers of a header block.
fn raw_headers(header: &[u8]) -> RawHeaders<&[u8]> {
    let mut h = RawHeaders::default();
    for f in Fields::new(header, 0, header.len()) {
        let Some(v) = f.value else { continue };
        let Some(name) = f
            .name
            .get(..8)
            .filter(|p| p.eq_ignore_ascii_case(b"content-"))
            .map(|_| &f.name[8..])
        else {
            continue;
        };
        let is = |n: &[u8]| name.eq_ignore_ascii_case(n);
        // The first of a repeated header counts, as in Dovecot (a filter
        // that reads the first sees what IMAP clients see), unless it said
        // nothing Dovecot could use: a Content-Transfer-Encoding that is
        // not one token, a Content-Disposition without parameters, a
        // Content-Language without a tag.
        let (slot, used): (_, fn(&[u8]) -> bool) = if is(b"type") {
            (&mut h.content_type, |_| true)
        } else if is(b"transfer-encoding") {
            (&mut h.encoding, one_token)
        } else if is(b"id") {
            (&mut h.id, |_| true)
        } else if is(b"description") {
            (&mut h.description, |_| true)
        } else if is(b"md5") {
            (&mut h.md5, |_| true)
        } else if is(b"disposition") {
            (&mut h.disposition, |v| !disposition(v).params.is_empty())
        } else if is(b"language") {
            (&mut h.language, |v| !languages(v).is_empty())
        } else if is(b"location") {
            (&mut h.location, |_| true)
        } else {
            continue;
        };
        if !(*slot).is_some_and(used) {
            *slot = Some(v);
        }
    }
    h
}

/// Whether a Content-Transfer-Encoding value is one token (comments and
/// whitespace around it), as Dovecot takes one.
fn one_token(value: &[u8]) -> bool {
    let mut lx = super::lexer::Lexer::new(value);
    lx.skip_cfws().is_ok() && !lx.token().is_empty() && lx.skip_cfws().is_ok() && lx.at_end()
}

struct Node<'a> {
    header_start: usize,
    body_start: usize,
    end: usize,
    children: Vec<usize>,
    kind: NodeKind,
    in_digest: bool,
    stub: bool,
    header_cut: bool,
    /// The header block (borrowed from a message in memory).
    header: Cow<'a, [u8]>,
    /// Where its content headers are in it.
    headers: HeaderRanges,
}

struct Frame {
    node: usize,
    /// The active boundary; `None` for a message frame or a multipart in
    /// its epilogue.
    boundary: Option<Box<[u8]>>,
    /// A multipart/digest: its parts default to message/rfc822.
    digest: bool,
}

struct Parser<'a, 'o, 's, S> {
    src: &'s S,
    opts: &'o AnalysisOptions,
    nodes: Vec<Node<'a>>,
    stack: Vec<Frame>,
}

impl<'a, S: Source<'a>> Parser<'a, '_, '_, S> {
    fn has_boundaries(&self) -> bool {
        self.stack.iter().any(|f| f.boundary.is_some())
    }

    /// Checks whether the line at `pos` is a boundary line.
    fn boundary_at(&self, pos: usize) -> Option<Hit> {
        let longest = self
            .stack
            .iter()
            .filter_map(|f| f.boundary.as_ref().map(|b| b.len()))
            .max()?;
        let line = self.src.bytes(pos, pos.saturating_add(longest + 4));
        let rest = line.strip_prefix(b"--")?;
        for (frame, f) in self.stack.iter().enumerate().rev() {
            let Some(b) = &f.boundary else { continue };
            if let Some(after) = rest.strip_prefix(&b[..]) {
                let close = after.starts_with(b"--");
                return Some(Hit {
                    pos,
                    frame,
                    close,
                    from: pos,
                    next: self.src.line_end(pos),
                });
            }
        }
        None
    }

    /// The first boundary line at or after the line start `from`.
    fn find_boundary(&self, from: usize) -> Option<Hit> {
        if !self.has_boundaries() {
            return None;
        }
        let hit = match self.boundary_at(from) {
            Some(hit) => Some(hit),
            None => self.src.find_dash_line(from, |pos| self.boundary_at(pos)),
        };
        hit.map(|h| Hit { from, ..h })
    }

    /// Reads a header block at `start`: its end and the boundary line that
    /// cut it short, if any.
    fn scan_header(&self, start: usize) -> (usize, Option<Hit>) {
        let len = self.src.len();
        let check = self.has_boundaries();
        let mut pos = start;
        while pos < len {
            match &*self.src.bytes(pos, pos + 2) {
                [b'\n', ..] => return (pos + 1, None),
                [b'\r', b'\n'] => return (pos + 2, None),
                [b'-', b'-'] if check => {
                    if let Some(hit) = self.boundary_at(pos) {
                        return (pos, Some(hit));
                    }
                }
                _ => {}
            }
            pos = self.src.line_end(pos);
        }
        (len, None)
    }

    fn new_node(&mut self, header_start: usize, in_digest: bool) -> usize {
        self.nodes.push(Node {
            header_start,
            body_start: header_start,
            end: header_start,
            children: Vec::new(),
            kind: NodeKind::Leaf,
            in_digest,
            stub: false,
            header_cut: false,
            header: Cow::Borrowed(&[]),
            headers: HeaderRanges::default(),
        });
        self.nodes.len() - 1
    }

    fn read_headers(&mut self, n: usize) {
        if let Some(node) = self.nodes.get_mut(n) {
            if !self.src.keep(node.body_start.saturating_sub(node.header_start)) {
                // The source has said why; the header is read as empty.
                return;
            }
            node.header = self.src.bytes(node.header_start, node.body_start);
            let base = node.header.as_ptr() as usize;
            // Every value is a slice of the block: its place is its offset.
            node.headers = raw_headers(&node.header).map(|v| {
                let at = v.as_ptr() as usize - base;
                at..at + v.len()
            });
        }
    }

    /// Decides the node kind from its Content-Type; returns the boundary of
    /// a multipart and whether it is a multipart/digest.
    fn classify(&mut self, n: usize) -> (Option<Box<[u8]>>, bool) {
        let node = &self.nodes[n];
        let nested_ok = self.stack.len() < self.opts.max_depth && self.nodes.len() < self.opts.max_parts;
        let mut digest = false;
        let (kind, boundary) = match node.headers.resolve(&node.header).content_type {
            None if node.in_digest => (NodeKind::Message, None),
            None => (NodeKind::Leaf, None),
            Some(v) => {
                let ct = content_type(v);
                if ct.media_type.eq_ignore_ascii_case(b"multipart") {
                    let b = find_param(&ct.params, b"boundary")
                        .filter(|b| !b.is_empty())
                        .map(|b| Box::from(&b[..b.len().min(MAX_BOUNDARY)]));
                    digest = ct.subtype.eq_ignore_ascii_case(b"digest");
                    (NodeKind::Multipart, b)
                } else if ct.media_type.eq_ignore_ascii_case(b"message")
                    && ct.subtype.eq_ignore_ascii_case(b"rfc822")
                {
                    (NodeKind::Message, None)
                } else {
                    (NodeKind::Leaf, None)
                }
            }
        };
        self.nodes[n].kind = kind;
        // A message/rfc822 too deep (or past the part limit) keeps its type
        // but gets an empty embedded message: its body is not parsed.
        self.nodes[n].stub = kind == NodeKind::Message && !nested_ok;
        (if nested_ok { boundary } else { None }, digest)
    }

    /// Ends a leaf body at a boundary hit (or the end of the message).
    fn end_leaf(&mut self, n: usize, hit: Option<Hit>) {
        let end = match hit {
            Some(h) => h.pos.saturating_sub(self.src.break_before(h.pos)).max(h.from),
            None => self.src.len(),
        };
        self.nodes[n].end = end;
    }

    /// Ends a multipart or message node left open when `hit` (or the end of
    /// the message) is reached.
    fn close_frame(&mut self, frame: Frame, hit: Option<Hit>) {
        let n = frame.node;
        let last_child_end = self.nodes[n].children.last().map(|&c| self.nodes[c].end);
        let end = match (self.nodes[n].kind, hit) {
            (_, None) => self.src.len(),
            (NodeKind::Message, Some(h)) => last_child_end.unwrap_or(h.pos),
            (_, Some(h)) => h.pos.saturating_sub(self.src.break_before(h.pos)).max(h.from),
        };
        self.nodes[n].end = end.max(last_child_end.unwrap_or(0));
    }

    fn run(&mut self) {
        enum Step {
            Header(usize),
            Boundary(Hit),
            Eof,
        }
        let mut step = Step::Header(0);
        loop {
            step = match step {
                Step::Header(n) => {
                    let (body_start, cut) = self.scan_header(self.nodes[n].header_start);
                    self.nodes[n].body_start = body_start;
                    self.read_headers(n);
                    let (boundary, digest) = self.classify(n);
                    if let Some(hit) = cut {
                        self.nodes[n].end = hit.pos;
                        self.nodes[n].header_cut = true;
                        if self.nodes[n].kind == NodeKind::Message {
                            self.add_stub(n, hit.pos);
                        }
                        Step::Boundary(hit)
                    } else if self.nodes[n].stub {
                        self.add_stub(n, body_start);
                        let hit = self.find_boundary(body_start);
                        self.end_leaf(n, hit);
                        hit.map_or(Step::Eof, Step::Boundary)
                    } else {
                        match (self.nodes[n].kind, boundary) {
                            (NodeKind::Multipart, Some(b)) => {
                                self.stack.push(Frame {
                                    node: n,
                                    boundary: Some(b),
                                    digest,
                                });
                                self.find_boundary(body_start).map_or(Step::Eof, Step::Boundary)
                            }
                            (NodeKind::Message, _) => {
                                self.stack.push(Frame {
                                    node: n,
                                    boundary: None,
                                    digest: false,
                                });
                                let child = self.new_node(body_start, false);
                                self.nodes[n].children.push(child);
                                Step::Header(child)
                            }
                            _ => {
                                let hit = self.find_boundary(body_start);
                                self.end_leaf(n, hit);
                                hit.map_or(Step::Eof, Step::Boundary)
                            }
                        }
                    }
                }
                Step::Boundary(hit) => {
                    while self.stack.len() > hit.frame + 1 {
                        if let Some(f) = self.stack.pop() {
                            self.close_frame(f, Some(hit));
                        }
                    }
                    let (mp, in_digest) = self
                        .stack
                        .get(hit.frame)
                        .map_or((0, false), |f| (f.node, f.digest));
                    if hit.close || self.nodes.len() >= self.opts.max_parts {
                        // Epilogue (or too many parts): this boundary no
                        // longer starts parts.
                        if let Some(f) = self.stack.get_mut(hit.frame) {
                            f.boundary = None;
                        }
                        self.find_boundary(hit.next).map_or(Step::Eof, Step::Boundary)
                    } else {
                        let child = self.new_node(hit.next, in_digest);
                        self.nodes[mp].children.push(child);
                        Step::Header(child)
                    }
                }
                Step::Eof => {
                    while let Some(f) = self.stack.pop() {
                        self.close_frame(f, None);
                    }
                    return;
                }
            };
        }
    }

    /// Gives a message/rfc822 node an empty embedded message at `at`.
    fn add_stub(&mut self, n: usize, at: usize) {
        let child = self.new_node(at, false);
        self.nodes[child].end = at;
        self.nodes[n].children.push(child);
    }
}

/// A node built: the part, and what BODYSTRUCTURE says about it.
type Built<'a> = (Part, BodyStructure<'a>);

/// What a node holds, built.
enum Inside<'a> {
    Leaf,
    Multipart(Vec<Built<'a>>),
    Message(Box<Envelope<'a>>, Box<Built<'a>>),
}

/// Parses a message: its envelope, its part tree, its body structure and
/// its size.
pub(crate) fn parse<'a, S: Source<'a>>(
    src: &S,
    opts: &AnalysisOptions,
) -> (Envelope<'a>, Part, BodyStructure<'a>, u64) {
    let mut p = Parser {
        src,
        opts,
        nodes: Vec::new(),
        stack: Vec::new(),
    };
    p.new_node(0, false);
    p.run();
    let nodes = p.nodes;

    // Body counts of every node, children first (children have larger
    // indices than their parent): each byte is counted once.
    let mut body_counts = vec![Counts::default(); nodes.len()];
    let mut full_counts = vec![Counts::default(); nodes.len()];
    for (i, n) in nodes.iter().enumerate().rev() {
        let mut c = Counts::default();
        let mut pos = n.body_start;
        for &ch in &n.children {
            let child = &nodes[ch];
            c += src.counts(pos, child.header_start.max(pos));
            c += full_counts[ch];
            pos = pos.max(child.end);
        }
        c += src.counts(pos, n.end.max(pos));
        body_counts[i] = c;
        let mut full = src.counts(n.header_start, n.body_start);
        full += c;
        full_counts[i] = full;
    }

    // Build the trees bottom-up.
    let mut built: Vec<Option<Built<'a>>> = Vec::with_capacity(nodes.len());
    built.resize_with(nodes.len(), || None);
    for (i, n) in nodes.iter().enumerate().rev() {
        let c = body_counts[i];
        let size = (n.end - n.body_start) as u64 + if opts.count_lf_as_crlf { c.bare_lf } else { 0 };
        let inside = match n.kind {
            NodeKind::Multipart => {
                Inside::Multipart(n.children.iter().filter_map(|&ch| built[ch].take()).collect())
            }
            NodeKind::Message => {
                let child = n
                    .children
                    .first()
                    .and_then(|&ch| built[ch].take().map(|b| (ch, b)));
                match child {
                    Some((ch, child)) => Inside::Message(Box::new(envelope_of(&nodes[ch])), Box::new(child)),
                    None => Inside::Leaf,
                }
            }
            NodeKind::Leaf => Inside::Leaf,
        };
        built[i] = Some(match &n.header {
            Cow::Borrowed(header) => structure(n, header, inside, size, c.lf),
            Cow::Owned(header) => {
                let (part, body) = structure(n, header, inside, size, c.lf);
                (part, body.into_owned())
            }
        });
    }
    let (root, body) = built
        .first_mut()
        .and_then(Option::take)
        .unwrap_or_else(|| (leaf_at(src.len()), empty_text_part(true)));
    let env = nodes
        .first()
        .map(envelope_of)
        .unwrap_or_else(|| envelope(&[], 0, 0));
    let extra = if opts.count_lf_as_crlf {
        full_counts.first().map_or(0, |c| c.bare_lf)
    } else {
        0
    };
    (env, root, body, src.len() as u64 + extra)
}

/// The envelope of a node's header (a message's).
fn envelope_of<'a>(n: &Node<'a>) -> Envelope<'a> {
    match &n.header {
        Cow::Borrowed(header) => envelope(header, 0, header.len()),
        Cow::Owned(header) => envelope(header, 0, header.len()).into_owned(),
    }
}

fn leaf_at(pos: usize) -> Part {
    Part {
        header_start: pos,
        body_start: pos,
        end: pos,
        size: 0,
        kind: PartKind::Leaf,
        transfer_encoding: TransferEncoding::Identity,
        header_cut: false,
    }
}

fn quoted(s: &'static [u8]) -> IString<'static> {
    string(Cow::Borrowed(s))
}

/// The extension fields from the disposition on, all present as Dovecot
/// sends them.
fn tail<'a>(
    disposition: Option<mailwire_imap::Disposition<'a>>,
    tags: Vec<Cow<'a, [u8]>>,
    location: NString<'a>,
) -> ExtensionTail<'a> {
    let language = if tags.is_empty() {
        Language::Single(NString::NIL)
    } else {
        Language::List(tags.into_iter().map(string).collect())
    };
    ExtensionTail {
        disposition,
        language: Some(LanguageTail {
            language,
            location: Some(LocationTail {
                location,
                extensions: Vec::new(),
            }),
        }),
    }
}

/// What Dovecot sends for a multipart without parts, which IMAP cannot
/// express: an empty text/plain part.
fn empty_text_part(extension: bool) -> BodyStructure<'static> {
    BodyStructure::Single {
        media_type: quoted(b"text"),
        media_subtype: quoted(b"plain"),
        fields: BodyFields {
            params: vec![mailwire_imap::BodyParam {
                name: quoted(b"charset"),
                value: quoted(b"us-ascii"),
            }]
            .into(),
            id: NString::NIL,
            description: NString::NIL,
            encoding: quoted(b"7bit"),
            octets: 0,
        },
        specific: SpecificFields::Text { lines: 0 },
        extension: extension.then(|| SinglePartExtension {
            md5: NString::NIL,
            tail: Some(tail(None, Vec::new(), NString::NIL)),
        }),
    }
}

/// Applies Dovecot's defaults and converts a node.
fn structure<'a>(n: &Node<'_>, header: &'a [u8], inside: Inside<'a>, size: u64, lines: u64) -> Built<'a> {
    let h = n.headers.resolve(header);
    let (media_type, media_subtype, mut params): (Cow<'a, [u8]>, Cow<'a, [u8]>, Vec<Param<'a>>) =
        match h.content_type {
            None if n.in_digest => (Cow::Borrowed(b"message"), Cow::Borrowed(b"rfc822"), Vec::new()),
            None => (Cow::Borrowed(b"text"), Cow::Borrowed(b"plain"), Vec::new()),
            Some(v) => {
                let ct = content_type(v);
                (Cow::Borrowed(ct.media_type), Cow::Borrowed(ct.subtype), ct.params)
            }
        };
    let tail = tail(
        h.disposition.map(|d| disposition(d).into_imap()),
        h.language.map(languages).unwrap_or_default(),
        nstring(h.location.map(without_line_breaks)),
    );
    let mut part = Part {
        header_start: n.header_start,
        body_start: n.body_start,
        end: n.end,
        size,
        kind: PartKind::Leaf,
        transfer_encoding: TransferEncoding::of(h.encoding),
        header_cut: n.header_cut,
    };
    let (media_type, media_subtype, specific) = match inside {
        Inside::Multipart(children) => {
            let (parts, mut bodies): (Vec<Part>, Vec<BodyStructure<'a>>) = children.into_iter().unzip();
            if bodies.is_empty() {
                bodies.push(empty_text_part(true));
            }
            part.kind = PartKind::Multipart(parts);
            let body = BodyStructure::Multipart {
                parts: bodies,
                subtype: string(media_subtype),
                extension: Some(MultipartExtension {
                    params: imap_params(params),
                    tail: Some(tail),
                }),
            };
            return (part, body);
        }
        Inside::Message(envelope, child) => {
            let (inner, body) = *child;
            part.kind = PartKind::Message(Box::new(inner));
            (
                Cow::Borrowed(&b"message"[..]),
                Cow::Borrowed(&b"rfc822"[..]),
                SpecificFields::Message {
                    envelope,
                    body: Box::new(body),
                    lines,
                },
            )
        }
        Inside::Leaf if media_type.eq_ignore_ascii_case(b"text") => {
            (media_type, media_subtype, SpecificFields::Text { lines })
        }
        Inside::Leaf => (media_type, media_subtype, SpecificFields::Basic),
    };
    if media_type.eq_ignore_ascii_case(b"text") && find_param(&params, b"charset").is_none() {
        params.push(Param {
            name: Cow::Borrowed(b"charset"),
            value: Cow::Borrowed(b"us-ascii"),
        });
    }
    let enc = h.encoding.map(encoding).filter(|e| !e.is_empty());
    let body = BodyStructure::Single {
        media_type: string(media_type),
        media_subtype: string(media_subtype),
        fields: BodyFields {
            params: imap_params(params),
            id: nstring(h.id.map(without_line_breaks)),
            description: nstring(h.description.map(without_line_breaks)),
            encoding: string(Cow::Borrowed(enc.unwrap_or(b"7bit"))),
            octets: u32::try_from(size).unwrap_or(u32::MAX),
        },
        specific,
        extension: Some(SinglePartExtension {
            md5: nstring(h.md5.map(without_line_breaks)),
            tail: Some(tail),
        }),
    };
    (part, body)
}
