//! FETCH: the data items of one message, from its place in the view and,
//! when an item needs the content, from the mailbox model's MIME analysis.

use std::borrow::Cow;

use mailwire::imap::{
    DataItemName, DateTime, FetchItem, FetchItems, FetchMacro, FlagFetch, IString, Literal, MessageDataItem,
    NString, ObjectId, Quoted, Section, SectionText,
};
use mailwire::mailbox::analysis::{
    BinaryError, MessageAnalysis, apply_partial, binary_size, decode_binary, extract_section, preview,
    to_crlf,
};
use mailwire::mailbox::{Flags, ViewMessage};

use super::cache::Structure;

/// The items a FETCH asks for, macros expanded, in the order asked.
pub fn wanted<'a>(items: &'a FetchItems<'a>) -> Cow<'a, [FetchItem<'a>]> {
    match items {
        FetchItems::Macro(m) => Cow::Borrowed(FetchMacro::expand(*m)),
        FetchItems::Item(i) => Cow::Owned(vec![i.clone()]),
        FetchItems::List(l) => Cow::Borrowed(l),
    }
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

/// Why an item could not be answered.
#[derive(Debug)]
pub enum ItemError {
    /// BINARY of a part whose transfer encoding is unknown or broken:
    /// `NO [UNKNOWN-CTE]` (RFC 3516).
    UnknownCte,
}

/// The flags of a message as FETCH sends them; `\Recent` only for
/// IMAP4rev1 clients (RFC 9051 removed it).
pub fn flags(message: &ViewMessage, rev2: bool) -> Vec<FlagFetch<'static>> {
    flag_list(&message.flags, message.recent, rev2)
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

/// Renders `items` for one message. `content` is its analysis when
/// [`needs_content`] said so, `structure` its cached structure (which
/// answers ENVELOPE, BODY and BODYSTRUCTURE); without them, content items
/// are left out.
pub fn render(
    message: &ViewMessage,
    content: Option<&MessageAnalysis<'_>>,
    structure: Option<&Structure>,
    items: &[FetchItem<'_>],
    rev2: bool,
    modseq: bool,
) -> Result<Vec<MessageDataItem<'static>>, ItemError> {
    let mut out = Vec::with_capacity(items.len() + 1);
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
                (None, Some(msg)) => content_item(msg, other)?,
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

/// An item read from the content.
fn content_item(
    msg: &MessageAnalysis<'_>,
    item: &FetchItem<'_>,
) -> Result<MessageDataItem<'static>, ItemError> {
    Ok(match item {
        FetchItem::Envelope => MessageDataItem::Envelope(Box::new(msg.envelope().clone().into_owned())),
        FetchItem::BodyStructure => {
            MessageDataItem::BodyStructure(Box::new(msg.body_structure().clone().into_owned()))
        }
        FetchItem::Body => MessageDataItem::Body(Box::new(msg.body().into_owned())),
        FetchItem::Rfc822 => MessageDataItem::Rfc822(literal(to_crlf(msg.raw()))),
        FetchItem::Rfc822Header => MessageDataItem::Rfc822Header(literal(section_data(
            msg,
            &Section::new(None, Some(SectionText::Header)).expect("HEADER is a section"),
            None,
        ))),
        FetchItem::Rfc822Text => MessageDataItem::Rfc822Text(literal(section_data(
            msg,
            &Section::new(None, Some(SectionText::Text)).expect("TEXT is a section"),
            None,
        ))),
        FetchItem::BodySection { section, partial, .. } => MessageDataItem::BodySection {
            section: section.clone().into_owned(),
            origin: partial.as_ref().map(|p| p.offset()),
            data: literal(section_data(msg, section, partial.as_ref())),
        },
        FetchItem::Binary { section, partial, .. } => {
            let data = match decode_binary(msg, section.as_ref()) {
                // A part that does not exist has no content: NIL.
                Err(BinaryError::NoSuchPart) => NString(None),
                Err(_) => return Err(ItemError::UnknownCte),
                Ok(content) => {
                    let data = if content.decoded {
                        content.data
                    } else {
                        Cow::Owned(to_crlf(&content.data).into_owned())
                    };
                    binary_literal(match partial {
                        Some(p) => apply_partial(data, p),
                        None => data,
                    })
                }
            };
            MessageDataItem::Binary {
                section: section.clone(),
                origin: partial.as_ref().map(|p| p.offset()),
                data,
            }
        }
        FetchItem::EmailId => MessageDataItem::EmailId(email_id(msg.raw())),
        // Computed on demand, so a LAZY fetch gets it too.
        FetchItem::Preview { .. } => preview_item(preview(msg)),
        FetchItem::BinarySize { section } => {
            let size = match binary_size(msg, section.as_ref()) {
                Err(BinaryError::NoSuchPart) => 0,
                Err(_) => return Err(ItemError::UnknownCte),
                Ok(size) => size,
            };
            MessageDataItem::BinarySize {
                section: section.clone(),
                size: u32::try_from(size).unwrap_or(u32::MAX),
            }
        }
        // The caller answers the items that need no content.
        _ => unreachable!("an item without content reached content_item"),
    })
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

/// A body section with CRLF line ends, then cut to the partial range
/// (whose offsets count CRLF, as the sizes do). A section that does not
/// exist is empty, as Dovecot sends it.
fn section_data<'m>(
    msg: &MessageAnalysis<'m>,
    section: &Section<'_>,
    partial: Option<&mailwire::imap::Partial>,
) -> Cow<'m, [u8]> {
    let data = extract_section(msg, section, None).unwrap_or(Cow::Borrowed(&[]));
    let data = match data {
        Cow::Borrowed(b) => to_crlf(b),
        Cow::Owned(o) => Cow::Owned(to_crlf(&o).into_owned()),
    };
    match partial {
        Some(p) => apply_partial(data, p),
        None => data,
    }
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

/// Replaces NUL with 0x80 (see [`literal`]).
pub fn replace_nul(data: &mut [u8]) {
    for b in data.iter_mut().filter(|b| **b == 0) {
        *b = 0x80;
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
