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
//! - a multipart without a boundary parameter, or whose boundary never
//!   occurs, has no parts; a part without Content-Type is text/plain, or
//!   message/rfc822 inside multipart/digest;
//! - message/rfc822 content is parsed as a message whatever its
//!   Content-Transfer-Encoding; message/global is not (Dovecot 2.3).
//!
//! Sizes count each bare LF as CRLF by default, as Dovecot does (it serves
//! messages with CRLF line ends); line counts are counts of LF.

use std::borrow::Cow;

use memchr::memmem;

use super::envelope::{Envelope, envelope};
use super::header::Fields;
use super::mime::{Disposition, Param, content_type, disposition, encoding, find_param, languages};
use super::{AnalysisOptions, header::without_line_breaks};

/// The basic body fields shared by every part (`body-fields`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BodyFields<'a> {
    /// body-fld-param: Content-Type parameters; empty for NIL.
    pub params: Vec<Param<'a>>,
    /// body-fld-id: Content-ID.
    pub id: Option<Cow<'a, [u8]>>,
    /// body-fld-desc: Content-Description.
    pub description: Option<Cow<'a, [u8]>>,
    /// body-fld-enc: the Content-Transfer-Encoding token as written, or
    /// `7bit` when the header is missing or empty.
    pub encoding: Cow<'a, [u8]>,
    /// body-fld-octets: size of the body in octets.
    pub size: u64,
}

/// What kind of body a part has, with the fields only that kind carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyKind<'a> {
    /// A non-text single part (`body-type-basic`).
    Basic,
    /// A text/* part (`body-type-text`) and its body-fld-lines.
    Text {
        /// Number of lines (LF) in the body.
        lines: u64,
    },
    /// A message/rfc822 part (`body-type-msg`).
    Message {
        /// The embedded message's envelope.
        envelope: Box<Envelope<'a>>,
        /// The embedded message's body structure.
        body: Box<BodyStructure<'a>>,
        /// Number of lines (LF) in the part's body.
        lines: u64,
    },
    /// A multipart (`body-type-mpart`). IMAP needs at least one body here:
    /// for a multipart without parts Dovecot sends an empty text/plain
    /// (`"text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0`).
    Multipart {
        /// The parts, in order.
        parts: Vec<BodyStructure<'a>>,
    },
}

/// One node of the BODYSTRUCTURE tree, with its location in the message.
///
/// For a multipart `media_type` is the Content-Type's type and only the
/// subtype, `fields.params`, `disposition`, `language` and `location` appear
/// in IMAP; for the others all fields do (`md5` onwards only in
/// BODYSTRUCTURE, not in BODY).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyStructure<'a> {
    /// Media type as written (`text` when there is no Content-Type;
    /// `message` for a message/rfc822 part whatever its case).
    pub media_type: Cow<'a, [u8]>,
    /// Media subtype as written (`plain` when there is no Content-Type,
    /// empty when the Content-Type has no `/`).
    pub media_subtype: Cow<'a, [u8]>,
    /// The basic fields.
    pub fields: BodyFields<'a>,
    /// body-fld-md5: Content-MD5.
    pub md5: Option<Cow<'a, [u8]>>,
    /// body-fld-dsp: Content-Disposition.
    pub disposition: Option<Disposition<'a>>,
    /// body-fld-lang: Content-Language tags; empty for NIL.
    pub language: Vec<Cow<'a, [u8]>>,
    /// body-fld-loc: Content-Location.
    pub location: Option<Cow<'a, [u8]>>,
    /// Type-specific fields and children.
    pub kind: BodyKind<'a>,
    /// Offset of the part's header in the message.
    pub header_start: usize,
    /// Offset of the part's body (just after the header's blank line).
    pub body_start: usize,
    /// Offset just past the part's body.
    pub end: usize,
    /// The Content-Transfer-Encoding header, when present (possibly empty).
    pub(crate) encoding_header: Option<Cow<'a, [u8]>>,
    /// The header was cut short by a boundary line (no blank line).
    pub(crate) header_cut: bool,
}

