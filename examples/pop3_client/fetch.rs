//! The download: decide what to fetch, fetch it into the Maildir, delete
//! what is safely stored.
//!
//! The order of effects is what makes a crash at any point harmless:
//!
//! 1. a message is written to `tmp/`, flushed, linked into `new/`, and
//!    `new/` is flushed;
//! 2. only then is its UIDL recorded (in memory, saved every few seconds
//!    and at the end) and, in delete mode, DELE sent;
//! 3. deletions take effect only when the server answers QUIT.
//!
//! A run killed after step 1 leaves a file whose name is derived from the
//! UIDL and the size; the next run downloads that message again and
//! compares it with the file, so it is neither stored twice nor lost. One
//! killed before QUIT leaves every message on the server, and the next run
//! deletes those it finds stored.
//!
//! A message counts as stored when its UIDL is recorded with the size
//! LIST gives now, or with no size (a state file of an earlier version:
//! trusted once in keep mode, and the size recorded; in delete mode the
//! message is downloaded again and compared with the file first). A
//! message downloaded while LIST gave no size is recorded with the size
//! received. A recorded UIDL whose size differs is a UIDL the server gave
//! to another message: that message is downloaded, under another name,
//! never skipped or deleted unseen. A file of a message's name alone
//! proves nothing, since a server may give a deleted message's UIDL to a
//! new message of the same size: the message is downloaded and compared
//! with it. When LIST gives no size, a recorded UIDL is not downloaded
//! again, but neither is it deleted. A UIDL the server lists for several
//! messages vouches for none: each of them is downloaded and compared
//! with what is stored, on every run, and the UIDL is never recorded.
//!
//! A message must arrive with the size LIST gave (give or take the line
//! break a server adds after a last line without one). One that grows
//! past it is refused, and nothing more of it is written to disk; one
//! that goes on far past it ends the session without QUIT, so nothing
//! is deleted: a server that never stops fills neither the disk nor the
//! run's time.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use indicatif::ProgressBar;
use mailwire::pop3::{ClientEvent, Command, CommandId, MessageNumber, Response};

use crate::connection::{Connection, describe};
use crate::maildir::{Compared, Incoming, LineEnds, Maildir, message_name};
use crate::options::Options;
use crate::state::UidlState;
use crate::{Failure, Summary};

/// Save the state file at least this often while downloading.
const SAVE_INTERVAL: Duration = Duration::from_secs(2);

/// How far past its LIST size a message may go before the session is
/// given up (or twice the size, if more): it is refused past the size
/// anyway, but its end is awaited so that the session goes on.
const GIVE_UP_PAST: u64 = 16 << 20;

/// RETR commands in flight at once when the server pipelines.
const WINDOW: usize = 16;

/// A message to download.
struct Wanted {
    number: MessageNumber,
    uidl: String,
    /// The LIST size, if LIST gave one.
    size: Option<u64>,
    name: String,
    /// A file of that name the Maildir holds, from a run that did not
    /// record the UIDL: the message is compared with it once downloaded.
    stored: Option<PathBuf>,
    /// Whether its UIDL is recorded once it is stored: not when the
    /// server lists the UIDL for more than one message.
    record: bool,
}

/// Before `more` octets of `w` are written: a message that grows past
/// its LIST size (and the line break a server may add) will be
/// refused, so nothing more of it is written to disk; one that goes
/// on far past it (a server that sends without end) ends the session
/// without QUIT, so nothing is deleted. Not with `--lax-size`, which
/// takes sizes for estimates.
fn check_growth(lax_size: bool, w: &Wanted, incoming: &mut Incoming, more: usize) -> Result<(), Failure> {
    let Some(size) = w.size.filter(|_| !lax_size) else {
        return Ok(());
    };
    let after = incoming.received().saturating_add(more as u64);
    if after > size.saturating_add(2) && incoming.storing() {
        incoming
            .stop_storing()
            .map_err(|e| local("writing into the Maildir's tmp/", e))?;
    }
    if after > size.saturating_add(size.max(GIVE_UP_PAST)) {
        return Err(Failure::Network(format!(
            "message {} (UIDL {}): the server sent more than {after} octets where LIST said \
             {size}; the session is given up and nothing is deleted (--lax-size accepts \
             sizes that are estimates)",
            w.number.get(),
            w.uidl
        )));
    }
    Ok(())
}

