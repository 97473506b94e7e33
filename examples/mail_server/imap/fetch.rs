//! FETCH: the data items of one message, from its place in the view and,
//! when an item needs the content, from the mailbox model's MIME analysis.

use std::borrow::Cow;

use mailwire::imap::{
    DataItemName, DateTime, FetchItem, FetchItems, FetchMacro, FlagFetch, IString, Literal, MessageDataItem,
    NString, ObjectId, Partial, Quoted, Section, SectionPart, SectionText,
};
use mailwire::mailbox::analysis::{
    BinaryError, MessageAnalysis, Part, analyze, apply_partial, binary_size, decode_binary, extract_section,
    find_part, preview, to_crlf,
};
use mailwire::mailbox::{Flags, ViewMessage};

use super::cache::Structure;

/// The items a FETCH asks for, macros expanded, in the order asked, each
/// once.
pub fn wanted<'a>(items: &'a FetchItems<'a>) -> Cow<'a, [FetchItem<'a>]> {
    match items {
        FetchItems::Macro(m) => Cow::Borrowed(FetchMacro::expand(*m)),
        FetchItems::Item(i) => Cow::Owned(vec![i.clone()]),
        FetchItems::List(l) => once_each(l),
    }
}

/// `items` with each item once, where it first comes: an item named again
/// adds nothing to the answer but its rendering (a command can name
/// 65,536 items: BODYSTRUCTURE of a message of many parts, or its
/// ENVELOPE, over and over, multiplies what one answer holds).
pub fn once_each<'s, 'a>(items: &'s [FetchItem<'a>]) -> Cow<'s, [FetchItem<'a>]> {
    let mut seen = std::collections::HashSet::with_capacity(items.len());
    let Some(again) = items.iter().position(|i| !seen.insert(i)) else {
        return Cow::Borrowed(items);
    };
    let mut once = items[..again].to_vec();
    once.extend(items[again + 1..].iter().filter(|i| seen.insert(*i)).cloned());
    Cow::Owned(once)
}

