//! Sans-IO IMAP4rev2 / IMAP4rev1 codec (work in progress).
//!
//! This crate will hold the IMAP types (tags, atoms, astrings, literals,
//! mailbox names with modified UTF-7, sequence sets, section specs...), the
//! command and response codec for both sides of the wire with streaming
//! literals, and later the client and server session state machines. It
//! follows the conventions set by `mailwire-pop3`: decoders answer
//! complete / need more bytes / literal announced / error-with-offset, limits
//! and leniency are runtime configuration, and nothing does network I/O.
#![forbid(unsafe_code)]
