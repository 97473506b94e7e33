//! REPLACE (RFC 8508): replace a message with a new version in one step,
//! as APPEND followed by an expunge of the old one, for drafts that a
//! client saves again and again. Adds the `REPLACE` and `UID REPLACE`
//! commands; the message takes APPEND's form (flags, date, literal or
//! literal8), parsed by the same code.
//!
//! ```text
//! capability     =/ "REPLACE"
//! command-select =/ replace
//! replace        = "REPLACE" SP seq-number SP mailbox append-message
//! uid            =/ "UID" SP replace
//! append-message = append-opts SP append-data          ; RFC 4466
//! append-opts    = [SP flag-list] [SP date-time] *(SP append-ext)
//! append-data    = literal / literal8 / append-data-ext
//! append-data    =/ utf8-literal                       ; RFC 6855
//! ```
//!
//! The message is one `append-message`, never several (RFC 8508 section
//! 4.7: REPLACE does not interact with MULTIAPPEND). Its `append-data`
//! takes every form APPEND's does: a literal, a literal8, UTF8=ACCEPT's
//! `UTF8 (literal8)` and a CATENATE list (RFC 8508 section 4.2 asks a
//! server with both REPLACE and CATENATE to take it). As with APPEND, an
//! `append-ext` (RFC 4466's extension point of `append-opts`, such as
//! `X-EXT 5`) is not decoded: it fails as a syntax error.

use crate::decode::DecoderConfig;
use crate::encode::Encoder;
use crate::mailbox::Mailbox;
use crate::message_cmd::{AppendMessage, encode_append_message, parse_append_message};
use crate::parse::{PResult, sp};
use crate::sequence::SeqNumber;

/// The arguments of REPLACE and UID REPLACE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replace<'a> {
    /// The message to replace: a sequence number, or a UID with UID
    /// REPLACE (`*` is the last one).
    pub target: SeqNumber,
    /// Where the new message goes (the old one's mailbox or another).
    pub mailbox: Mailbox<'a>,
    /// The new message.
    pub message: AppendMessage<'a>,
}

impl<'a> Replace<'a> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> Replace<'static> {
        Replace {
            target: self.target,
            mailbox: self.mailbox.into_owned(),
            message: self.message.into_owned(),
        }
    }

    /// `replace = "REPLACE" SP seq-number SP mailbox append-message`, after
    /// the name.
    pub(crate) fn parse(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, Self> {
        let (rest, _) = sp(input)?;
        let (rest, target) = SeqNumber::parse(rest)?;
        let (rest, _) = sp(rest)?;
        let (rest, mailbox) = Mailbox::parse(rest, &config.leniency)?;
        let (rest, _) = sp(rest)?;
        let (rest, message) = parse_append_message(rest, config)?;
        Ok((
            rest,
            Replace {
                target,
                mailbox,
                message,
            },
        ))
    }

    /// Writes ` seq-number mailbox [flags] [date] literal`.
    pub(crate) fn encode<'e>(&'e self, e: &mut Encoder<'e>) {
        e.put(b" ");
        match self.target {
            SeqNumber::Value(n) => e.number(u64::from(n.get())),
            SeqNumber::Largest => e.put(b"*"),
        }
        e.put(b" ");
        self.mailbox.encode(e);
        encode_append_message(&self.message, e);
    }
}