/// Whether every item that needs the content is ENVELOPE, BODY or
/// BODYSTRUCTURE, which a cached [`Structure`] answers.
pub fn structure_only(items: &[FetchItem<'_>]) -> bool {
    items.iter().all(|i| {
        matches!(
            i,
            FetchItem::Envelope | FetchItem::Body | FetchItem::BodyStructure
        ) || !needs_content(std::slice::from_ref(i))
    })
}

/// Whether any of the items needs the message's content.
pub fn needs_content(items: &[FetchItem<'_>]) -> bool {
    items.iter().any(|i| {
        matches!(
            i,
            FetchItem::Envelope
                | FetchItem::Body
                | FetchItem::BodyStructure
                | FetchItem::Rfc822
                | FetchItem::Rfc822Header
                | FetchItem::Rfc822Text
                | FetchItem::BodySection { .. }
                | FetchItem::Binary { .. }
                | FetchItem::BinarySize { .. }
                | FetchItem::Preview { .. }
                | FetchItem::EmailId
        )
    })
}

/// The item to stream from disk instead of rendering in memory, if the
/// FETCH asks for the whole message (`BODY[]`, `BODY.PEEK[]`, `RFC822`)
/// and for no other item that needs the content.
pub fn streamable(items: &[FetchItem<'_>]) -> Option<DataItemName<'static>> {
    let mut found = None;
    for item in items {
        let name = match item {
            FetchItem::BodySection {
                section,
                partial: None,
                ..
            } if section.part().is_none() && section.text().is_none() => DataItemName::BodySection {
                section: Section::WHOLE,
                origin: None,
            },
            FetchItem::Rfc822 => DataItemName::Rfc822,
            other if needs_content(std::slice::from_ref(other)) => return None,
            _ => continue,
        };
        if found.replace(name).is_some() {
            return None;
        }
    }
    found
}

/// The EMAILID of a message (RFC 8474): a digest of its content, so the
/// same message keeps it through COPY and MOVE and in every mailbox, and
/// only messages with identical content share one.
pub fn email_id(content: &[u8]) -> ObjectId<'static> {
    use sha2::Digest;
    id_of(sha2::Sha256::digest(content))
}

/// [`email_id`] of the content `reader` gives, read a piece at a time.
pub fn email_id_of(mut reader: impl std::io::Read) -> std::io::Result<ObjectId<'static>> {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    let mut buf = vec![0; 64 * 1024];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(id_of(hasher.finalize()))
}

fn id_of(digest: impl AsRef<[u8]>) -> ObjectId<'static> {
    let hex: String = digest.as_ref()[..16].iter().map(|b| format!("{b:02x}")).collect();
    ObjectId::new(format!("E{hex}")).expect("letters and digits")
}

/// Whether fetching the items sets `\Seen` (RFC 9051 section 6.4.5): a body
/// section or BINARY without PEEK, RFC822 and RFC822.TEXT.
pub fn sets_seen(items: &[FetchItem<'_>]) -> bool {
    items.iter().any(|i| match i {
        FetchItem::BodySection { peek, .. } | FetchItem::Binary { peek, .. } => !peek,
        FetchItem::Rfc822 | FetchItem::Rfc822Text => true,
        _ => false,
    })
}

/// The flags of a message as FETCH sends them; `\Recent` only for
/// IMAP4rev1 clients (RFC 9051 removed it).
pub fn flags(message: &ViewMessage, rev2: bool) -> Vec<FlagFetch<'static>> {
    flag_list(&message.flags, message.recent, rev2)
}

/// Brings a FETCH answer rendered before this FETCH set its message's
/// `\Seen` up to date: FLAGS and MODSEQ as they are now, and FLAGS added
/// when not asked for (RFC 9051 section 6.4.5). For a CONDSTORE-aware
/// client, UID and MODSEQ come along too (RFC 7162 section 3.2.4: a FETCH
/// that implicitly set `\Seen` reports both).
pub fn seen_set(
    data: &mut Vec<MessageDataItem<'static>>,
    message: &ViewMessage,
    rev2: bool,
    condstore: bool,
) {
    let (mut has_flags, mut has_modseq, mut has_uid) = (false, false, false);
    for item in data.iter_mut() {
        match item {
            MessageDataItem::Flags(f) => {
                *f = flags(message, rev2);
                has_flags = true;
            }
            MessageDataItem::ModSeq(m) => {
                *m = message.modseq.into();
                has_modseq = true;
            }
            MessageDataItem::Uid(_) => has_uid = true,
            _ => {}
        }
    }
    if condstore && !has_uid {
        data.insert(0, MessageDataItem::Uid(message.uid.into()));
    }
    if !has_flags {
        data.push(MessageDataItem::Flags(flags(message, rev2)));
    }
    if condstore && !has_modseq {
        data.push(MessageDataItem::ModSeq(message.modseq.into()));
    }
}

/// [`flags`] of flags and a `\Recent` mark.
pub fn flag_list(flags: &Flags, recent: bool, rev2: bool) -> Vec<FlagFetch<'static>> {
    let mut out: Vec<FlagFetch<'static>> = flags
        .to_imap()
        .into_iter()
        .map(|f| FlagFetch::Flag(f.into_owned()))
        .collect();
    if recent && !rev2 {
        out.push(FlagFetch::Recent);
    }
    out
}

/// The most octets the literals of one message's FETCH answer may hold
/// in memory together: four times the message (its sections, their MIME
/// headers and a few partial ranges overlap), and 1 MiB more. Past it the
/// FETCH fails with `NO [LIMIT]`: a command can name 65,536 items, and
/// without it `BODY.PEEK[]` named 5,000 times for a 250 KB message took
/// 2.5 GB. (A large message's sections read from its file have a lower
/// ceiling, `fetching::FROM_FILE_HELD`.)
pub fn answer_limit(size: u64) -> u64 {
    size.saturating_mul(4).saturating_add(1 << 20)
}

