//! APPEND: streamed to disk as it arrives ([`append_uploads`]), CATENATE
//! URLs copied into it a piece at a time ([`copy_url`]); or whole, the
//! forms the session does not stream (an APPEND of URLs alone, which has
//! no literal), built on disk the same way. APPENDUID for both.

use std::io::Read;
use std::num::NonZeroU32;

use mailwire::imap::server::LiteralRefusal;
use mailwire::imap::{AppendData, CatPart, Code, ImapUrl, UidSet, UrlForm};
use mailwire::mailbox::analysis::{StoredMessage, analyze, extract_section, to_crlf};
use mailwire::mailbox::{Flags, InternalDate, MailboxName, StoreError, Uid, Upload};

use super::exec::{Info, Outcome, Work, condition, mailbox_name, store_failure};

/// APPEND as one command (the forms the session does not stream). Each
/// message is written to a staging file as it is built, as a streamed
/// APPEND is: a CATENATE URL is copied from the stored message a piece at
/// a time, never whole in memory.
pub(super) fn append_whole(
    work: &mut Work,
    append: &mailwire::imap::Append<'static>,
    info: &Info,
) -> Outcome {
    let name = match mailbox_name(&append.mailbox, info.utf8) {
        Ok(n) => n,
        Err(o) => return o,
    };
    let mut uploads = Vec::new();
    let mut allowance = Allowance::new(work.append_limit);
    for m in &append.messages {
        let flags = match m.flags.as_deref().map(Flags::try_from).transpose() {
            Ok(f) => f.unwrap_or_default(),
            Err(e) => return Outcome::bad_owned(format!("Invalid flag: {e}")),
        };
        let mut upload = match work
            .account
            .start_upload(&name, flags, m.date.map(InternalDate::from))
        {
            Ok(u) => u,
            Err(StoreError::NoSuchMailbox(_)) => {
                return Outcome::no("No such mailbox").with_code(Code::TryCreate);
            }
            Err(e) => return store_failure(&e),
        };
        allowance.next_message();
        let built = match &m.data {
            AppendData::Catenate(parts) => parts.iter().try_for_each(|part| match part {
                CatPart::Text(literal) | CatPart::Utf8(literal) => {
                    allowance.take(literal.data().len() as u64)?;
                    upload.write(literal.data()).map_err(PartError::Store)
                }
                CatPart::Url(url) => copy_url(work, url, &mut upload, &mut allowance),
                _ => Err(PartError::Unknown),
            }),
            data => match data.literal() {
                Some(literal) => upload.write(literal.data()).map_err(PartError::Store),
                None => Err(PartError::Unknown),
            },
        };
        if let Err(e) = built {
            return e.outcome();
        }
        uploads.push(upload);
    }
    append_uploads(work, &name, uploads)
}

/// What a command may carry besides its APPENDLIMIT's worth of message
/// (the server's decoder allows as much).
const COMMAND_SLACK: u64 = 64 * 1024;

/// What CATENATE may still build: each message at most APPENDLIMIT
/// octets (as sent, before line ends are made CRLF), and all the messages
/// of one command at most one command's worth, with what is read to reach
/// a partial range: URLs copy messages already stored, and a short command
/// naming a large one many times would otherwise build (or read) it again
/// and again before the quota is checked.
#[derive(Debug, Clone, Copy)]
pub struct Allowance {
    size: u64,
    limit: u64,
    room: u64,
}

impl Allowance {
    pub fn new(limit: u64) -> Allowance {
        Allowance {
            size: 0,
            limit,
            room: limit.saturating_add(COMMAND_SLACK),
        }
    }

    /// A new message starts.
    pub fn next_message(&mut self) {
        self.size = 0;
    }

    /// Counts `n` octets read and not kept (before a partial range).
    pub fn read(&mut self, n: u64) -> Result<(), PartError> {
        if n > self.room {
            return Err(PartError::TooBig("The messages would be too big in all"));
        }
        self.room -= n;
        Ok(())
    }

    /// Counts `n` more octets of the message.
    pub fn take(&mut self, n: u64) -> Result<(), PartError> {
        if self.size.saturating_add(n) > self.limit {
            return Err(PartError::TooBig("The message would be too big"));
        }
        self.read(n)?;
        self.size += n;
        Ok(())
    }
}

/// Why a part of a message could not be added.
#[derive(Debug)]
pub enum PartError {
    TooBig(&'static str),
    /// The URL names nothing this user can read.
    BadUrl(String),
    Store(StoreError),
    Unknown,
}

impl PartError {
    /// The answer to a whole APPEND.
    fn outcome(self) -> Outcome {
        match self {
            PartError::TooBig(text) => Outcome::no(text).with_code(condition("TOOBIG")),
            PartError::BadUrl(url) => Outcome::no("Invalid URL").with_code(Code::BadUrl(url.into())),
            PartError::Store(e) => store_failure(&e),
            PartError::Unknown => Outcome::bad("Unknown APPEND data"),
        }
    }