fn owned(s: Cow<'_, [u8]>) -> Cow<'static, [u8]> {
    Cow::Owned(s.into_owned())
}

impl BodyStructure<'_> {
    /// Converts into a structure that owns its strings (to cache it without
    /// the message; the offsets stay valid for the same message bytes).
    pub fn into_owned(self) -> BodyStructure<'static> {
        let kind = match self.kind {
            BodyKind::Basic => BodyKind::Basic,
            BodyKind::Text { lines } => BodyKind::Text { lines },
            BodyKind::Message {
                envelope,
                body,
                lines,
            } => BodyKind::Message {
                envelope: Box::new(envelope.into_owned()),
                body: Box::new(body.into_owned()),
                lines,
            },
            BodyKind::Multipart { parts } => BodyKind::Multipart {
                parts: parts.into_iter().map(BodyStructure::into_owned).collect(),
            },
        };
        BodyStructure {
            media_type: owned(self.media_type),
            media_subtype: owned(self.media_subtype),
            fields: BodyFields {
                params: self.fields.params.into_iter().map(Param::into_owned).collect(),
                id: self.fields.id.map(owned),
                description: self.fields.description.map(owned),
                encoding: owned(self.fields.encoding),
                size: self.fields.size,
            },
            md5: self.md5.map(owned),
            disposition: self.disposition.map(Disposition::into_owned),
            language: self.language.into_iter().map(owned).collect(),
            location: self.location.map(owned),
            kind,
            header_start: self.header_start,
            body_start: self.body_start,
            end: self.end,
            encoding_header: self.encoding_header.map(owned),
            header_cut: self.header_cut,
        }
    }

    /// True for multipart nodes.
    pub fn is_multipart(&self) -> bool {
        matches!(self.kind, BodyKind::Multipart { .. })
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

/// Content headers of a part, raw.
#[derive(Default)]
struct RawHeaders<'a> {
    content_type: Option<&'a [u8]>,
    encoding: Option<&'a [u8]>,
    id: Option<&'a [u8]>,
    description: Option<&'a [u8]>,
    md5: Option<&'a [u8]>,
    disposition: Option<&'a [u8]>,
    language: Option<&'a [u8]>,
    location: Option<&'a [u8]>,
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
    headers: RawHeaders<'a>,
}

struct Frame<'a> {
    node: usize,
    /// The active boundary; `None` for a message frame or a multipart in
    /// its epilogue.
    boundary: Option<Cow<'a, [u8]>>,
    /// A multipart/digest: its parts default to message/rfc822.
    digest: bool,
}

struct Parser<'a, 'o> {
    raw: &'a [u8],
    opts: &'o AnalysisOptions,
    nodes: Vec<Node<'a>>,
    stack: Vec<Frame<'a>>,
    finder: memmem::Finder<'static>,
}

fn line_end(raw: &[u8], pos: usize) -> usize {
    match raw.get(pos..).and_then(|s| memchr::memchr(b'\n', s)) {
        Some(i) => pos + i + 1,
        None => raw.len(),
    }
}

/// Length of the line break ending just before `pos` (0, 1 or 2).
fn break_before(raw: &[u8], pos: usize) -> usize {
    match raw.get(..pos) {
        Some([.., b'\r', b'\n']) => 2,
        Some([.., b'\n']) => 1,
        _ => 0,
    }
}

