//! Sans-IO POP3: types, codec, and client and server sessions.
//!
//! Implements RFC 1939 (POP3), RFC 2449 (CAPA and response codes),
//! RFC 2595 (STLS), RFC 3206 (SYS and AUTH codes), RFC 5034 (SASL AUTH)
//! and RFC 6856 (UTF8 and LANG). Nothing here opens a socket, starts a
//! runtime or reads a clock: bytes go in, typed values and bytes come out.
//!
//! # Codec
//!
//! Every decoder answers [`Decoded::Complete`] with the bytes it used,
//! [`Decoded::Incomplete`] for a valid prefix, or a [`DecodeError`] with
//! the offset, what was expected and where the next line starts.
//!
//! ```
//! use mailwire_pop3::{decode_command, decode_response, Command, DecoderConfig, Decoded, Expect, Response};
//!
//! let config = DecoderConfig::default();
//! let Decoded::Complete { value, consumed } = decode_command(b"LIST 2\r\nSTAT\r\n", &config)? else {
//!     unreachable!()
//! };
//! assert_eq!((consumed, value.keyword()), (8, "LIST"));
//!
//! let expect = Expect::for_command(&value);
//! let wire = b"+OK 2 200\r\n";
//! let Decoded::Complete { value: Response::ScanListing(scan), .. } = decode_response(wire, expect, &config)? else {
//!     unreachable!()
//! };
//! assert_eq!(scan.size, 200);
//! # Ok::<(), mailwire_pop3::DecodeError>(())
//! ```
//!
//! # Sessions
//!
//! [`ServerSession`] and [`ClientSession`] are plain state machines of one
//! shape: [`receive`](ServerSession::receive) what the peer sent,
//! [`poll_event`](ServerSession::poll_event) what the application must
//! act on, [`poll_transmit`](ServerSession::poll_transmit) what to send,
//! and [`handle_timeout`](ServerSession::handle_timeout) /
//! [`poll_timeout`](ServerSession::poll_timeout) for time, which they never
//! read themselves. The server session does no storage work either: a
//! login, a RETR or TOP and the commit at QUIT come out as
//! [`ServerEvent`]s carrying a handle ([`LoginHandle`], [`RetrieveHandle`],
//! [`CommitHandle`]) that the application passes back with its answer,
//! whenever and from wherever it likes. [`MaildropServer`] answers them
//! from a blocking [`Maildrop`].
#![forbid(unsafe_code)]

mod auth;
mod body;
mod capability;
mod client;
mod clock;
mod command;
mod decode;
mod maildrop;
mod maildrop_server;
mod response;
mod server;
mod types;

pub use auth::{PlainCredentials, SaslMechanism, SaslStep, apop_digest, apop_verify, login_delay_remaining};
pub use body::{Body, BodyChunk, BodyDecoder, DotStuffer, unstuff};
pub use capability::{Capability, Expire};
pub use client::{
    ClientConfig, ClientError, ClientEvent, ClientSession, ClientState, CommandId, MAX_PIPELINED,
};
pub use command::{Command, Digest, LanguageRange, SaslResponse, decode_command, decode_sasl_response};
pub use decode::{DecodeError, Decoded, DecoderConfig, ErrorKind, Leniency, Limits, skip_line};
pub use maildrop::{Maildrop, MaildropError, MemoryMaildrop, MessageInfo, crlf_size};
pub use maildrop_server::MaildropServer;
pub use response::{
    Expect, Language, Response, ResponseCode, ScanListing, Stat, Status, StatusLine, UniqueIdListing,
    decode_response, parse_status_line,
};
pub use server::{
    CommitHandle, HandleError, LoginHandle, LoginRejection, LoginRequest, RetrieveHandle, ServerConfig,
    ServerEvent, ServerSession, Tls,
};
pub use types::{
    LanguageTag, Mechanism, MessageNumber, Param, Password, SaslData, Text, Timestamp, TypeError, UniqueId,
};
