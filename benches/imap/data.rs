//! Deterministic test data for `benches/imap.rs`: what a Dovecot server
//! sends for FETCH, LIST and SEARCH, typical client commands, and a large
//! message for the literal benchmarks.

pub use crate::common::Rng;

const FIRST: &[&str] = &[
    "Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Grace", "Heidi", "Ivan", "Judy", "Mallory", "Niaj",
    "Olivia", "Peggy", "Rupert", "Sybil", "Trent", "Victor", "Walter", "Zoe",
];
const LAST: &[&str] = &[
    "Example",
    "Schmidt",
    "O'Brien",
    "Nakamura",
    "Rossi",
    "Dubois",
    "Kowalski",
    "Johnson",
    "Larsen",
    "Fernández",
];
const DOMAINS: &[&str] = &[
    "example.org",
    "example.net",
    "mail.example.com",
    "lists.example.org",
    "corp.example.co.uk",
];
const WORDS: &[&str] = &[
    "quarterly",
    "report",
    "meeting",
    "schedule",
    "budget",
    "review",
    "draft",
    "invoice",
    "release",
    "notes",
    "project",
    "update",
    "travel",
    "plans",
    "minutes",
    "proposal",
    "contract",
    "team",
    "lunch",
    "roadmap",
];
const MONTHS: &[&str] = &[
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const WEEKDAYS: &[&str] = &["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const FLAG_SETS: &[&str] = &[
    "()",
    "(\\Seen)",
    "(\\Seen $Label1)",
    "(\\Seen \\Answered)",
    "(\\Seen \\Flagged $Forwarded NonJunk)",
    "(\\Seen $Label2 NonJunk)",
];

fn push(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(s.as_bytes());
}

fn push_num(out: &mut Vec<u8>, n: usize) {
    push(out, &n.to_string());
}

/// A quoted string the way Dovecot writes it: `"` and `\` escaped.
fn push_quoted(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    for &b in s.as_bytes() {
        if b == b'"' || b == b'\\' {
            out.push(b'\\');
        }
        out.push(b);
    }
    out.push(b'"');
}

/// An nstring: a literal when it holds 8-bit bytes (Dovecot sends raw
/// UTF-8 header values that way), quoted otherwise.
fn push_nstring(out: &mut Vec<u8>, s: &str) {
    if s.is_ascii() {
        push_quoted(out, s);
    } else {
        out.push(b'{');
        push_num(out, s.len());
        push(out, "}\r\n");
        push(out, s);
    }
}

fn push_address(out: &mut Vec<u8>, rng: &mut Rng) {
    let first = rng.pick(FIRST);
    let last = rng.pick(LAST);
    out.push(b'(');
    if rng.below(5) == 0 {
        push(out, "NIL");
    } else if last.is_ascii() {
        push_quoted(out, &format!("{first} {last}"));
    } else {
        // Dovecot passes RFC 2047 encoded words through unchanged.
        push_quoted(out, &format!("{first} =?UTF-8?Q?Fern=C3=A1ndez?="));
    }
    push(out, " NIL ");
    push_quoted(out, &format!("{}.{}", first.to_ascii_lowercase(), rng.below(100)));
    out.push(b' ');
    push_quoted(out, rng.pick(DOMAINS));
    out.push(b')');
}

fn push_address_list(out: &mut Vec<u8>, rng: &mut Rng, count: usize) {
    if count == 0 {
        push(out, "NIL");
        return;
    }
    out.push(b'(');
    for _ in 0..count {
        push_address(out, rng);
    }
    out.push(b')');
}

fn subject(rng: &mut Rng, seq: usize) -> String {
    let mut s = String::new();
    match rng.below(6) {
        0 => s.push_str("Re: "),
        1 => s.push_str("Fwd: "),
        _ => {}
    }
    for i in 0..3 + rng.below(6) {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(rng.pick(WORDS));
    }
    match seq % 40 {
        7 => s.push_str(" \"final\" version"),
        13 => s.push_str(" =?UTF-8?Q?Gr=C3=BC=C3=9Fe?="),
        // Raw UTF-8: sent as a literal.
        29 => s.push_str(" — Grüße aus München"),
        _ => {}
    }
    s
}

fn text_part(out: &mut Vec<u8>, rng: &mut Rng, subtype: &str) {
    push(out, "(\"text\" \"");
    push(out, subtype);
    push(out, "\" (\"charset\" \"utf-8\") NIL NIL \"quoted-printable\" ");
    push_num(out, 400 + rng.below(20_000));
    out.push(b' ');
    push_num(out, 10 + rng.below(400));
    push(out, " NIL NIL NIL NIL)");
}

fn attachment_part(out: &mut Vec<u8>, rng: &mut Rng) {
    let (kind, sub, ext) = match rng.below(3) {
        0 => ("application", "pdf", "pdf"),
        1 => ("image", "jpeg", "jpg"),
        _ => (
            "application",
            "vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "xlsx",
        ),
    };
    let name = format!("{}-{}.{ext}", rng.pick(WORDS), rng.below(1000));
    let size = 10_000 + rng.below(2_000_000);
    push(out, &format!("(\"{kind}\" \"{sub}\" (\"name\" "));
    push_quoted(out, &name);
    push(out, ") NIL NIL \"base64\" ");
    push_num(out, size);
    push(out, " NIL (\"attachment\" (\"filename\" ");
    push_quoted(out, &name);
    push(out, " \"size\" ");
    push_quoted(out, &(size * 3 / 4).to_string());
    push(out, ")) NIL NIL)");
}

fn multipart_tail(out: &mut Vec<u8>, subtype: &str, boundary: &str) {
    push(out, " \"");
    push(out, subtype);
    push(out, "\" (\"boundary\" \"");
    push(out, boundary);
    push(out, "\") NIL NIL NIL)");
}

fn bodystructure(out: &mut Vec<u8>, rng: &mut Rng, seq: usize) {
    match seq % 5 {
        // Plain text only.
        0 => text_part(out, rng, "plain"),
        // multipart/alternative only.
        1 => {
            out.push(b'(');
            text_part(out, rng, "plain");
            text_part(out, rng, "html");
            multipart_tail(out, "alternative", &format!("=_alt_{seq:08x}"));
        }
        // multipart/mixed: alternative text/plain + text/html, then one or
        // two attachments.
        _ => {
            out.push(b'(');
            out.push(b'(');
            text_part(out, rng, "plain");
            text_part(out, rng, "html");
            multipart_tail(out, "alternative", &format!("=_alt_{seq:08x}"));
            for _ in 0..1 + rng.below(2) {
                attachment_part(out, rng);
            }
            multipart_tail(out, "mixed", &format!("=_mix_{seq:08x}"));
        }
    }
}

/// `count` FETCH responses as Dovecot sends them to a client that opens a
/// mailbox: `UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODYSTRUCTURE`.
pub fn fetch_stream(count: usize) -> Vec<u8> {
    let mut rng = Rng(0x5EED_F00D_0000_0001);
    let mut out = Vec::with_capacity(count * 1500);
    for seq in 1..=count {
        let uid = 1000 + seq * 3;
        let day = 1 + rng.below(28);
        let month = rng.pick(MONTHS);
        let (h, m, s) = (rng.below(24), rng.below(60), rng.below(60));
        push(&mut out, "* ");
        push_num(&mut out, seq);
        push(&mut out, " FETCH (UID ");
        push_num(&mut out, uid);
        push(&mut out, " FLAGS ");
        push(&mut out, rng.pick(FLAG_SETS));
        push(
            &mut out,
            &format!(" INTERNALDATE \"{day:02}-{month}-2025 {h:02}:{m:02}:{s:02} +0100\" RFC822.SIZE "),
        );
        push_num(&mut out, 2_000 + rng.below(3_000_000));
        push(&mut out, " ENVELOPE (");
        push_quoted(
            &mut out,
            &format!(
                "{}, {day} {month} 2025 {h:02}:{m:02}:{:02} +0100",
                rng.pick(WEEKDAYS),
                s.saturating_sub(4)
            ),
        );
        out.push(b' ');
        push_nstring(&mut out, &subject(&mut rng, seq));
        // from, sender, reply-to: the same address when there is no Sender
        // or Reply-To header, as Dovecot fills them in.
        let mut from = Vec::new();
        push_address_list(&mut from, &mut rng, 1);
        for _ in 0..3 {
            out.push(b' ');
            out.extend_from_slice(&from);
        }
        out.push(b' ');
        let to = 1 + rng.below(3);
        push_address_list(&mut out, &mut rng, to);
        out.push(b' ');
        let cc = rng.below(3);
        push_address_list(&mut out, &mut rng, cc);
        push(&mut out, " NIL ");
        if rng.below(2) == 0 {
            push(&mut out, "NIL");
        } else {
            push_quoted(&mut out, &format!("<{:016x}@{}>", rng.next(), rng.pick(DOMAINS)));
        }
        out.push(b' ');
        push_quoted(
            &mut out,
            &format!("<{:016x}.{seq}@{}>", rng.next(), rng.pick(DOMAINS)),
        );
        push(&mut out, ") BODYSTRUCTURE ");
        bodystructure(&mut out, &mut rng, seq);
        push(&mut out, ")\r\n");
    }
    out
}

/// `count` LIST responses: nested folders, special-use attributes, names
/// sent as atoms when they can be and quoted otherwise, some in modified
/// UTF-7.
pub fn list_stream(count: usize) -> Vec<u8> {
    const TOP: &[&str] = &["Archive", "Projects", "Lists", "Customers", "Team Folders"];
    const LEAF: &[&str] = &[
        "Sub",
        "Invoices",
        "rust-users",
        "Entw&APw-rfe",
        "Reports 2024",
        "old",
        "Travel",
        "Q3",
    ];
    let mut rng = Rng(0x5EED_0000_1157);
    let mut out = Vec::with_capacity(count * 64);
    let specials = [
        ("INBOX", "(\\HasNoChildren)"),
        ("Sent", "(\\HasNoChildren \\Sent)"),
        ("Drafts", "(\\HasNoChildren \\Drafts)"),
        ("Trash", "(\\HasNoChildren \\Trash)"),
        ("Junk", "(\\HasNoChildren \\Junk)"),
        ("Archive", "(\\HasChildren \\Archive)"),
    ];
    for (name, attrs) in specials.iter().take(count) {
        push(&mut out, &format!("* LIST {attrs} \"/\" {name}\r\n"));
    }
    for i in specials.len()..count {
        let attrs = match rng.below(8) {
            0 => "(\\HasChildren)",
            1 => "(\\Noselect \\HasChildren)",
            2 => "(\\HasNoChildren \\UnMarked)",
            _ => "(\\HasNoChildren)",
        };
        let name = format!(
            "{}/{}/{} {i}",
            rng.pick(TOP),
            2015 + rng.below(10),
            rng.pick(LEAF)
        );
        push(&mut out, "* LIST ");
        push(&mut out, attrs);
        push(&mut out, " \"/\" ");
        push_quoted(&mut out, &name);
        push(&mut out, "\r\n");
    }
    out
}

/// `* SEARCH 1 2 3 ... count`.
pub fn search_response(count: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(count * 7 + 16);
    push(&mut out, "* SEARCH");
    for n in 1..=count {
        out.push(b' ');
        push_num(&mut out, n);
    }
    push(&mut out, "\r\n");
    out
}

/// Typical commands: a client syncing a mailbox, a nested search, and an
/// APPEND of a sent message (a synchronizing literal, data included).
pub fn commands() -> Vec<(&'static str, Vec<u8>)> {
    let fetch = b"A001 UID FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE \
BODY.PEEK[HEADER.FIELDS (DATE FROM SUBJECT TO CC MESSAGE-ID)] BODYSTRUCTURE)\r\n"
        .to_vec();
    let search = b"A002 UID SEARCH OR (FROM \"alice@example.org\" SINCE 1-Jan-2024) \
NOT (SEEN OR DELETED FLAGGED) UID 1:4000,4100:* LARGER 10000 SUBJECT \"quarterly report\"\r\n"
        .to_vec();
    let message = message(4 * 1024, 0x00A9_9E0D);
    let mut append = Vec::new();
    push(
        &mut append,
        "A003 APPEND Sent (\\Seen) \"14-Jan-2025 09:12:44 +0100\" {",
    );
    push_num(&mut append, message.len());
    push(&mut append, "}\r\n");
    append.extend_from_slice(&message);
    push(&mut append, "\r\n");
    vec![
        ("uid_fetch", fetch),
        ("uid_search", search),
        ("append_4k", append),
    ]
}

/// A MIME message of exactly `size` bytes (CRLF lines, no NUL): headers,
/// then text and base64 attachment lines.
pub fn message(size: usize, seed: u64) -> Vec<u8> {
    const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut rng = Rng(seed);
    let mut m = Vec::with_capacity(size + 128);
    push(
        &mut m,
        "From: Alice Example <alice@example.org>\r\n\
To: Bob Example <bob@example.net>\r\n\
Subject: Quarterly report\r\n\
Date: Tue, 14 Jan 2025 09:12:40 +0100\r\n\
Message-ID: <20250114081240.4F2A51C0042@mx1.example.org>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"=_b\"\r\n\r\n\
--=_b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n",
    );
    let mut line = 0;
    while m.len() < size {
        line += 1;
        if line % 400 < 80 {
            let start = m.len();
            while m.len() - start < 72 {
                if m.len() > start {
                    m.push(b' ');
                }
                push(&mut m, rng.pick(WORDS));
            }
        } else {
            if line % 400 == 80 {
                push(
                    &mut m,
                    "--=_b\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n",
                );
            }
            for _ in 0..76 {
                m.push(BASE64[rng.below(64)]);
            }
        }
        push(&mut m, "\r\n");
    }
    m.truncate(size);
    m
}

/// `* 1 FETCH (UID 1 BODY[] {n}\r\n<message>)\r\n`.
pub fn literal_response(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 64);
    push(&mut out, "* 1 FETCH (UID 1 BODY[] {");
    push_num(&mut out, message.len());
    push(&mut out, "}\r\n");
    out.extend_from_slice(message);
    push(&mut out, ")\r\n");
    out
}