    /// The session's refusal of a streamed part.
    pub fn refusal(self) -> LiteralRefusal {
        match self {
            PartError::TooBig(text) => LiteralRefusal::TooBig(text.into()),
            PartError::BadUrl(_) => LiteralRefusal::BadUrl("Invalid URL".into()),
            PartError::Store(StoreError::Limit(why)) => LiteralRefusal::TooBig(why.into()),
            PartError::Store(StoreError::Temporary(_)) => {
                LiteralRefusal::Unavailable("Try again later".into())
            }
            PartError::Store(_) => LiteralRefusal::Bad("The message cannot be stored".into()),
            PartError::Unknown => LiteralRefusal::Bad("Unknown APPEND data".into()),
        }
    }
}

/// Appends to `upload` what a CATENATE URL names, a piece at a time,
/// within `allowance`.
pub fn copy_url(
    work: &Work,
    url: &ImapUrl<'static>,
    upload: &mut Upload,
    allowance: &mut Allowance,
) -> Result<(), PartError> {
    let (mut reader, mut skip) = url_content(work, url)?;
    let mut buf = vec![0; 64 * 1024];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => {
                // What a partial range starts after is read for nothing:
                // it counts against the command's allowance too.
                let skipped = skip.min(n as u64);
                skip -= skipped;
                allowance.read(skipped)?;
                let data = &buf[skipped as usize..n];
                allowance.take(data.len() as u64)?;
                upload.write(data).map_err(PartError::Store)?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            // The URL was valid and its message opened: the store failed.
            Err(e) => {
                return Err(PartError::Store(StoreError::Temporary(format!(
                    "read {url:?}: {e}"
                ))));
            }
        }
    }
}

/// The largest message a CATENATE URL may take a section of when its file
/// cannot be read in pages (it is then read whole).
const WHOLE_SECTION_MAX: u64 = 1 << 20;

/// What a CATENATE URL names: a message of one of the user's mailboxes, or
/// a section of it, or part of that, as a reader of the part and the
/// octets to skip before the part's range. Only URLs without a server
/// (absolute or relative paths) are taken, and none with URLAUTH.
fn url_content(work: &Work, url: &ImapUrl<'static>) -> Result<(impl Read + use<>, u64), PartError> {
    let bad = || PartError::BadUrl(url.as_str().to_owned());
    if matches!(url.form(), UrlForm::Absolute | UrlForm::NetworkPath) || url.access().is_some() {
        return Err(bad());
    }
    let name = match url.mailbox() {
        Some(m) => {
            let text = std::str::from_utf8(&m).map_err(|_| bad())?;
            MailboxName::new(text).map_err(|_| bad())?
        }
        None => match &work.selected {
            Some(s) => s.mailbox().name.clone(),
            None => return Err(bad()),
        },
    };
    let uid = Uid::from(url.uid().ok_or_else(bad)?);
    if let Some(validity) = url.uid_validity() {
        let entry = work.account.mailbox(&name).map_err(|_| bad())?;
        if NonZeroU32::from(entry.uid_validity) != validity {
            return Err(bad());
        }
    }
    let (skip, take) = match url.partial() {
        Some(p) => (u64::from(p.offset), p.length.map(|l| u64::from(l.get()))),
        None => (0, None),
    };
    // The part named is read a piece at a time, from the message's file
    // when it has a section; what is past its partial range is not read.
    let reader: Box<dyn Read> = match url.section() {
        None => work.account.open_message(&name, uid).map_err(|_| bad())?,
        Some(spec) => {
            let section = mailwire::imap::Section::from_spec(&spec).map_err(|_| bad())?;
            let file = work.account.message_file(&name, uid).ok().flatten();
            let opened = file.map(|(file, len)| (len, StoredMessage::open(file, len)));
            match opened {
                Some((_, Ok(msg))) => match msg.section(&section, None) {
                    Ok(Some(content)) => Box::new(content),
                    Ok(None) => return Err(bad()),
                    Err(_) => return Err(bad()),
                },
                // A file that cannot be read in pages (a header block above
                // 1 MiB): a section of it would take the message whole in
                // memory, outside any budget, for as long as the command
                // runs (16 sessions held 337 MB).
                Some((len, Err(e)))
                    if e.kind() == std::io::ErrorKind::InvalidData && len > WHOLE_SECTION_MAX =>
                {
                    return Err(PartError::Store(StoreError::Limit(
                        "a section of a message whose header block is above 1 MiB",
                    )));
                }
                // No file, a small one, or one that could not be read: the
                // message whole.
                _ => {
                    let content = work.account.read_message(&name, uid).map_err(|_| bad())?;
                    let msg = analyze(&content);
                    let data = extract_section(&msg, &section, None).ok_or_else(bad)?;
                    Box::new(std::io::Cursor::new(to_crlf(&data).into_owned()))
                }
            }
        }
    };
    Ok((reader.take(skip.saturating_add(take.unwrap_or(u64::MAX))), skip))
}

/// APPEND of messages received into uploads (streamed to disk).
pub fn append_uploads(
    work: &mut Work,
    name: &MailboxName,
    uploads: Vec<mailwire::mailbox::Upload>,
) -> Outcome {
    let octets = uploads.iter().map(|u| u.size()).sum();
    if let Err(o) = work.check_quota(octets, uploads.len() as u64) {
        return o;
    }
    appended(work.account.append_uploads(name, uploads))
}

/// The answer to an APPEND, with APPENDUID.
fn appended(result: Result<mailwire::mailbox::AppendUid, StoreError>) -> Outcome {
    match result {
        Ok(appended) => {
            let outcome = Outcome::ok(Vec::new(), "APPEND completed");
            match UidSet::from_unordered(appended.uids.iter().map(|u| u.get())) {
                Ok(uids) if !appended.uids.is_empty() => outcome.with_code(Code::AppendUid {
                    uid_validity: appended.uid_validity.into(),
                    uids,
                }),
                _ => outcome,
            }
        }
        Err(StoreError::NoSuchMailbox(_)) => Outcome::no("No such mailbox").with_code(Code::TryCreate),
        Err(e) => store_failure(&e),
    }
}
