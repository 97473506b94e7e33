//! mailwire: reusable, sans-IO mail-access protocol libraries.
//!
//! This facade re-exports the member crates, one module per crate:
//!
//! - [`pop3`]: POP3 types, codec (both sides, both directions) and sans-IO
//!   client and server sessions, with the maildrop server;
//! - [`imap`]: the IMAP4rev2 / IMAP4rev1 codec (both sides, both
//!   directions, with the extensions RFC 9051 folds in and many more) and
//!   sans-IO client and server sessions ([`imap::client`],
//!   [`imap::server`]);
//! - [`mailbox`]: one store serving both protocols, with memory and Maildir
//!   backends, the POP3 maildrop view, MIME analysis and SEARCH evaluation.
//!
//! # Importing
//!
//! Each protocol speaks in its own words, and both have a [`Command`], a
//! [`Response`], a `Decoded`, a `DecoderConfig`, a `decode_command`...:
//! the names repeat on purpose, so name the protocol in the path instead
//! of glob-importing two modules at once (`use mailwire::imap::*` next to
//! `use mailwire::pop3::*` does not compile once a repeated name is used).
//! The root re-exports nothing else, so `mailwire::imap::Response` and
//! `mailwire::pop3::Response` never meet.
//!
//! ```
//! use mailwire::{imap, pop3};
//!
//! let pop3_config = pop3::DecoderConfig::default();
//! let Ok(pop3::Decoded::Complete { value, .. }) = pop3::decode_command(b"STAT\r\n", &pop3_config) else {
//!     unreachable!()
//! };
//! assert_eq!(value, pop3::Command::Stat);
//!
//! let imap_config = imap::DecoderConfig::default();
//! let Ok(imap::Decoded::Complete { value, .. }) = imap::decode_command(b"a1 NOOP\r\n", &imap_config) else {
//!     unreachable!()
//! };
//! assert!(matches!(value.body, imap::CommandBody::Noop));
//! ```
//!
//! A program that speaks one protocol imports from that module alone:
//!
//! ```
//! use mailwire::imap::{FetchItem, Mailbox, SearchKey};
//!
//! let item: FetchItem = "BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)]".parse()?;
//! let key: SearchKey = "(UNSEEN SINCE 1-Feb-1994)".parse()?;
//! assert_eq!(item.to_string(), "BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)]");
//! assert_eq!(key.to_string(), "(UNSEEN SINCE 1-Feb-1994)");
//! assert!(Mailbox::try_from("inbox").unwrap().is_inbox());
//! # Ok::<(), mailwire::imap::DecodeError>(())
//! ```
//!
//! [`Command`]: imap::Command
//! [`Response`]: imap::Response
#![forbid(unsafe_code)]

pub use mailwire_imap as imap;
pub use mailwire_mailbox as mailbox;
pub use mailwire_pop3 as pop3;

/// The README's Rust examples, compiled and run as doctests so they cannot
/// drift from the code.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
