//! COMPRESS (RFC 4978): the client asks the server to compress the rest of
//! the connection. Adds the `COMPRESS` command and the
//! `[COMPRESSIONACTIVE]` response code
//! ([`Code::CompressionActive`](crate::Code::CompressionActive)); the
//! compression itself is the transport's business, not the codec's.
//!
//! ```text
//! command-auth   =/ compress
//! compress       = "COMPRESS" SP algorithm
//! algorithm      = "DEFLATE"
//! resp-text-code =/ "COMPRESSIONACTIVE"
//! ```
//!
//! The algorithm is kept as an atom: RFC 4978 notes that future algorithm
//! names are atoms, and a server answers an unknown one with `BAD` itself.

use nom::Parser;

use crate::parse::{PResult, expect, sp};
use crate::string::Atom;

/// `compress = "COMPRESS" SP algorithm`, after the name.
pub(crate) fn parse_compress(input: &[u8]) -> PResult<'_, Atom<'_>> {
    let (rest, _) = sp(input)?;
    expect("compression algorithm", Atom::parse).parse(rest)
}