impl<'a> Parser<'a, '_> {
    fn has_boundaries(&self) -> bool {
        self.stack.iter().any(|f| f.boundary.is_some())
    }

    /// Checks whether the line at `pos` is a boundary line.
    fn boundary_at(&self, pos: usize) -> Option<Hit> {
        let line = self.raw.get(pos..)?;
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
                    next: line_end(self.raw, pos),
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
            None => {
                let hay = self.raw.get(from..)?;
                self.finder
                    .find_iter(hay)
                    .find_map(|i| self.boundary_at(from + i + 1))
            }
        };
        hit.map(|h| Hit { from, ..h })
    }

    /// Reads a header block at `start`: its end and the boundary line that
    /// cut it short, if any.
    fn scan_header(&self, start: usize) -> (usize, Option<Hit>) {
        let raw = self.raw;
        let check = self.has_boundaries();
        let mut pos = start;
        while pos < raw.len() {
            match raw.get(pos..) {
                Some([b'\n', ..]) => return (pos + 1, None),
                Some([b'\r', b'\n', ..]) => return (pos + 2, None),
                Some([b'-', b'-', ..]) if check => {
                    if let Some(hit) = self.boundary_at(pos) {
                        return (pos, Some(hit));
                    }
                }
                _ => {}
            }
            pos = line_end(raw, pos);
        }
        (raw.len(), None)
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
            headers: RawHeaders::default(),
        });
        self.nodes.len() - 1
    }

    fn read_headers(&mut self, n: usize) {
        let Some(node) = self.nodes.get(n) else { return };
        let mut h = RawHeaders::default();
        for f in Fields::new(self.raw, node.header_start, node.body_start) {
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
            let slot = if is(b"type") {
                &mut h.content_type
            } else if is(b"transfer-encoding") {
                &mut h.encoding
            } else if is(b"id") {
                &mut h.id
            } else if is(b"description") {
                &mut h.description
            } else if is(b"md5") {
                &mut h.md5
            } else if is(b"disposition") {
                &mut h.disposition
            } else if is(b"language") {
                &mut h.language
            } else if is(b"location") {
                &mut h.location
            } else {
                continue;
            };
            *slot = Some(v);
        }
        self.nodes[n].headers = h;
    }

    /// Decides the node kind from its Content-Type; returns the boundary of
    /// a multipart and whether it is a multipart/digest.
    fn classify(&mut self, n: usize) -> (Option<Cow<'a, [u8]>>, bool) {
        let node = &self.nodes[n];
        let nested_ok = self.stack.len() < self.opts.max_depth && self.nodes.len() < self.opts.max_parts;
        let mut digest = false;
        let (kind, boundary) = match node.headers.content_type {
            None if node.in_digest => (NodeKind::Message, None),
            None => (NodeKind::Leaf, None),
            Some(v) => {
                let ct = content_type(v);
                if ct.media_type.eq_ignore_ascii_case(b"multipart") {
                    let b = find_param(&ct.params, b"boundary")
                        .filter(|b| !b.is_empty())
                        .cloned();
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
            Some(h) => h.pos.saturating_sub(break_before(self.raw, h.pos)).max(h.from),
            None => self.raw.len(),
        };
        self.nodes[n].end = end;
    }

    /// Ends a multipart or message node left open when `hit` (or the end of
    /// the message) is reached.
    fn close_frame(&mut self, frame: Frame<'a>, hit: Option<Hit>) {
        let n = frame.node;
        let last_child_end = self.nodes[n].children.last().map(|&c| self.nodes[c].end);
        let end = match (self.nodes[n].kind, hit) {
            (_, None) => self.raw.len(),
            (NodeKind::Message, Some(h)) => last_child_end.unwrap_or(h.pos),
            (_, Some(h)) => h.pos.saturating_sub(break_before(self.raw, h.pos)).max(h.from),
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

/// LF and bare-LF counts of a range.
#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    lf: u64,
    bare_lf: u64,
}

impl std::ops::AddAssign for Counts {
    fn add_assign(&mut self, o: Counts) {
        self.lf += o.lf;
        self.bare_lf += o.bare_lf;
    }
}

fn count(raw: &[u8], start: usize, end: usize) -> Counts {
    let mut c = Counts::default();
    let Some(slice) = raw.get(start..end) else {
        return c;
    };
    for i in memchr::memchr_iter(b'\n', slice) {
        c.lf += 1;
        let at = start + i;
        if at == 0 || raw.get(at - 1) != Some(&b'\r') {
            c.bare_lf += 1;
        }
    }
    c
}

/// Parses a message: its envelope, its body structure and its size.
pub(crate) fn parse<'a>(raw: &'a [u8], opts: &AnalysisOptions) -> (Envelope<'a>, BodyStructure<'a>, u64) {
    let mut p = Parser {
        raw,
        opts,
        nodes: Vec::new(),
        stack: Vec::new(),
        finder: memmem::Finder::new(b"\n--"),
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
            c += count(raw, pos, child.header_start.max(pos));
            c += full_counts[ch];
            pos = pos.max(child.end);
        }
        c += count(raw, pos, n.end.max(pos));
        body_counts[i] = c;
        let mut full = count(raw, n.header_start, n.body_start);
        full += c;
        full_counts[i] = full;
    }

    // Build the public tree bottom-up.
    let mut built: Vec<Option<BodyStructure<'a>>> = Vec::with_capacity(nodes.len());
    built.resize_with(nodes.len(), || None);
    for (i, n) in nodes.iter().enumerate().rev() {
        let c = body_counts[i];
        let size = (n.end - n.body_start) as u64 + if opts.count_lf_as_crlf { c.bare_lf } else { 0 };
        let kind = match n.kind {
            NodeKind::Multipart => BodyKind::Multipart {
                parts: n.children.iter().filter_map(|&ch| built[ch].take()).collect(),
            },
            NodeKind::Message => {
                let child = n
                    .children
                    .first()
                    .and_then(|&ch| built[ch].take().map(|b| (ch, b)));
                match child {
                    Some((ch, body)) => {
                        let env = envelope(raw, nodes[ch].header_start, nodes[ch].body_start);
                        BodyKind::Message {
                            envelope: Box::new(env),
                            body: Box::new(body),
                            lines: c.lf,
                        }
                    }
                    None => BodyKind::Basic,
                }
            }
            NodeKind::Leaf => BodyKind::Basic,
        };
        built[i] = Some(structure(n, kind, size, c.lf));
    }
    let root = built
        .first_mut()
        .and_then(Option::take)
        .unwrap_or_else(|| empty_structure(raw.len()));
    let env = nodes
        .first()
        .map(|n| envelope(raw, n.header_start, n.body_start))
        .unwrap_or_default();
    let extra = if opts.count_lf_as_crlf {
        full_counts.first().map_or(0, |c| c.bare_lf)
    } else {
        0
    };
    (env, root, raw.len() as u64 + extra)
}

fn empty_structure<'a>(len: usize) -> BodyStructure<'a> {
    BodyStructure {
        media_type: Cow::Borrowed(b"text"),
        media_subtype: Cow::Borrowed(b"plain"),
        fields: BodyFields::default(),
        md5: None,
        disposition: None,
        language: Vec::new(),
        location: None,
        kind: BodyKind::Basic,
        header_start: 0,
        body_start: len,
        end: len,
        encoding_header: None,
        header_cut: false,
    }
}

/// Applies Dovecot's defaults and converts a node.
fn structure<'a>(n: &Node<'a>, kind: BodyKind<'a>, size: u64, lines: u64) -> BodyStructure<'a> {
    let h = &n.headers;
    let (media_type, media_subtype, mut params): (Cow<'a, [u8]>, Cow<'a, [u8]>, Vec<Param<'a>>) =
        match h.content_type {
            None if n.in_digest => (Cow::Borrowed(b"message"), Cow::Borrowed(b"rfc822"), Vec::new()),
            None => (Cow::Borrowed(b"text"), Cow::Borrowed(b"plain"), Vec::new()),
            Some(v) => {
                let ct = content_type(v);
                (Cow::Borrowed(ct.media_type), Cow::Borrowed(ct.subtype), ct.params)
            }
        };
    let (media_type, media_subtype) = match kind {
        BodyKind::Message { .. } => (Cow::Borrowed(&b"message"[..]), Cow::Borrowed(&b"rfc822"[..])),
        _ => (media_type, media_subtype),
    };
    let is_text = media_type.eq_ignore_ascii_case(b"text");
    if is_text && find_param(&params, b"charset").is_none() {
        params.push(Param {
            name: Cow::Borrowed(b"charset"),
            value: Cow::Borrowed(b"us-ascii"),
        });
    }
    let kind = match kind {
        BodyKind::Basic if is_text => BodyKind::Text { lines },
        k => k,
    };
    let enc = h.encoding.map(encoding).filter(|e| !e.is_empty());
    BodyStructure {
        media_type,
        media_subtype,
        fields: BodyFields {
            params,
            id: h.id.map(without_line_breaks),
            description: h.description.map(without_line_breaks),
            encoding: Cow::Borrowed(enc.unwrap_or(b"7bit")),
            size,
        },
        md5: h.md5.map(without_line_breaks),
        disposition: h.disposition.map(disposition),
        language: h.language.map(languages).unwrap_or_default(),
        location: h.location.map(without_line_breaks),
        kind,
        header_start: n.header_start,
        body_start: n.body_start,
        end: n.end,
        encoding_header: h.encoding.map(Cow::Borrowed),
        header_cut: n.header_cut,
    }
}
