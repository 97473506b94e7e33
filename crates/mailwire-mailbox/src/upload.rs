//! A message received in pieces (an IMAP APPEND) and written to the store
//! as it arrives, so that it is never whole in memory: see
//! [`Account::start_upload`](crate::Account::start_upload).

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use crate::flags::Flags;
use crate::types::{InternalDate, StoreError};

/// A message being received. Each piece is written as it comes, bare LF
/// line ends turned into CRLF (the store's canonical form, as
/// [`canonical_crlf`](crate::canonical_crlf) makes it); dropped before
/// [`Account::append_uploads`](crate::Account::append_uploads) takes it,
/// it leaves nothing behind.
#[derive(Debug)]
pub struct Upload {
    pub(crate) sink: Sink,
    pub(crate) flags: Flags,
    pub(crate) internal_date: Option<InternalDate>,
    size: u64,
    limit: u64,
    /// The last octet written, after conversion.
    last: Option<u8>,
}

#[derive(Debug)]
pub(crate) enum Sink {
    /// A file of the backend's ([`Backend::stage`](crate::Backend::stage)).
    File { path: PathBuf, file: BufWriter<File> },
    /// That file, complete, flushed and closed.
    Closed { path: PathBuf },
    /// The backend keeps content in memory.
    Memory(Vec<u8>),
    /// Handed over, or failed and removed.
    Gone,
}

impl Upload {
    pub(crate) fn new(sink: Sink, flags: Flags, internal_date: Option<InternalDate>, limit: u64) -> Upload {
        Upload {
            sink,
            flags,
            internal_date,
            size: 0,
            limit,
            last: None,
        }
    }

    /// Adds the next piece. Fails with [`StoreError::Limit`] once the
    /// message passes the store's largest, and with
    /// [`StoreError::Temporary`] on a full disk; after a failure the
    /// upload holds nothing and can only be dropped.
    pub fn write(&mut self, data: &[u8]) -> Result<(), StoreError> {
        let mut start = 0;
        for lf in memchr::memchr_iter(b'\n', data) {
            let before = if lf == 0 { self.last } else { Some(data[lf - 1]) };
            if before != Some(b'\r') {
                self.put(&data[start..lf])?;
                self.put(b"\r\n")?;
                start = lf + 1;
            }
        }
        self.put(&data[start..])
    }

    /// The octets written so far (after conversion).
    pub fn size(&self) -> u64 {
        self.size
    }

    fn put(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        let Some(&last) = bytes.last() else {
            return Ok(());
        };
        self.size = self.size.saturating_add(bytes.len() as u64);
        if self.size > self.limit {
            self.discard();
            return Err(StoreError::Limit("message too large"));
        }
        self.last = Some(last);
        let written = match &mut self.sink {
            Sink::File { file, .. } => file.write_all(bytes),
            Sink::Memory(content) => {
                content.extend_from_slice(bytes);
                Ok(())
            }
            Sink::Closed { .. } => return Err(StoreError::Permanent("the upload is complete".into())),
            Sink::Gone => return Err(StoreError::Permanent("the upload failed before".into())),
        };
        written.map_err(|e| {
            let error = self.io_error("write", &e);
            self.discard();
            error
        })
    }

    /// Ends the content as the canonical form does (a final CRLF) and
    /// flushes it to the file; fails if the upload failed before.
    pub(crate) fn finish(&mut self) -> Result<(), StoreError> {
        match self.sink {
            Sink::Gone => return Err(StoreError::Permanent("the upload failed before".into())),
            Sink::Closed { .. } => return Ok(()),
            _ => {}
        }
        match self.last {
            None | Some(b'\n') => {}
            Some(b'\r') => self.put(b"\n")?,
            Some(_) => self.put(b"\r\n")?,
        }
        if let Sink::File { file, .. } = &mut self.sink {
            if let Err(e) = file.flush() {
                let error = self.io_error("write", &e);
                self.discard();
                return Err(error);
            }
        }
        Ok(())
    }

    /// Ends the message: nothing more can be written, and its staging
    /// file is flushed and closed (the upload keeps its name, and removes
    /// it when dropped unless [`Account::append_uploads`] took it). A
    /// MULTIAPPEND of thousands of messages then holds no open file, nor a
    /// write buffer, for those already received. Fails, and the upload
    /// holds nothing, if it failed before or the flush fails.
    ///
    /// [`Account::append_uploads`]: crate::Account::append_uploads
    pub fn complete(&mut self) -> Result<(), StoreError> {
        self.finish()?;
        if matches!(self.sink, Sink::File { .. }) {
            if let Sink::File { path, file } = self.take() {
                // Flushed by `finish`: dropping the writer only closes it.
                drop(file);
                self.sink = Sink::Closed { path };
            }
        }
        Ok(())
    }

    /// Takes the content or the file out; the upload is then gone.
    pub(crate) fn take(&mut self) -> Sink {
        std::mem::replace(&mut self.sink, Sink::Gone)
    }

    /// An I/O error on the staging file, as the store reports one (a full
    /// disk is temporary).
    fn io_error(&self, what: &str, e: &io::Error) -> StoreError {
        match &self.sink {
            Sink::File { path, .. } | Sink::Closed { path } => crate::maildir::io_err(what, path, e),
            _ => StoreError::Permanent(format!("{what}: {e}")),
        }
    }

    fn discard(&mut self) {
        if let Sink::File { path, .. } | Sink::Closed { path } = self.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        self.discard();
    }
}
