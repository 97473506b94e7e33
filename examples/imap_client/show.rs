//! How the program shows what the server sent: envelopes, flags, sizes,
//! and the parts of a BODYSTRUCTURE.

use mailwire::imap::{Address, BodyStructure, DateTime, Envelope, FlagFetch, NString, SpecificFields};
use mailwire::mailbox::search::parse_date_header;
use mailwire::mailbox::text::decode_header_value;

/// A header value from an envelope, decoded for reading (and made
/// [`printable`]).
pub fn nstring(value: &NString<'_>) -> String {
    value
        .as_bytes()
        .map(|v| printable(&decode_header_value(v), false))
        .unwrap_or_default()
}

/// Text from the server or a sender made safe to print on a terminal:
/// control characters (C0 but the tab, and the line end where
/// `lines`; DEL; C1) and the characters that reorder text on screen
/// (bidirectional embeddings, overrides and isolates) become U+FFFD. An
/// ESC in a subject, an encoded word or an HTML entity would otherwise
/// reach the terminal: it can retitle it, write the clipboard, hide lines
/// or fake the program's own output.
pub fn printable(text: &str, lines: bool) -> String {
    let unsafe_char = |c: char| {
        (c.is_control() && c != '\t' && !(lines && c == '\n'))
            || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
    };
    if !text.chars().any(unsafe_char) {
        return text.to_owned();
    }
    text.chars()
        .map(|c| if unsafe_char(c) { '\u{FFFD}' } else { c })
        .collect()
}

/// One address as a reader wants it: the name, or else the address.
fn address(a: &Address<'_>) -> String {
    let name = nstring(&a.name);
    if !name.is_empty() {
        return name;
    }
    let mailbox = nstring(&a.mailbox);
    let host = nstring(&a.host);
    if host.is_empty() {
        mailbox
    } else {
        format!("{mailbox}@{host}")
    }
}

/// One address in full: `Name <user@host>`.
fn full_address(a: &Address<'_>) -> String {
    let name = nstring(&a.name);
    let addr = format!("{}@{}", nstring(&a.mailbox), nstring(&a.host));
    if name.is_empty() {
        addr
    } else {
        format!("{name} <{addr}>")
    }
}

/// The senders, names only (groups' markers left out).
pub fn senders(envelope: &Envelope<'_>) -> String {
    list(envelope.from.iter(), address)
}

/// A list of addresses in full.
pub fn addresses<'a>(list_of: impl Iterator<Item = &'a Address<'a>>) -> String {
    list(list_of, full_address)
}