fn local(what: &str, e: std::io::Error) -> Failure {
    Failure::Local(format!("{what}: {e}"))
}

/// What an earlier run did with a message the server lists.
enum Known {
    /// Downloaded: its UIDL is recorded with the size LIST gives now.
    Stored,
    /// Its UIDL is recorded, but LIST gives no size to check it with.
    Unchecked,
    /// Its UIDL is recorded without a size (a version 1 state file): in
    /// delete mode it is downloaded again and compared with the file.
    Compare,
    /// Not downloaded, or not under this UIDL and size.
    No,
}

/// The maildrop as UIDL and LIST show it: the UIDL of each message in
/// order, and the size of each message by number.
struct Listing {
    uidls: Vec<(MessageNumber, String)>,
    sizes: HashMap<u32, u64>,
}

fn listing(conn: &mut Connection) -> Result<Listing, Failure> {
    let uidls = match conn.call(Command::Uidl(None))? {
        Response::UniqueIdListings { listings, .. } => listings
            .into_iter()
            .map(|l| (l.message, l.unique_id.as_str().to_owned()))
            .collect::<Vec<_>>(),
        Response::Status(s) => {
            return Err(Failure::Network(format!(
                "the server cannot list unique ids (UIDL: {}); without them a message could be \
                 fetched twice, so this client needs UIDL",
                describe(&s)
            )));
        }
        other => return Err(Failure::Network(format!("unexpected answer to UIDL: {other:?}"))),
    };
    // A message number listed twice leaves another message's UIDL or
    // size unknown, or taken for this one's: the listing is refused.
    let mut numbers = HashSet::new();
    if let Some((n, _)) = uidls.iter().find(|(n, _)| !numbers.insert(n.get())) {
        return Err(Failure::Network(format!(
            "the server's UIDL listing names message {} twice",
            n.get()
        )));
    }
    let sizes = match conn.call(Command::List(None))? {
        Response::ScanListings { listings, .. } => {
            let mut sizes = HashMap::with_capacity(listings.len());
            for l in listings {
                if sizes.insert(l.message.get(), l.size).is_some() {
                    return Err(Failure::Network(format!(
                        "the server's LIST listing names message {} twice",
                        l.message.get()
                    )));
                }
            }
            sizes
        }
        Response::Status(s) => {
            tracing::warn!("LIST failed ({}); sizes cannot be checked", describe(&s));
            HashMap::new()
        }
        other => return Err(Failure::Network(format!("unexpected answer to LIST: {other:?}"))),
    };
    Ok(Listing { uidls, sizes })
}