/// The most octets the literals of one message's answer to `items` hold
/// in memory: a section or BINARY is at most the message (decoding only
/// shrinks it), or its partial range, and at most `each` (a larger one is
/// streamed or left out); all of them at most [`answer_limit`].
pub fn literals_at_most(items: &[FetchItem<'_>], size: u64, each: u64) -> u64 {
    let one = |partial: &Option<Partial>| partial.as_ref().map_or(size, |p| p.length().get().min(size));
    items
        .iter()
        .map(|item| match item {
            FetchItem::Rfc822 | FetchItem::Rfc822Header | FetchItem::Rfc822Text => size,
            FetchItem::BodySection { partial, .. } | FetchItem::Binary { partial, .. } => one(partial),
            _ => 0,
        })
        .map(|len| len.min(each))
        .fold(0u64, u64::saturating_add)
        .min(answer_limit(size))
}

/// The most octets of content one message's FETCH answer may decode
/// ([`decoding_at_most`]), or read from its file to reach the partial
/// ranges it asks for ([`skipping_at_most`]): eight times the message, and
/// 8 MiB more. Past it the FETCH fails with `NO [LIMIT]` before anything
/// is read: a BINARY or BINARY.SIZE item decodes its part anew, a partial
/// range of it too, and a range of a large message is reached by reading
/// from its part's start. 100 ranges 5 MB into a 10 MB message's part
/// took 4.5 s of BINARY and 0.17 s of BODY (a command can name thousands).
pub fn decode_limit(size: u64) -> u64 {
    size.saturating_mul(8).saturating_add(8 << 20)
}

/// What decoding `items` may cost for a message of `size` octets: for
/// each BINARY and BINARY.SIZE item its part's octets (the message's for
/// `BINARY[]`, nothing for a part that does not exist) when its part tree
/// `root` is known, the message's when it is not (a message read whole is
/// checked before it is read, and before its `\Seen` is set).
pub fn decoding_at_most(items: &[FetchItem<'_>], root: Option<&Part>, size: u64) -> u64 {
    items
        .iter()
        .map(|item| match item {
            FetchItem::Binary { section, .. } | FetchItem::BinarySize { section } => match (section, root) {
                (Some(part), Some(root)) => find_part(root, part.as_slice())
                    .map_or(0, |p| p.end.saturating_sub(p.header_start) as u64),
                _ => size,
            },
            _ => 0,
        })
        .fold(0u64, u64::saturating_add)
}

/// What reaching the partial ranges of `items` may read of a message of
/// `size` octets read from its file: each range's end.
pub fn skipping_at_most(items: &[FetchItem<'_>], size: u64) -> u64 {
    items
        .iter()
        .filter_map(|item| match item {
            FetchItem::BodySection { partial, .. } | FetchItem::Binary { partial, .. } => partial.as_ref(),
            _ => None,
        })
        .map(|p| p.offset().saturating_add(p.length().get()).min(size))
        .fold(0u64, u64::saturating_add)
}

/// What the literals of one message's FETCH answer hold so far, against
/// the most they may hold ([`answer_limit`], or lower).
pub struct LiteralCap {
    held: u64,
    limit: u64,
}

impl LiteralCap {
    pub fn new(limit: u64) -> Self {
        LiteralCap { held: 0, limit }
    }

    /// Counts a literal of `len` octets more: [`ItemError::TooLarge`] once
    /// the answer's literals are above the limit.
    pub fn take<E>(&mut self, len: u64) -> Result<(), ItemError<E>> {
        self.held = self.held.saturating_add(len);
        if self.held > self.limit {
            return Err(ItemError::TooLarge);
        }
        Ok(())
    }
}

/// Renders `items` for one message. `content` is its analysis when
/// [`needs_content`] said so, `structure` its cached structure (which
/// answers ENVELOPE, BODY and BODYSTRUCTURE); without them, content items
/// are left out. Literals above [`answer_limit`] in all are
/// [`ItemError::TooLarge`] (what it decodes is checked before the message
/// is read, see [`decoding_at_most`]).
pub fn render(
    message: &ViewMessage,
    content: Option<&InMemory<'_>>,
    structure: Option<&Structure>,
    items: &[FetchItem<'_>],
    rev2: bool,
    modseq: bool,
) -> Result<Vec<MessageDataItem<'static>>, ItemError<std::convert::Infallible>> {
    let mut out = Vec::with_capacity(items.len() + 1);
    let mut cap = LiteralCap::new(answer_limit(message.size));
    for item in items {
        let data = match item {
            FetchItem::Flags => MessageDataItem::Flags(flags(message, rev2)),
            FetchItem::Uid => MessageDataItem::Uid(message.uid.into()),
            FetchItem::InternalDate => {
                let date = DateTime::try_from(message.internal_date)
                    .unwrap_or_else(|_| DateTime::from_unix_timestamp(0, 0).expect("the epoch is a date"));
                MessageDataItem::InternalDate(date)
            }
            FetchItem::Rfc822Size => MessageDataItem::Rfc822Size(message.size),
            // RFC 8514: when it was saved here, in UTC.
            FetchItem::SaveDate => {
                MessageDataItem::SaveDate(DateTime::from_unix_timestamp(message.save_date, 0).ok())
            }
            FetchItem::ModSeq => MessageDataItem::ModSeq(message.modseq.into()),
            // No threads are kept (RFC 8474 allows NIL).
            FetchItem::ThreadId => MessageDataItem::ThreadId(None),
            other => match (structure.and_then(|s| s.item(other)), content) {
                (Some(data), _) => data,
                (None, Some(msg)) => match content_item(msg, other)? {
                    Some(ContentItem::Done(data)) => data,
                    Some(ContentItem::Literal { name, data, binary }) => {
                        cap.take(data.len() as u64)?;
                        name.with_data(if binary {
                            binary_literal(data)
                        } else {
                            literal(data)
                        })
                    }
                    None => continue,
                },
                (None, None) => continue,
            },
        };
        out.push(data);
    }
    if modseq && !items.iter().any(|i| matches!(i, FetchItem::ModSeq)) {
        // RFC 7162 section 3.1.4.1: with CHANGEDSINCE (or once CONDSTORE is
        // on for a FETCH that asks for FLAGS), MODSEQ comes along.
        out.push(MessageDataItem::ModSeq(message.modseq.into()));
    }
    Ok(out)
}

/// A message as the content items of a FETCH read it: its analysis in
/// memory, or its file read a page at a time (`fetching::FileMessage`).
/// [`content_item`] holds the rules both follow.
pub trait ItemSource {
    /// Content read: bytes, or a reader of the file.
    type Data;
    /// Why the content could not be read (nothing fails in memory).
    type Error;
    /// ENVELOPE, BODY or BODYSTRUCTURE; `None` for any other item.
    fn structure_item(&self, item: &FetchItem<'_>) -> Option<MessageDataItem<'static>>;
    /// `BODY[section]<partial>` with CRLF line ends; `None` when the
    /// section does not exist.
    fn section(
        &self,
        section: &Section<'_>,
        partial: Option<&Partial>,
    ) -> Result<Option<Self::Data>, Self::Error>;
    /// `BINARY[part]<partial>` (RFC 3516).
    fn binary(
        &self,
        part: Option<&SectionPart>,
        partial: Option<&Partial>,
    ) -> Result<Result<Self::Data, BinaryError>, Self::Error>;
    /// `BINARY.SIZE[part]`.
    fn binary_size(&self, part: Option<&SectionPart>) -> Result<Result<u64, BinaryError>, Self::Error>;
    /// PREVIEW's text.
    fn preview(&self) -> Result<String, Self::Error>;
    /// EMAILID.
    fn email_id(&self) -> Result<ObjectId<'static>, Self::Error>;
}

/// An item [`content_item`] answered.
pub enum ContentItem<D> {
    /// The item, complete.
    Done(MessageDataItem<'static>),
    /// `name` with `data` as its literal; BINARY's (`binary`) is a
    /// literal8 when it holds NUL.
    Literal {
        name: DataItemName<'static>,
        data: D,
        binary: bool,
    },
}

/// Why an item could not be answered.
#[derive(Debug)]
pub enum ItemError<E> {
    /// BINARY of a part whose transfer encoding is unknown or broken:
    /// `NO [UNKNOWN-CTE]` (RFC 3516).
    UnknownCte,
    /// The content could not be read.
    Read(E),
    /// The literals of the answer are above [`answer_limit`]:
    /// `NO [LIMIT]`.
    TooLarge,
}

impl<E> From<E> for ItemError<E> {
    fn from(e: E) -> Self {
        ItemError::Read(e)
    }
}

/// The answer to an item that needs the content (see [`needs_content`]);
/// `None` for any other item. The rules, wherever the content is read: a
/// section that does not exist is empty, as Dovecot sends it; BINARY of a
/// part that does not exist is NIL and its BINARY.SIZE 0; content that
/// cannot be decoded is [`ItemError::UnknownCte`].
pub fn content_item<S: ItemSource>(
    msg: &S,
    item: &FetchItem<'_>,
) -> Result<Option<ContentItem<S::Data>>, ItemError<S::Error>> {
    let origin = |p: Option<&Partial>| p.map(|p| p.offset());
    let text = |t| Section::new(None, Some(t)).expect("HEADER and TEXT are sections");
    let (section, partial, name) = match item {
        FetchItem::Envelope | FetchItem::Body | FetchItem::BodyStructure => {
            return Ok(msg.structure_item(item).map(ContentItem::Done));
        }
        FetchItem::Rfc822 => (Section::WHOLE, None, DataItemName::Rfc822),
        FetchItem::Rfc822Header => (text(SectionText::Header), None, DataItemName::Rfc822Header),
        FetchItem::Rfc822Text => (text(SectionText::Text), None, DataItemName::Rfc822Text),
        FetchItem::BodySection { section, partial, .. } => (
            section.clone().into_owned(),
            partial.as_ref(),
            DataItemName::BodySection {
                section: section.clone().into_owned(),
                origin: origin(partial.as_ref()),
            },
        ),
        FetchItem::Binary { section, partial, .. } => {
            let name = DataItemName::Binary {
                section: section.clone(),
                origin: origin(partial.as_ref()),
            };
            return Ok(Some(match msg.binary(section.as_ref(), partial.as_ref())? {
                Ok(data) => ContentItem::Literal {
                    name,
                    data,
                    binary: true,
                },
                // A part that does not exist has no content: NIL.
                Err(BinaryError::NoSuchPart) => ContentItem::Done(name.with_data(NString(None))),
                Err(_) => return Err(ItemError::UnknownCte),
            }));
        }
        FetchItem::BinarySize { section } => {
            let size = match msg.binary_size(section.as_ref())? {
                Ok(size) => size,
                Err(BinaryError::NoSuchPart) => 0,
                Err(_) => return Err(ItemError::UnknownCte),
            };
            return Ok(Some(ContentItem::Done(MessageDataItem::BinarySize {
                section: section.clone(),
                size: u32::try_from(size).unwrap_or(u32::MAX),
            })));
        }
        FetchItem::EmailId => return Ok(Some(ContentItem::Done(MessageDataItem::EmailId(msg.email_id()?)))),
        // Computed on demand, so a LAZY fetch gets it too.
        FetchItem::Preview { .. } => return Ok(Some(ContentItem::Done(preview_item(msg.preview()?)))),
        _ => return Ok(None),
    };
    Ok(Some(match msg.section(&section, partial)? {
        Some(data) => ContentItem::Literal {
            name,
            data,
            binary: false,
        },
        // A section that does not exist is empty, as Dovecot sends it.
        None => ContentItem::Done(name.with_data(literal(Cow::Borrowed(&[])))),
    }))
}

impl<'m> ItemSource for MessageAnalysis<'m> {
    type Data = Cow<'m, [u8]>;
    type Error = std::convert::Infallible;

    fn structure_item(&self, item: &FetchItem<'_>) -> Option<MessageDataItem<'static>> {
        Some(match item {
            FetchItem::Envelope => MessageDataItem::Envelope(Box::new(self.envelope().clone().into_owned())),
            FetchItem::BodyStructure => {
                MessageDataItem::BodyStructure(Box::new(self.body_structure().clone().into_owned()))
            }
            FetchItem::Body => MessageDataItem::Body(Box::new(self.body().into_owned())),
            _ => return None,
        })
    }

    fn section(
        &self,
        section: &Section<'_>,
        partial: Option<&Partial>,
    ) -> Result<Option<Self::Data>, Self::Error> {
        let Some(data) = extract_section(self, section, None) else {
            return Ok(None);
        };
        // CRLF line ends first: the partial range's offsets count them, as
        // the sizes do.
        Ok(Some(apply_partial(crlf(data), partial)))
    }

    fn binary(
        &self,
        part: Option<&SectionPart>,
        partial: Option<&Partial>,
    ) -> Result<Result<Self::Data, BinaryError>, Self::Error> {
        Ok(decode_binary(self, part).map(|content| {
            let data = if content.decoded {
                content.data
            } else {
                crlf(content.data)
            };
            apply_partial(data, partial)
        }))
    }

    fn binary_size(&self, part: Option<&SectionPart>) -> Result<Result<u64, BinaryError>, Self::Error> {
        Ok(binary_size(self, part))
    }

    fn preview(&self) -> Result<String, Self::Error> {
        Ok(preview(self))
    }

    fn email_id(&self) -> Result<ObjectId<'static>, Self::Error> {
        Ok(email_id(self.raw()))
    }
}

/// `data` with CRLF line ends: copied only where a bare LF needs its CR
/// (an undecoded part borrowed from the message stays borrowed).
fn crlf(data: Cow<'_, [u8]>) -> Cow<'_, [u8]> {
    match data {
        Cow::Borrowed(b) => to_crlf(b),
        Cow::Owned(o) => {
            let converted = match to_crlf(&o) {
                Cow::Owned(c) => Some(c),
                Cow::Borrowed(_) => None,
            };
            Cow::Owned(converted.unwrap_or(o))
        }
    }
}

/// A message read whole, analysed when an item needs it: BODY[] (and
/// RFC822, and a partial BODY[]) and EMAILID read the bytes as they are,
/// so a client that downloads messages whole costs no MIME analysis.
pub struct InMemory<'m> {
    raw: &'m [u8],
    analysis: std::cell::OnceCell<MessageAnalysis<'m>>,
}

impl<'m> InMemory<'m> {
    pub fn new(raw: &'m [u8]) -> InMemory<'m> {
        InMemory {
            raw,
            analysis: std::cell::OnceCell::new(),
        }
    }

    /// The analysis, made the first time it is needed.
    pub fn analysis(&self) -> &MessageAnalysis<'m> {
        self.analysis.get_or_init(|| analyze(self.raw))
    }
}

impl<'m> ItemSource for InMemory<'m> {
    type Data = Cow<'m, [u8]>;
    type Error = std::convert::Infallible;

    fn structure_item(&self, item: &FetchItem<'_>) -> Option<MessageDataItem<'static>> {
        self.analysis().structure_item(item)
    }

    fn section(
        &self,
        section: &Section<'_>,
        partial: Option<&Partial>,
    ) -> Result<Option<Self::Data>, Self::Error> {
        if *section != Section::WHOLE {
            return self.analysis().section(section, partial);
        }
        Ok(Some(apply_partial(to_crlf(self.raw), partial)))
    }

    fn binary(
        &self,
        part: Option<&SectionPart>,
        partial: Option<&Partial>,
    ) -> Result<Result<Self::Data, BinaryError>, Self::Error> {
        self.analysis().binary(part, partial)
    }

    fn binary_size(&self, part: Option<&SectionPart>) -> Result<Result<u64, BinaryError>, Self::Error> {
        self.analysis().binary_size(part)
    }

    fn preview(&self) -> Result<String, Self::Error> {
        self.analysis().preview()
    }

    fn email_id(&self) -> Result<ObjectId<'static>, Self::Error> {
        Ok(email_id(self.raw))
    }
}

/// The PREVIEW item of a preview's text.
pub fn preview_item(text: String) -> MessageDataItem<'static> {
    let text = text.into_bytes();
    let value = if text.is_ascii() {
        Quoted::new(text).map(IString::Quoted)
    } else {
        Literal::new(text).map(IString::Literal)
    };
    MessageDataItem::Preview(NString(value.ok()))
}

/// BODY and RFC822 data as a literal, which may hold any octet but NUL: a
/// NUL of a broken message goes as 0x80, as Dovecot sends it.
pub fn literal(data: Cow<'_, [u8]>) -> NString<'static> {
    let mut data = data.into_owned();
    replace_nul(&mut data);
    NString(Some(IString::Literal(
        Literal::new(data).expect("no NUL, so a valid literal"),
    )))
}

/// Replaces NUL with 0x80 (see [`literal`]); a search for NUL, which
/// mail rarely holds, rather than a look at every octet.
pub fn replace_nul(data: &mut [u8]) {
    let mut from = 0;
    while let Some(i) = memchr::memchr(0, &data[from..]) {
        data[from + i] = 0x80;
        from += i + 1;
    }
}

/// BINARY's data: a literal8 when it holds NUL (RFC 3516), a literal
/// otherwise.
pub fn binary_literal(data: Cow<'_, [u8]>) -> NString<'static> {
    let data = data.into_owned();
    let literal = if data.contains(&0) {
        Literal::binary(data)
    } else {
        Literal::new(data).expect("no NUL, so a valid literal")
    };
    NString(Some(IString::Literal(literal)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The whole message read without the analysis is what the analysis
    /// gives, with and without a partial range; so is EMAILID; other
    /// sections still come from the analysis.
    #[test]
    fn a_message_read_whole_needs_no_analysis_for_body_and_emailid() {
        let messages: [&[u8]; 5] = [
            b"",
            b"Subject: a\r\n\r\nbody\r\n",
            b"Subject: lf\n\nbody\nmore\n",
            b"no header at all",
            b"Content-Type: multipart/mixed; boundary=b\n\n--b\n\none\n--b--\n",
        ];
        let partials = [
            None,
            Some(Partial::new(0, std::num::NonZeroU64::new(3).unwrap()).unwrap()),
            Some(Partial::new(5, std::num::NonZeroU64::new(100).unwrap()).unwrap()),
            Some(Partial::new(1_000, std::num::NonZeroU64::new(1).unwrap()).unwrap()),
        ];
        for raw in messages {
            let lazy = InMemory::new(raw);
            let analysis = analyze(raw);
            for partial in &partials {
                let got = lazy.section(&Section::WHOLE, partial.as_ref()).unwrap();
                assert!(lazy.analysis.get().is_none(), "analysed for BODY[]");
                let expected = analysis.section(&Section::WHOLE, partial.as_ref()).unwrap();
                assert_eq!(got, expected, "{raw:?} {partial:?}");
            }
            assert_eq!(lazy.email_id().unwrap(), analysis.email_id().unwrap());
            assert!(lazy.analysis.get().is_none(), "analysed for EMAILID");
            let text = Section::new(None, Some(SectionText::Text)).unwrap();
            assert_eq!(
                lazy.section(&text, None).unwrap(),
                analysis.section(&text, None).unwrap()
            );
        }
    }

    #[test]
    fn every_nul_becomes_0x80() {
        for (input, expected) in [
            (&b""[..], &b""[..]),
            (b"no nul here", b"no nul here"),
            (b"\0", b"\x80"),
            (b"\0a\0\0b\0", b"\x80a\x80\x80b\x80"),
        ] {
            let mut data = input.to_vec();
            replace_nul(&mut data);
            assert_eq!(data, expected);
        }
    }
}