fn list<'a>(addresses: impl Iterator<Item = &'a Address<'a>>, show: fn(&Address<'_>) -> String) -> String {
    addresses
        .filter(|a| !a.is_group_start() && !a.is_group_end())
        .map(show)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The message's date, `YYYY-MM-DD HH:MM` in the sender's zone, from the
/// Date header, else the date the server received it.
pub fn date(envelope: Option<&Envelope<'_>>, internal: Option<&DateTime>) -> String {
    let header = envelope
        .and_then(|e| e.date.as_bytes())
        .and_then(parse_date_header);
    match (header, internal) {
        (Some(d), _) => format!(
            "{:04}-{:02}-{:02} {:02}:{:02}",
            d.date.year(),
            d.date.month(),
            d.date.day(),
            d.hour,
            d.minute
        ),
        (None, Some(d)) => format!(
            "{:04}-{:02}-{:02} {:02}:{:02}",
            d.date().year(),
            d.date().month(),
            d.date().day(),
            d.hour(),
            d.minute()
        ),
        (None, None) => "-".into(),
    }
}

/// Flags as IMAP writes them, space-separated.
pub fn flags(flags: &[FlagFetch<'_>]) -> String {
    flags
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

/// A size for people: 512 B, 12.3 KiB, 4.0 MiB.
pub fn size(octets: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if octets < 1024 {
        return format!("{octets} B");
    }
    let mut value = octets as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// A leaf of a message's MIME tree.
#[derive(Debug, Clone)]
pub struct Leaf {
    /// Its part number (`1`, `2.1`...), as BODY[...] and BINARY[...] take it.
    pub part: String,
    /// `type/subtype`, lower case.
    pub media: String,
    /// Its `charset` parameter.
    pub charset: Option<Vec<u8>>,
    /// Its Content-Transfer-Encoding.
    pub encoding: Vec<u8>,
    /// The file name (Content-Disposition's `filename`, else
    /// Content-Type's `name`).
    pub file_name: Option<String>,
    /// Content-Disposition says `attachment`.
    pub attachment: bool,
    /// Its size on the wire (encoded).
    pub octets: u32,
}

impl Leaf {
    /// Whether a reader shows it as the message's text.
    pub fn is_text(&self, subtype: &str) -> bool {
        !self.attachment && self.media == format!("text/{subtype}")
    }
}

/// The leaves of a BODYSTRUCTURE, in order, with their part numbers. An
/// attached message (message/rfc822) is one leaf: its insides are its own.
pub fn leaves(body: &BodyStructure<'_>) -> Vec<Leaf> {
    let mut out = Vec::new();
    match body {
        // The body of a message that is not multipart is part 1.
        BodyStructure::Single { .. } => walk(body, "1", &mut out),
        BodyStructure::Multipart { parts, .. } => {
            for (i, p) in parts.iter().enumerate() {
                walk(p, &(i + 1).to_string(), &mut out);
            }
        }
    }
    out
}

fn walk(body: &BodyStructure<'_>, number: &str, out: &mut Vec<Leaf>) {
    match body {
        BodyStructure::Multipart { parts, .. } => {
            for (i, p) in parts.iter().enumerate() {
                walk(p, &format!("{number}.{}", i + 1), out);
            }
        }
        BodyStructure::Single {
            media_type,
            media_subtype,
            fields,
            specific,
            extension,
        } => {
            let text = |b: &[u8]| String::from_utf8_lossy(b).to_ascii_lowercase();
            let disposition = extension
                .as_ref()
                .and_then(|e| e.tail.as_ref())
                .and_then(|t| t.disposition.as_ref());
            let file_name = disposition
                .and_then(|d| d.param("filename"))
                .or_else(|| fields.param("name"))
                .map(decode_header_value)
                .filter(|n| !n.is_empty());
            let mut media = format!(
                "{}/{}",
                text(media_type.as_bytes()),
                text(media_subtype.as_bytes())
            );
            if let SpecificFields::Message { envelope, .. } = specific {
                let subject = nstring(&envelope.subject);
                if !subject.is_empty() {
                    media.push_str(&format!(" \"{subject}\""));
                }
            }
            out.push(Leaf {
                part: number.to_owned(),
                media,
                charset: fields.param("charset").map(<[u8]>::to_vec),
                encoding: fields.encoding.as_bytes().to_vec(),
                file_name,
                attachment: disposition
                    .is_some_and(|d| d.kind.as_bytes().eq_ignore_ascii_case(b"attachment")),
                octets: fields.octets,
            });
        }
    }
}

/// The leaf to show as the message's text: the first plain-text part that
/// is not an attachment, else the first HTML one.
pub fn text_leaf(leaves: &[Leaf]) -> Option<&Leaf> {
    leaves
        .iter()
        .find(|l| l.is_text("plain"))
        .or_else(|| leaves.iter().find(|l| l.is_text("html")))
}

/// A file name safe to create in the current directory: the last path
/// component, without control characters, never empty, `.` or `..`.
pub fn safe_file_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let clean: String = base.chars().filter(|c| !c.is_control()).collect();
    let clean = clean.trim();
    if clean.is_empty() || clean == "." || clean == ".." {
        "attachment".into()
    } else {
        clean.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_for_the_terminal_holds_no_controls() {
        assert_eq!(printable("plain\ttext", false), "plain\ttext");
        assert_eq!(printable("\x1b]2;x\x07title", false), "\u{FFFD}]2;x\u{FFFD}title");
        assert_eq!(printable("a\nb\r\n", true), "a\nb\u{FFFD}\n");
        assert_eq!(printable("a\nb", false), "a\u{FFFD}b");
        assert_eq!(printable("\u{9b}31m \u{7f}", false), "\u{FFFD}31m \u{FFFD}");
        assert_eq!(printable("abc\u{202E}fdp.exe", false), "abc\u{FFFD}fdp.exe");
        let subject = NString(Some(mailwire::imap::IString::Quoted(
            mailwire::imap::Quoted::new(b"=?UTF-8?B?G10yOzp4Bw==?= hi".to_vec()).unwrap(),
        )));
        assert!(!nstring(&subject).contains('\x1b'), "{:?}", nstring(&subject));
    }

    #[test]
    fn file_names_stay_here() {
        assert_eq!(safe_file_name("../../etc/passwd"), "passwd");
        assert_eq!(safe_file_name("C:\\x\\report.pdf"), "report.pdf");
        assert_eq!(safe_file_name(".."), "attachment");
        assert_eq!(safe_file_name("a\nb.txt"), "ab.txt");
    }

    #[test]
    fn sizes() {
        assert_eq!(size(10), "10 B");
        assert_eq!(size(1536), "1.5 KiB");
        assert_eq!(size(5 * 1024 * 1024), "5.0 MiB");
    }
}