/// The whole job on a logged-in connection, ending with QUIT.
pub fn run(
    mut conn: Connection,
    options: &Options,
    maildir: &Maildir,
    state: &mut UidlState,
    progress: &ProgressBar,
) -> Result<Summary, Failure> {
    let Listing { uidls, sizes } = listing(&mut conn)?;
    let existing = maildir
        .existing_messages()
        .map_err(|e| local("reading the Maildir", e))?;
    let user = options.user.as_bytes();

    let mut summary = Summary::default();
    let mut wanted = Vec::new();
    let mut stored_earlier = Vec::new();
    let mut unchecked = 0;
    // How many messages the server lists under each UIDL.
    let mut listed: HashMap<&str, usize> = HashMap::new();
    for (_, uidl) in &uidls {
        *listed.entry(uidl.as_str()).or_default() += 1;
    }
    let mut warned = HashSet::new();
    for (number, uidl) in uidls.iter() {
        let size = sizes.get(&number.get()).copied();
        let name = message_name(&options.host, user, uidl, size);
        let on_disk = existing.get(&name);
        let copies = listed.get(uidl.as_str()).copied().unwrap_or(1);
        if copies > 1 {
            // RFC 1939 section 7 wants a UIDL unique in the maildrop. One
            // given to several messages says nothing of which was
            // downloaded: each is downloaded and compared with what is
            // stored under its name (a message not stored yet is stored
            // under a name of its own), and the UIDL is not recorded, so
            // that no later run trusts it either.
            if warned.insert(uidl.as_str()) {
                tracing::warn!(
                    uidl,
                    messages = copies,
                    "the server lists this UIDL for several messages: each is downloaded and \
                     compared with what is stored, and none is deleted on the strength of the UIDL"
                );
            }
            state.remove(uidl);
            wanted.push(Wanted {
                number: *number,
                uidl: uidl.clone(),
                size,
                stored: Some(on_disk.cloned().unwrap_or_else(|| maildir.new_path(&name))),
                name,
                record: false,
            });
            continue;
        }
        let recorded = state.size(uidl);
        let known = match (recorded, size) {
            (Some(Some(recorded)), Some(listed)) if recorded != listed => {
                // The server gave this UIDL to another message: trusting
                // the UIDL alone would skip it, or delete it unseen.
                if on_disk.is_none() {
                    tracing::warn!(
                        message = number.get(),
                        uidl,
                        recorded,
                        listed,
                        "a message of another size was downloaded under this UIDL; the server \
                         reused it, so this one is downloaded too"
                    );
                }
                Known::No
            }
            // A record without a size (a version 1 state file) cannot
            // tell a reused UIDL: before the message may be deleted, it
            // is downloaded and compared with the file of its old name.
            (Some(None), Some(_)) if options.delete => Known::Compare,
            // Nor can one in the file of an earlier version, kept without
            // the port: it may have been another server's.
            (Some(_), Some(_)) if options.delete && state.adopted() => Known::Compare,
            // Downloaded by an earlier run; a size not recorded yet (a
            // version 1 state file) is recorded now.
            (Some(_), Some(_)) => Known::Stored,
            // Without a size a reused UIDL cannot be seen: not downloaded
            // again, and not deleted.
            (Some(_), None) => Known::Unchecked,
            (None, _) => Known::No,
        };
        match known {
            Known::Stored => {
                state.insert(uidl, size.or(recorded.flatten()));
                summary.already += 1;
                stored_earlier.push((*number, uidl.clone()));
            }
            Known::Unchecked => {
                summary.already += 1;
                unchecked += 1;
            }
            Known::No => wanted.push(Wanted {
                number: *number,
                uidl: uidl.clone(),
                size,
                stored: on_disk.cloned(),
                name,
                record: true,
            }),
            Known::Compare => wanted.push(Wanted {
                number: *number,
                uidl: uidl.clone(),
                size,
                stored: existing
                    .get(&message_name(&options.host, user, uidl, None))
                    .or(on_disk)
                    .cloned(),
                name,
                record: true,
            }),
        }
    }
    if unchecked > 0 && options.delete {
        tracing::warn!(
            "{unchecked} stored messages stay on the server: LIST gave no size to tell them from \
             new messages under an old UIDL, so deleting them could delete unseen mail"
        );
    }
    // UIDLs no longer on the server will never be listed again.
    state.retain(|u| listed.contains_key(u));
    state.save().map_err(|e| local("saving the UIDL state", e))?;

    // The server's sizes, saturated: a hostile LIST may give any u64.
    let total = wanted
        .iter()
        .filter_map(|w| w.size)
        .fold(0u64, u64::saturating_add);
    tracing::info!(
        on_server = uidls.len(),
        new = wanted.len(),
        bytes = total,
        pipelining = conn.session().pipelining(),
        "maildrop listed"
    );
    progress.set_length(total);
    progress.set_message(format!("0/{} messages", wanted.len()));

    let mut job = Job {
        conn: &mut conn,
        options,
        maildir,
        state,
        progress,
        summary: &mut summary,
        retr: HashMap::new(),
        dele: HashMap::new(),
        current: None,
        last_save: Instant::now(),
        wanted_count: wanted.len(),
    };
    if options.delete {
        for (number, uidl) in stored_earlier {
            job.delete(number, uidl);
        }
    }
    let result = job.download(&wanted);
    // Whatever happened, what was stored is recorded.
    let saved = state.save().map_err(|e| local("saving the UIDL state", e));
    result?;
    saved?;

    match conn.call(Command::Quit)? {
        Response::Status(s) if s.is_ok() => {
            if options.delete {
                // Committed: those UIDLs are gone from the server.
                for uidl in &summary.deleted_uidls {
                    state.remove(uidl);
                }
                state.save().map_err(|e| local("saving the UIDL state", e))?;
            }
        }
        Response::Status(s) => {
            summary.failed += 1;
            tracing::error!(
                "QUIT failed ({}): the server may keep messages it was asked to delete",
                describe(&s)
            );
        }
        other => return Err(Failure::Network(format!("unexpected answer to QUIT: {other:?}"))),
    }
    conn.close();
    Ok(summary)
}

