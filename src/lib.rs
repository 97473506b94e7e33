//! mailwire: reusable, sans-IO mail-access protocol libraries.
//!
//! This facade re-exports the member crates:
//!
//! - [`pop3`]: POP3 types, codec and sans-IO client and server sessions;
//! - [`imap`]: the IMAP codec (in progress);
//! - [`mailbox`]: the mailbox model shared by both protocols (in progress).
#![forbid(unsafe_code)]

pub use mailwire_imap as imap;
pub use mailwire_mailbox as mailbox;
pub use mailwire_pop3 as pop3;

/// The README's Rust examples, compiled and run as doctests so they cannot
/// drift from the code.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
