//! APPEND: whole (CATENATE, or UTF8 before ENABLE UTF8=ACCEPT), or
//! streamed to disk as it arrives ([`append_uploads`]); APPENDUID for
//! both.

use std::io::Read;
use std::num::NonZeroU32;

use mailwire::imap::{AppendData, CatPart, Code, ImapUrl, UidSet, UrlForm};
use mailwire::mailbox::analysis::{StoredMessage, analyze, extract_section, to_crlf};
use mailwire::mailbox::{Flags, MailboxName, StoreError, Uid};

use super::exec::{Info, Outcome, Work, condition, mailbox_name, store_failure};

/// APPEND as one command (the forms the session does not stream).
pub(super) fn append_whole(
    work: &mut Work,
    append: &mailwire::imap::Append<'static>,
    info: &Info,
) -> Outcome {
    let name = match mailbox_name(&append.mailbox, info.utf8) {
        Ok(n) => n,
        Err(o) => return o,
    };
    let mut messages = Vec::new();
    // What the messages of one APPEND hold in all, once built, is held to
    // what one command may carry: CATENATE URLs copy messages already
    // stored, and a short command naming a large one many times would
    // otherwise build it again and again in memory before the quota is
    // checked.
    let mut room = work.append_limit.saturating_add(COMMAND_SLACK);
    for m in &append.messages {
        let message = match &m.data {
            AppendData::Catenate(parts) => {
                let content = match catenate(work, parts, room) {
                    Ok(c) => c,
                    Err(o) => return o,
                };
                let flags = match m.flags.as_deref().map(Flags::try_from).transpose() {
                    Ok(f) => f.unwrap_or_default(),
                    Err(e) => return Outcome::bad_owned(format!("Invalid flag: {e}")),
                };
                mailwire::mailbox::AppendMessage {
                    content: content.into(),
                    flags,
                    internal_date: m.date.map(mailwire::mailbox::InternalDate::from),
                }
            }
            _ => match mailwire::mailbox::AppendMessage::try_from(m.clone()) {
                Ok(m) => m,
                Err(e) => return Outcome::bad_owned(format!("Invalid message: {e}")),
            },
        };
        room = match room.checked_sub(message.content.len() as u64) {
            Some(left) => left,
            None => return too_big_in_all(),
        };
        messages.push(message);
    }
    append_messages(work, &name, messages)
}

/// What a command may carry besides its APPENDLIMIT's worth of message
/// (the server's decoder allows as much).
const COMMAND_SLACK: u64 = 64 * 1024;

fn too_big_in_all() -> Outcome {
    Outcome::no("The messages would be too big in all").with_code(condition("TOOBIG"))
}

/// Assembles a CATENATE message (RFC 4469): its text parts as sent, its
/// URL parts read from this user's mailboxes; at most APPENDLIMIT octets,
/// and at most `room`, what is left of the command's allowance.
fn catenate(work: &Work, parts: &[CatPart<'static>], room: u64) -> Result<Vec<u8>, Outcome> {
    let mut out = Vec::new();
    for part in parts {
        match part {
            CatPart::Text(literal) => out.extend_from_slice(literal.data()),
            CatPart::Url(url) => out.extend_from_slice(&url_content(work, url)?),
            _ => return Err(Outcome::bad("Unknown CATENATE part")),
        }
        if out.len() as u64 > work.append_limit {
            return Err(Outcome::no("The message would be too big").with_code(condition("TOOBIG")));
        }
        if out.len() as u64 > room {
            return Err(too_big_in_all());
        }
    }
    Ok(out)
}

/// What a CATENATE URL names: a message of one of the user's mailboxes, or
/// a section of it, or part of that. Only URLs without a server (absolute
/// or relative paths) are taken, and none with URLAUTH.
fn url_content(work: &Work, url: &ImapUrl<'static>) -> Result<Vec<u8>, Outcome> {
    let bad = || Outcome::no("Invalid URL").with_code(Code::BadUrl(url.as_str().to_owned().into()));
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
    let too_big = || Outcome::no("The message would be too big").with_code(condition("TOOBIG"));
    let (skip, take) = match url.partial() {
        Some(p) => (u64::from(p.offset), p.length.map(|l| u64::from(l.get()))),
        None => (0, None),
    };
    // The part named is read a piece at a time, from the message's file
    // when it has a section, and no more of it than APPENDLIMIT is kept.
    let reader: Box<dyn Read> = match url.section() {
        None => work.account.open_message(&name, uid).map_err(|_| bad())?,
        Some(spec) => {
            let section = mailwire::imap::Section::from_spec(&spec).map_err(|_| bad())?;
            let stored = work
                .account
                .message_file(&name, uid)
                .ok()
                .flatten()
                .and_then(|(file, len)| StoredMessage::open(file, len).ok());
            match stored {
                Some(msg) => match msg.section(&section, None) {
                    Ok(Some(content)) => Box::new(content),
                    Ok(None) => return Err(bad()),
                    Err(_) => return Err(bad()),
                },
                // No file to read in pages: the message whole.
                None => {
                    let content = work.account.read_message(&name, uid).map_err(|_| bad())?;
                    let msg = analyze(&content);
                    let data = extract_section(&msg, &section, None).ok_or_else(bad)?;
                    Box::new(std::io::Cursor::new(to_crlf(&data).into_owned()))
                }
            }
        }
    };
    let mut data = Vec::new();
    let keep = take.unwrap_or(u64::MAX).min(work.append_limit.saturating_add(1));
    let mut reader = reader.take(skip.saturating_add(keep));
    std::io::copy(&mut (&mut reader).take(skip), &mut std::io::sink()).map_err(|_| bad())?;
    reader.read_to_end(&mut data).map_err(|_| bad())?;
    if data.len() as u64 > work.append_limit {
        return Err(too_big());
    }
    Ok(data)
}

/// Stores the messages of an APPEND, all or none, with APPENDUID.
pub fn append_messages(
    work: &mut Work,
    name: &MailboxName,
    messages: Vec<mailwire::mailbox::AppendMessage>,
) -> Outcome {
    let octets = messages.iter().map(|m| m.content.len() as u64).sum();
    if let Err(o) = work.check_quota(octets, messages.len() as u64) {
        return o;
    }
    appended(work.account.append_all(name, messages))
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
