//! Transcript tests of the POP3 sessions.
//!
//! 1. The example exchanges of RFC 1939, 2449, 2595, 5034 and 6856, replayed
//!    byte for byte: through a `ServerSession` (the client lines fed, the
//!    server lines compared) and through a `ClientSession` (the client lines
//!    compared with what it sends, the RFC's server lines fed verbatim, the
//!    typed events checked).
//! 2. Edge cases that broke other implementations, each on its own.
//! 3. A client and a server connected in memory.
//!
//! # What is compared where the RFC's text and ours differ
//!
//! RFC 1939 section 9: "with the exception of the STAT, LIST, and UIDL
//! commands, the reply given by the POP3 server to any command is
//! significant only to "+OK" and "-ERR". Any text occurring after this
//! reply may be ignored by the client." The texts of the examples ("mrose
//! is a real hoopy frood", "dewey POP3 server signing off") are therefore
//! free, and so is the text after an RFC 2449 response code, the text of a
//! LANG answer after the language tag (RFC 6856 section 3.2) and the order
//! of CAPA and LANG listings. Everything else is compared exactly: status,
//! response code, the numbers of STAT, LIST and UIDL, listings, message
//! bodies, challenges and the multi-line framing. Where our wording differs
//! a script says so with `S~` (status and code compared, text free) or an
//! `S-`/`S+` pair (the RFC's line fed to the client, ours expected from the
//! server); extra capabilities our server announces are `S?+` lines. See
//! `common/mod.rs` for the script format.

#[path = "../common/mod.rs"]
mod common;
mod helpers;

mod bodies;
mod loopback;
mod maildrop_rules;
mod pipelining;
mod rfc1939;
mod rfc2449;
mod rfc2595;
mod rfc5034;
mod rfc6856;
mod states;