/// The download loop's state.
struct Job<'a> {
    conn: &'a mut Connection,
    options: &'a Options,
    maildir: &'a Maildir,
    state: &'a mut UidlState,
    progress: &'a ProgressBar,
    summary: &'a mut Summary,
    /// RETR in flight: index into the wanted list.
    retr: HashMap<CommandId, usize>,
    /// DELE in flight: the message's UIDL.
    dele: HashMap<CommandId, String>,
    /// The message being received.
    current: Option<(CommandId, Incoming)>,
    last_save: Instant,
    wanted_count: usize,
}

impl Job<'_> {
    fn delete(&mut self, number: MessageNumber, uidl: String) {
        let id = self.conn.session().send(Command::Dele(number));
        self.dele.insert(id, uidl);
    }

    fn throttle(&self) {
        if let Some(pause) = self.options.throttle {
            std::thread::sleep(pause);
        }
    }

    fn download(&mut self, wanted: &[Wanted]) -> Result<(), Failure> {
        let window = if self.conn.session().pipelining() {
            WINDOW
        } else {
            1
        };
        let line_ends = if self.options.crlf {
            LineEnds::Crlf
        } else {
            LineEnds::Lf
        };
        let mut next = 0;
        loop {
            while self.retr.len() < window {
                let Some(w) = wanted.get(next) else { break };
                let id = self.conn.session().send(Command::Retr(w.number));
                self.retr.insert(id, next);
                next += 1;
            }
            if self.retr.is_empty() && self.dele.is_empty() {
                return Ok(());
            }
            match self.conn.next_event()? {
                ClientEvent::MessageStart { id, .. } => {
                    if let Some(w) = self.retr.get(&id).and_then(|&i| wanted.get(i)) {
                        let incoming = self
                            .maildir
                            .begin(&w.name, line_ends)
                            .map_err(|e| local("writing into the Maildir's tmp/", e))?;
                        self.current = Some((id, incoming));
                    }
                }
                ClientEvent::BodyChunk { id, data } => {
                    if let Some((_, incoming)) = self.current.as_mut().filter(|(c, _)| *c == id) {
                        if let Some(w) = self.retr.get(&id).and_then(|&i| wanted.get(i)) {
                            check_growth(self.options.lax_size, w, incoming, data.len())?;
                        }
                        incoming
                            .write(&data)
                            .map_err(|e| local("writing into the Maildir's tmp/", e))?;
                        self.progress.inc(data.len() as u64);
                        self.throttle();
                    }
                }
                ClientEvent::BodyEnd { id } => {
                    let Some(w) = self.retr.remove(&id).and_then(|i| wanted.get(i)) else {
                        continue;
                    };
                    match self.current.take() {
                        Some((c, incoming)) if c == id => self.finish(w, incoming)?,
                        other => self.current = other,
                    }
                }
                ClientEvent::Response { id, response } => {
                    if let Some(w) = self.retr.remove(&id).and_then(|i| wanted.get(i)) {
                        let text = match &response {
                            Response::Status(s) => describe(s),
                            other => format!("{other:?}"),
                        };
                        tracing::error!(message = w.number.get(), uidl = w.uidl, "RETR failed: {text}");
                        self.summary.failed += 1;
                    } else if let Some(uidl) = self.dele.remove(&id) {
                        match response {
                            Response::Status(s) if s.is_ok() => {
                                self.summary.deleted += 1;
                                self.summary.deleted_uidls.push(uidl);
                            }
                            other => {
                                tracing::error!(
                                    uidl,
                                    "DELE failed: {other:?}; the message stays on the server"
                                );
                                self.summary.failed += 1;
                            }
                        }
                    }
                }
                ClientEvent::Error { id: Some(id), error } => {
                    // The session skipped the bad response; the command has
                    // no other answer.
                    if let Some(w) = self.retr.remove(&id).and_then(|i| wanted.get(i)) {
                        tracing::error!(message = w.number.get(), "bad RETR answer: {error}");
                        self.summary.failed += 1;
                        if let Some((c, incoming)) = self.current.take() {
                            if c == id {
                                let _ = incoming.discard();
                            } else {
                                self.current = Some((c, incoming));
                            }
                        }
                    } else if let Some(uidl) = self.dele.remove(&id) {
                        tracing::error!(uidl, "bad DELE answer: {error}");
                        self.summary.failed += 1;
                    }
                }
                ClientEvent::Error { id: None, error } => {
                    tracing::warn!("the server sent something unexpected: {error}");
                }
                _ => {}
            }
        }
    }

    /// A message was received in full: check it, store it durably, record
    /// it, and in delete mode ask for its deletion.
    fn finish(&mut self, w: &Wanted, incoming: Incoming) -> Result<(), Failure> {
        let received = incoming.received();
        let completed = w
            .size
            .is_some_and(|s| s != received && incoming.ends_with_a_line_break_added_to(s));
        if completed {
            tracing::debug!(
                message = w.number.get(),
                uidl = w.uidl,
                "received {received} octets where LIST said {}: the message has no line break at \
                 its end, and the server added one",
                w.size.unwrap_or_default()
            );
        }
        if let Some(size) = w.size.filter(|&s| s != received && !completed) {
            if self.options.lax_size {
                tracing::warn!(
                    message = w.number.get(),
                    uidl = w.uidl,
                    "received {received} octets where LIST said {size}; stored anyway (--lax-size)"
                );
            } else {
                tracing::error!(
                    message = w.number.get(),
                    uidl = w.uidl,
                    "received {received} octets where LIST said {size}; not stored (--lax-size \
                     accepts this for servers that list estimates)"
                );
                self.summary.failed += 1;
                incoming
                    .discard()
                    .map_err(|e| local("removing a file from the Maildir's tmp/", e))?;
                return Ok(());
            }
        }
        let stored = match &w.stored {
            None => incoming.commit(),
            Some(earlier) => incoming.commit_compared(earlier),
        };
        match stored.map_err(|e| local("storing a message in the Maildir", e))? {
            Compared::Stored(path) => {
                tracing::debug!(message = w.number.get(), uidl = w.uidl, bytes = received, path = %path.display(), "stored");
                self.summary.fetched += 1;
                self.summary.bytes += received;
            }
            Compared::Same => {
                tracing::debug!(
                    message = w.number.get(),
                    uidl = w.uidl,
                    "downloaded again: the same as the file of its name, stored by an earlier run"
                );
                self.summary.already += 1;
            }
        }
        // The LIST size, what the next run compares with; without one,
        // the octets received (what LIST counts): a record without a size
        // would be trusted as a version 1 state file's is.
        if w.record {
            self.state.insert(&w.uidl, Some(w.size.unwrap_or(received)));
        }
        self.progress
            .set_message(format!("{}/{} messages", self.summary.fetched, self.wanted_count));
        if self.options.delete {
            self.delete(w.number, w.uidl.clone());
        }
        if self.last_save.elapsed() >= SAVE_INTERVAL {
            self.state.save().map_err(|e| local("saving the UIDL state", e))?;
            self.last_save = Instant::now();
        }
        self.throttle();
        if self
            .options
            .stop_after
            .is_some_and(|n| self.summary.fetched as u64 >= n)
        {
            return Err(Failure::Stopped(self.summary.fetched));
        }
        Ok(())
    }
}
