//! The client-side response reader that streams large FETCH literals;
//! its documentation is on [`ResponseReader`].

use std::borrow::Cow;
use std::num::NonZeroU32;

use crate::decode::{DecodeError, Decoded, DecoderConfig, ErrorKind};
use crate::fetch::data::{DataItemName, MessageDataItem, data_item_name, msg_att_item};
use crate::fetch::open_paren;
use crate::frame::{FrameOptions, Framed, Progress, Side, StreamLiterals, frame_resume};
use crate::parse::{PError, PResult, crlf, fail, keyword, nz_number, separator, skip_extra_spaces};
use crate::response::{Response, decode_framed_response};
use crate::string::NString;

/// What [`ResponseReader::decode`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadEvent<'a> {
    /// A whole response (every response without a streamed literal).
    Response(Response<'a>),
    /// A FETCH response reached the literal of a message data item
    /// (`BODY[...]`, `BINARY[...]`, `RFC822`...) longer than the
    /// threshold: the items before it (since the start of the response or
    /// the previous streamed literal), and the item the literal belongs
    /// to. Its data follows as [`ReadEvent::LiteralData`].
    LiteralStart {
        /// The message sequence number of the FETCH response.
        seq: NonZeroU32,
        /// The complete items before the streamed one.
        items: Vec<MessageDataItem<'a>>,
        /// The item whose data is streamed.
        item: DataItemName<'a>,
        /// The literal's length.
        length: u64,
    },
    /// A piece of the streamed literal's data, in order; the pieces add up
    /// to the announced length.
    LiteralData(Cow<'a, [u8]>),
    /// The end of a FETCH response with streamed literals: the items after
    /// the last one.
    FetchEnd {
        /// The message sequence number of the FETCH response.
        seq: NonZeroU32,
        /// The items after the last streamed literal.
        items: Vec<MessageDataItem<'a>>,
    },
    /// Bytes of a response that failed to decode (reported once, as an
    /// error) being skipped: the rest of its streamed literal and of the
    /// response, so that the stream stays in step.
    Skipped(Cow<'a, [u8]>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between responses.
    Between,
    /// Inside a streamed literal of a FETCH response; `literal8` when it
    /// may hold NUL (`~{n}`, RFC 3516).
    Literal {
        seq: NonZeroU32,
        remaining: u64,
        literal8: bool,
    },
    /// After a streamed literal, inside the same FETCH response.
    AfterLiteral { seq: NonZeroU32 },
    /// Skipping a streamed literal of a response that failed to decode.
    SkipLiteral { remaining: u64 },
    /// Skipping the rest of that response.
    SkipRest,
}

impl<'a> ReadEvent<'a> {
    /// This event in the streamed shape, so that every FETCH response is
    /// handled one way whatever its size and whatever the threshold.
    ///
    /// Each message data item that holds data (`BODY[...]`, `BINARY[...]`,
    /// `RFC822`...) among the items of a FETCH event becomes a
    /// [`ReadEvent::LiteralStart`] with the items before it, then a
    /// [`ReadEvent::LiteralData`] with all its data (none when it is
    /// empty), as if it had been streamed. So a whole FETCH response
    /// ([`ReadEvent::Response`] with [`Response::Fetch`]) becomes
    /// `LiteralStart`, `LiteralData`, ... and a [`ReadEvent::FetchEnd`]
    /// with the items after the last data (a lone `FetchEnd` when it has
    /// none); a `LiteralStart` or `FetchEnd` whose items hold short data
    /// (a quoted `BODY[HEADER]` before a streamed `BODY[TEXT]`) is split
    /// the same way, ending with the event itself and the items left. A
    /// `NIL` data item stays among the items. Every other event comes out
    /// as it is. Nothing is copied: the data still borrows the input.
    ///
    /// ```
    /// use mailwire_imap::{Decoded, DecoderConfig, ReadEvent, ResponseReader};
    ///
    /// // Short enough not to stream: it is decoded whole...
    /// let wire = b"* 1 FETCH (UID 7 BODY[] {5}\r\nHello FLAGS (\\Seen))\r\n";
    /// let mut reader = ResponseReader::new(DecoderConfig::default(), 1024);
    /// let Decoded::Complete { value, .. } = reader.decode(wire)? else { unreachable!() };
    /// assert!(matches!(value, ReadEvent::Response(_)));
    /// // ...and takes the streamed shape all the same.
    /// let events: Vec<_> = value.into_streamed().collect();
    /// assert!(matches!(&events[0], ReadEvent::LiteralStart { items, length: 5, .. } if items.len() == 1));
    /// assert!(matches!(&events[1], ReadEvent::LiteralData(data) if &data[..] == b"Hello"));
    /// assert!(matches!(&events[2], ReadEvent::FetchEnd { items, .. } if items.len() == 1));
    /// assert_eq!(events.len(), 3);
    /// # Ok::<(), mailwire_imap::DecodeError>(())
    /// ```
    pub fn into_streamed(self) -> StreamedEvents<'a> {
        let (seq, items, last) = match self {
            ReadEvent::Response(Response::Fetch { seq, items }) | ReadEvent::FetchEnd { seq, items } => {
                (seq, items, Last::End)
            }
            ReadEvent::LiteralStart {
                seq,
                items,
                item,
                length,
            } => (seq, items, Last::Start(item, length)),
            other => return StreamedEvents(Streamed::One(Some(other))),
        };
        StreamedEvents(Streamed::Fetch {
            seq,
            items: items.into_iter(),
            data: None,
            last,
        })
    }
}

/// The events of [`ReadEvent::into_streamed`], in order.
#[derive(Debug)]
pub struct StreamedEvents<'a>(Streamed<'a>);

#[derive(Debug)]
enum Streamed<'a> {
    One(Option<ReadEvent<'a>>),
    Fetch {
        seq: NonZeroU32,
        /// The items not yet handed out.
        items: std::vec::IntoIter<MessageDataItem<'a>>,
        /// The data of the `LiteralStart` just handed out.
        data: Option<Cow<'a, [u8]>>,
        /// The event that ends the sequence, after the items.
        last: Last<'a>,
    },
    Done,
}

#[derive(Debug)]
enum Last<'a> {
    Start(DataItemName<'a>, u64),
    End,
}

impl<'a> Iterator for StreamedEvents<'a> {
    type Item = ReadEvent<'a>;

    fn next(&mut self) -> Option<ReadEvent<'a>> {
        let (seq, items, data) = match &mut self.0 {
            Streamed::One(event) => return event.take(),
            Streamed::Done => return None,
            Streamed::Fetch { seq, items, data, .. } => (*seq, items, data),
        };
        if let Some(data) = data.take() {
            return Some(ReadEvent::LiteralData(data));
        }
        let mut before = Vec::new();
        for item in items.by_ref() {
            match item.into_data() {
                Ok((name, NString(Some(value)))) => {
                    let value = value.into_bytes();
                    let length = value.len() as u64;
                    if length > 0 {
                        *data = Some(value);
                    }
                    return Some(ReadEvent::LiteralStart {
                        seq,
                        items: before,
                        item: name,
                        length,
                    });
                }
                Ok((name, nil)) => before.push(name.with_data(nil)),
                Err(item) => before.push(item),
            }
        }
        match std::mem::replace(&mut self.0, Streamed::Done) {
            Streamed::Fetch {
                last: Last::Start(item, length),
                ..
            } => Some(ReadEvent::LiteralStart {
                seq,
                items: before,
                item,
                length,
            }),
            _ => Some(ReadEvent::FetchEnd { seq, items: before }),
        }
    }
}

impl ReadEvent<'_> {
    /// Converts to a value that owns its data (streamed data is copied).
    pub fn into_owned(self) -> ReadEvent<'static> {
        let items =
            |items: Vec<MessageDataItem<'_>>| items.into_iter().map(MessageDataItem::into_owned).collect();
        match self {
            ReadEvent::Response(r) => ReadEvent::Response(r.into_owned()),
            ReadEvent::LiteralStart {
                seq,
                items: before,
                item,
                length,
            } => ReadEvent::LiteralStart {
                seq,
                items: items(before),
                item: item.into_owned(),
                length,
            },
            ReadEvent::LiteralData(d) => ReadEvent::LiteralData(Cow::Owned(d.into_owned())),
            ReadEvent::FetchEnd { seq, items: after } => ReadEvent::FetchEnd {
                seq,
                items: items(after),
            },
            ReadEvent::Skipped(d) => ReadEvent::Skipped(Cow::Owned(d.into_owned())),
        }
    }
}

/// Reads a server's responses, streaming large FETCH literals.
///
/// `* 1 FETCH (UID 7 BODY[] {52428800}` is followed by 50 MB of message.
/// [`decode_response`](crate::decode_response) would wait for all of it
/// and hand back one value borrowing it; a `ResponseReader` instead hands
/// out the items before the literal, then the literal's data in whatever
/// pieces the caller's buffer holds, then the items after it, so that a
/// client can write a message to disk while it arrives and never holds it
/// in memory.
///
/// Feed it the unread part of the input; each call answers one event and
/// how many bytes it used (or "need more bytes"). The caller drops the used
/// bytes before the next call.
///
/// Only message data streams: the literal of a `BODY[section]`,
/// `BINARY[section]`, `RFC822`, `RFC822.HEADER` or `RFC822.TEXT` item
/// longer than the threshold. Every other literal (a server may send any
/// string as one: an ENVELOPE's subject, a BODYSTRUCTURE's parameter, a
/// PREVIEW), literals up to the threshold, and every response other than
/// FETCH come whole in [`ReadEvent::Response`], decoded in place under the
/// ordinary [`Limits`](crate::Limits). So one FETCH comes in one of two
/// shapes, by its size; [`ReadEvent::into_streamed`] turns every event
/// into the streamed shape, for code (a proxy) that would rather handle
/// FETCH one way.
///
/// Streamed data is checked as a literal decoded whole is: a NUL in a
/// `{n}` literal (only a literal8, `~{n}`, may hold one) ends it with an
/// error after the data before it, and the rest of the response is
/// skipped, as a response read whole with that literal is refused.
///
/// ```text
/// message-data = nz-number SP "FETCH" SP msg-att
/// msg-att      = "(" (msg-att-dynamic / msg-att-static)
///                *(SP (msg-att-dynamic / msg-att-static)) ")"
/// ```
///
/// ```
/// use mailwire_imap::{Decoded, DecoderConfig, ReadEvent, ResponseReader};
///
/// // A message of 40 bytes, with a threshold of 16: it streams.
/// let wire = b"* 1 FETCH (UID 7 BODY[] {40}\r\n0123456789012345678901234567890123456789 FLAGS ())\r\n";
/// let mut reader = ResponseReader::new(DecoderConfig::default(), 16);
/// let mut input: Vec<u8> = Vec::new();
/// let (mut message, mut events) = (Vec::new(), Vec::new());
/// // The bytes arrive 10 at a time; the reader never waits for the
/// // whole literal.
/// for piece in wire.chunks(10) {
///     input.extend_from_slice(piece);
///     while let Decoded::Complete { value, consumed } = reader.decode(&input)? {
///         match value {
///             ReadEvent::LiteralStart { seq, items, length, .. } => {
///                 events.push(format!("start {seq} {} items, {length} bytes", items.len()));
///             }
///             ReadEvent::LiteralData(data) => message.extend_from_slice(&data),
///             ReadEvent::FetchEnd { items, .. } => events.push(format!("end, {} items", items.len())),
///             other => events.push(format!("{other:?}")),
///         }
///         input.drain(..consumed);
///     }
/// }
/// assert_eq!(events, ["start 1 1 items, 40 bytes", "end, 1 items"]);
/// assert_eq!(message, b"0123456789012345678901234567890123456789");
/// # Ok::<(), mailwire_imap::DecodeError>(())
/// ```
#[derive(Debug, Clone)]
pub struct ResponseReader {
    config: DecoderConfig,
    stream_above: u64,
    state: State,
    /// How far the current piece of a response has been framed: a
    /// response arriving in small pieces is not scanned again from its
    /// first byte at each call.
    progress: Progress,
}

impl ResponseReader {
    /// A reader that streams the literals of FETCH message data items
    /// longer than `stream_above` bytes and decodes everything else like
    /// [`decode_response`](crate::decode_response). Streamed literals are
    /// not subject to the literal limit: nothing is allocated for them.
    /// Other literals are, whatever their size.
    pub fn new(config: DecoderConfig, stream_above: u64) -> Self {
        ResponseReader {
            config,
            stream_above,
            state: State::Between,
            progress: Progress::default(),
        }
    }

    /// Whether the reader is between responses.
    pub fn is_between_responses(&self) -> bool {
        self.state == State::Between
    }

    /// Decodes the next event from `input`, the bytes not yet used:
    /// [`Decoded::Complete`] or [`Decoded::Incomplete`], never
    /// [`Decoded::LiteralAnnounced`] (as with `decode_response`).
    ///
    /// After an error, the reader resumes by itself if the error says so
    /// (`resume_at`): drop that many bytes and call again.
    pub fn decode<'a>(&mut self, input: &'a [u8]) -> Result<Decoded<ReadEvent<'a>>, DecodeError> {
        match self.state {
            State::Between => self.between(input),
            State::Literal {
                seq,
                remaining,
                literal8,
            } => self.streamed_data(input, seq, remaining, literal8),
            State::SkipLiteral { remaining } => Ok(self.literal_data(input, remaining, None, false)),
            State::AfterLiteral { seq } => self.after_literal(input, seq),
            State::SkipRest => self.skip_rest(input),
        }
    }

    /// Data of a streamed literal, checked as a literal decoded whole is:
    /// NUL only in a literal8 (`CHAR8` is `%x01-ff`). The data before a
    /// NUL comes out; at the NUL, an error, and the reader skips the rest
    /// of the response (from the octet after the NUL).
    fn streamed_data<'a>(
        &mut self,
        input: &'a [u8],
        seq: NonZeroU32,
        remaining: u64,
        literal8: bool,
    ) -> Result<Decoded<ReadEvent<'a>>, DecodeError> {
        let n = usize::try_from(remaining).map_or(input.len(), |r| r.min(input.len()));
        let nul = if literal8 {
            None
        } else {
            memchr::memchr(0, &input[..n])
        };
        match nul {
            None => Ok(self.literal_data(input, remaining, Some(seq), literal8)),
            Some(0) => {
                self.state = match remaining - 1 {
                    0 => State::SkipRest,
                    left => State::SkipLiteral { remaining: left },
                };
                let mut e = DecodeError::syntax(input, 0, "CHAR8 (NUL only in literal8)");
                e.resume_at = Some(1);
                Err(e)
            }
            Some(at) => Ok(self.literal_data(&input[..at], remaining, Some(seq), literal8)),
        }
    }

    /// Data of a streamed literal (`seq` given) or of one being skipped.
    fn literal_data<'a>(
        &mut self,
        input: &'a [u8],
        remaining: u64,
        seq: Option<NonZeroU32>,
        literal8: bool,
    ) -> Decoded<ReadEvent<'a>> {
        if input.is_empty() {
            return Decoded::Incomplete;
        }
        let n = usize::try_from(remaining).map_or(input.len(), |r| r.min(input.len()));
        let data = &input[..n];
        let left = remaining - n as u64;
        self.state = match (left, seq) {
            (0, Some(seq)) => State::AfterLiteral { seq },
            (0, None) => State::SkipRest,
            (_, Some(seq)) => State::Literal {
                seq,
                remaining: left,
                literal8,
            },
            (_, None) => State::SkipLiteral { remaining: left },
        };
        let value = match seq {
            Some(_) => ReadEvent::LiteralData(Cow::Borrowed(data)),
            None => ReadEvent::Skipped(Cow::Borrowed(data)),
        };
        Decoded::Complete { value, consumed: n }
    }

    /// Framing that streams the large literals of message data items.
    fn message_data(&self, mid_message: bool) -> FrameOptions {
        FrameOptions {
            mid_message,
            stream: Some(StreamLiterals::MessageData {
                above: self.stream_above,
            }),
            ..FrameOptions::default()
        }
    }

    fn between<'a>(&mut self, input: &'a [u8]) -> Result<Decoded<ReadEvent<'a>>, DecodeError> {
        let options = if is_fetch_response(input) {
            self.message_data(false)
        } else {
            FrameOptions::default()
        };
        let framed = frame_resume(input, Side::Response, &self.config, options, &mut self.progress);
        match framed.map_err(|e| self.skip_refused_literal(e, input))? {
            Framed::Complete(len) => {
                let value = decode_framed_response(&input[..len], &self.config)?;
                Ok(Decoded::Complete {
                    value: ReadEvent::Response(value),
                    consumed: len,
                })
            }
            Framed::Incomplete => Ok(Decoded::Incomplete),
            // A server does not wait for a continuation: a literal not
            // yet in is simply not complete yet.
            Framed::Literal(_) => Ok(Decoded::Incomplete),
            Framed::Stream {
                data_start,
                length,
                followed,
            } => {
                let head = &input[..data_start];
                let parsed = fetch_head(head, &self.config)
                    .map_err(unwrap_err)
                    .and_then(|(rest, seq)| items_then_name(rest, &self.config, false).map(|v| (seq, v)));
                match parsed {
                    Ok((seq, named)) => Ok(self.literal_start(seq, named, length, data_start)),
                    // A candidate by its last bytes only, which may stand
                    // inside an item: frame the response again, following
                    // its structure (once: then every literal is decided).
                    Err(_) if !followed => {
                        self.progress = Progress::following_fetch_structure(false);
                        self.between(input)
                    }
                    Err(e) => Err(self.skip_after_error(e, head, length)),
                }
            }
        }
    }

    /// A streamed literal starts: the items before it and its item's name.
    fn literal_start<'a>(
        &mut self,
        seq: NonZeroU32,
        named: Named<'a>,
        length: u64,
        data_start: usize,
    ) -> Decoded<ReadEvent<'a>> {
        self.state = State::Literal {
            seq,
            remaining: length,
            literal8: named.literal8,
        };
        Decoded::Complete {
            value: ReadEvent::LiteralStart {
                seq,
                items: named.items,
                item: named.item,
                length,
            },
            consumed: data_start,
        }
    }

    fn after_literal<'a>(
        &mut self,
        input: &'a [u8],
        seq: NonZeroU32,
    ) -> Result<Decoded<ReadEvent<'a>>, DecodeError> {
        let options = self.message_data(true);
        let framed = frame_resume(input, Side::Response, &self.config, options, &mut self.progress);
        match framed.map_err(|e| self.skip_refused_literal(e, input))? {
            Framed::Complete(len) => {
                let message = &input[..len];
                self.state = State::Between;
                match items_then_end(message, &self.config) {
                    Ok(items) => Ok(Decoded::Complete {
                        value: ReadEvent::FetchEnd { seq, items },
                        consumed: len,
                    }),
                    Err(e) => {
                        let mut d = e.into_decode_error(message);
                        d.resume_at = Some(len);
                        Err(d)
                    }
                }
            }
            Framed::Incomplete => Ok(Decoded::Incomplete),
            // A server does not wait for a continuation: a literal not
            // yet in is simply not complete yet.
            Framed::Literal(_) => Ok(Decoded::Incomplete),
            Framed::Stream {
                data_start,
                length,
                followed,
            } => {
                let head = &input[..data_start];
                match items_then_name(head, &self.config, true) {
                    Ok(named) => Ok(self.literal_start(seq, named, length, data_start)),
                    Err(_) if !followed => {
                        self.progress = Progress::following_fetch_structure(true);
                        self.after_literal(input, seq)
                    }
                    Err(e) => Err(self.skip_after_error(e, head, length)),
                }
            }
        }
    }

    fn skip_rest<'a>(&mut self, input: &'a [u8]) -> Result<Decoded<ReadEvent<'a>>, DecodeError> {
        // Nothing of the response is kept: every large literal is skipped
        // in pieces, wherever it stands.
        let options = FrameOptions {
            mid_message: true,
            stream: Some(StreamLiterals::Any {
                above: self.stream_above,
            }),
            ..FrameOptions::default()
        };
        let (len, next) = match frame_resume(input, Side::Response, &self.config, options, &mut self.progress)
        {
            Ok(Framed::Complete(len)) => (len, State::Between),
            Ok(Framed::Stream {
                data_start, length, ..
            }) => (data_start, State::SkipLiteral { remaining: length }),
            // Skip small literals whole; their data is not kept either.
            Ok(Framed::Literal(a)) => (a.data_start, State::SkipLiteral { remaining: a.length }),
            Ok(Framed::Incomplete) => return Ok(Decoded::Incomplete),
            // Too long a line or literal: keep skipping, in pieces.
            Err(e) => match e.kind {
                ErrorKind::LineTooLong { .. } => (input.len(), State::SkipRest),
                // Over the literal limit but not above the threshold: its
                // header ends the line, then its data is skipped in pieces.
                ErrorKind::LiteralTooLarge { length, .. } => match header_end(input, e.offset) {
                    Some(end) => (end, State::SkipLiteral { remaining: length }),
                    None => return Err(e),
                },
                _ => return Err(e),
            },
        };
        self.state = next;
        // The caller drops these bytes: what was framed of them (a small
        // literal's header, say) no longer points into the input.
        self.progress = Progress::default();
        Ok(Decoded::Complete {
            value: ReadEvent::Skipped(Cow::Borrowed(&input[..len])),
            consumed: len,
        })
    }

    /// A literal over the literal limit that is not streamed (in a response
    /// other than FETCH, or not message data): refused, and the reader
    /// skips its data and the rest of its response, so that the caller
    /// resumes after its header and the stream stays in step.
    fn skip_refused_literal(&mut self, mut e: DecodeError, input: &[u8]) -> DecodeError {
        if let ErrorKind::LiteralTooLarge { length, .. } = e.kind {
            if let Some(end) = header_end(input, e.offset) {
                e.resume_at = Some(end);
                self.state = State::SkipLiteral { remaining: length };
            }
        }
        e
    }

    /// An error in the part of a FETCH response before a streamed literal:
    /// the reader skips the literal and the rest of the response, and the
    /// caller resumes after the head.
    fn skip_after_error(&mut self, e: PError, head: &[u8], length: u64) -> DecodeError {
        self.state = State::SkipLiteral { remaining: length };
        let mut d = e.into_decode_error(head);
        d.resume_at = Some(head.len());
        d
    }
}

/// Where the literal header whose `}` the framer's error points at ends
/// (after its LF).
fn header_end(input: &[u8], close: usize) -> Option<usize> {
    let rest = input.get(close..)?;
    memchr::memchr(b'\n', rest).map(|lf| close + lf + 1)
}

/// Whether the first line of `input` starts like `* n FETCH `.
fn is_fetch_response(input: &[u8]) -> bool {
    let Some(rest) = input.strip_prefix(b"* ") else {
        return false;
    };
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    digits > 0
        && rest
            .get(digits..digits + 7)
            .is_some_and(|w| w.eq_ignore_ascii_case(b" FETCH "))
}

/// `"*" SP nz-number SP "FETCH" SP "("`; with `extra_spaces`, spaces
/// after the `(`, as a response decoded whole takes them.
fn fetch_head<'a>(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, NonZeroU32> {
    let rest = input
        .strip_prefix(b"* ")
        .map_or_else(|| fail(input, "'* '"), |r| Ok((r, ())))?
        .0;
    let (rest, seq) = nz_number(rest)?;
    let (rest, _) = keyword(" FETCH ")(rest)?;
    let (rest, ()) = open_paren(rest, config.leniency.extra_spaces)?;
    Ok((rest, seq))
}

/// What comes before a streamed literal's data.
struct Named<'a> {
    /// The items before the one the literal belongs to.
    items: Vec<MessageDataItem<'a>>,
    /// The name of the item the literal belongs to.
    item: DataItemName<'a>,
    /// The literal is a literal8 (`~{n}`).
    literal8: bool,
}

/// Items up to a streamed literal's header at the end of `head`, then the
/// item name the literal belongs to. `separated`: the first item follows a
/// space (it comes after a previous item).
fn items_then_name<'a>(head: &'a [u8], config: &DecoderConfig, separated: bool) -> Result<Named<'a>, PError> {
    let header = literal_header_start(head);
    let mut items = Vec::new();
    let mut rest = head;
    let mut first = !separated;
    loop {
        if !first {
            rest = separator(rest, config.leniency.extra_spaces)
                .map_err(unwrap_err)?
                .0;
        }
        first = false;
        if let Ok((r, name)) = data_item_name(rest, config) {
            if r.len() == head.len() - header {
                // A literal8 belongs to BINARY alone (RFC 3516), as in a
                // response decoded whole.
                let literal8 = head[header] == b'~';
                if literal8 && !matches!(name, DataItemName::Binary { .. }) {
                    return Err(PError::at(r, "string or NIL"));
                }
                return Ok(Named {
                    items,
                    item: name,
                    literal8,
                });
            }
        }
        if items.len() == config.limits.list {
            return Err(PError::kind(
                rest,
                ErrorKind::TooMany {
                    limit: config.limits.list,
                },
                "')'",
            ));
        }
        let (r, item) = msg_att_item(rest, config).map_err(unwrap_err)?;
        if r.len() < head.len() - header {
            return Err(PError::at(r, "the item that the literal belongs to"));
        }
        items.push(item);
        rest = r;
    }
}

/// The rest of a FETCH response after a streamed literal: ` item...` then
/// `)` CRLF; with `extra_spaces`, spaces around the `)`, as a response
/// decoded whole takes them.
fn items_then_end<'a>(message: &'a [u8], config: &DecoderConfig) -> Result<Vec<MessageDataItem<'a>>, PError> {
    let mut items = Vec::new();
    let mut rest = message;
    loop {
        let trimmed = skip_extra_spaces(rest, config.leniency.extra_spaces);
        if let Some(r) = trimmed.strip_prefix(b")") {
            let r = skip_extra_spaces(r, config.leniency.extra_spaces);
            let (r, ()) = crlf(config.leniency.bare_lf)(r).map_err(unwrap_err)?;
            if !r.is_empty() {
                return Err(PError::at(r, "end of response"));
            }
            return Ok(items);
        }
        if items.len() == config.limits.list {
            return Err(PError::kind(
                rest,
                ErrorKind::TooMany {
                    limit: config.limits.list,
                },
                "')'",
            ));
        }
        rest = separator(rest, config.leniency.extra_spaces)
            .map_err(unwrap_err)?
            .0;
        let (r, item) = msg_att_item(rest, config).map_err(unwrap_err)?;
        items.push(item);
        rest = r;
    }
}

/// Where the literal header (`{n}`, `{n+}` or `~{n}` and CRLF or LF) at the
/// end of `head` starts.
fn literal_header_start(head: &[u8]) -> usize {
    let open = memchr::memrchr(b'{', head).unwrap_or(0);
    if open > 0 && head[open - 1] == b'~' {
        open - 1
    } else {
        open
    }
}

fn unwrap_err(e: nom::Err<PError>) -> PError {
    match e {
        nom::Err::Error(e) | nom::Err::Failure(e) => e,
        nom::Err::Incomplete(_) => PError::at(b"", "more input"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::string::NString;

    /// Feeds `input` to a reader in pieces of `chunk` bytes (as a socket
    /// would deliver them, the unread rest kept in a buffer) and collects
    /// the events, owned, with consecutive data pieces joined.
    fn read_all(input: &[u8], chunk: usize, stream_above: u64) -> Vec<String> {
        let mut reader = ResponseReader::new(DecoderConfig::default(), stream_above);
        let mut buffer: Vec<u8> = Vec::new();
        let mut fed = 0;
        let mut events: Vec<String> = Vec::new();
        let mut data = Vec::new();
        loop {
            match reader.decode(&buffer) {
                Ok(Decoded::Complete { value, consumed }) => {
                    match value {
                        ReadEvent::LiteralData(d) => data.extend_from_slice(&d),
                        other => {
                            if !data.is_empty() {
                                events.push(format!("data {}", String::from_utf8_lossy(&data)));
                                data.clear();
                            }
                            events.push(format!("{other:?}"));
                        }
                    }
                    buffer.drain(..consumed);
                }
                Ok(Decoded::Incomplete | Decoded::LiteralAnnounced(_)) => {
                    if fed == input.len() {
                        break;
                    }
                    let end = (fed + chunk).min(input.len());
                    buffer.extend_from_slice(&input[fed..end]);
                    fed = end;
                }
                Err(e) => {
                    if !data.is_empty() {
                        events.push(format!("data {}", String::from_utf8_lossy(&data)));
                        data.clear();
                    }
                    events.push(format!("error at {}", e.offset));
                    let skip = e.resume_at.expect("resumable");
                    buffer.drain(..skip);
                }
            }
        }
        assert!(buffer.is_empty(), "left over: {buffer:?}");
        events
    }

    #[test]
    fn skipping_a_bad_response_in_pieces_keeps_in_step() {
        // The head before the streamed literal is malformed: the reader
        // skips the literal, then the rest of the response, which holds a
        // small literal. Skipping in pieces must not keep framing the
        // small literal's header once its bytes are dropped (found by
        // fuzzing imap_stream).
        let mut input = b"* 1 FETCH (UID 7 lFLAGS BODY[] {40}\r\n".to_vec();
        input.extend_from_slice(&[b'x'; 40]);
        input.extend_from_slice(b" BODY[1] {5}\r\nabcde BODY[2] {3}\r\nxyz)\r\n* 2 EXISTS\r\n* 3 EXISTS\r\n");
        let skipped_out = |events: Vec<String>| -> Vec<String> {
            events.into_iter().filter(|e| !e.starts_with("Skipped")).collect()
        };
        let whole = skipped_out(read_all(&input, input.len(), 8));
        assert_eq!(
            whole[whole.len() - 2..],
            ["Response(Exists(2))", "Response(Exists(3))"]
        );
        for chunk in 1..input.len() {
            assert_eq!(skipped_out(read_all(&input, chunk, 8)), whole, "chunk {chunk}");
        }
    }

    #[test]
    fn large_literal_streams_in_any_chunking() {
        let body = b"From: a@example.org\r\n\r\nHello, world\r\n";
        let input = [
            &b"* 3 EXISTS\r\n* 1 FETCH (UID 7 FLAGS (\\Seen) BODY[] {"[..],
            body.len().to_string().as_bytes(),
            b"}\r\n",
            body,
            b" BODY[HEADER] {3}\r\nabc)\r\nA1 OK done\r\n",
        ]
        .concat();
        let expected = read_all(&input, input.len(), 16);
        assert_eq!(expected.len(), 5, "{expected:#?}");
        assert!(expected[1].starts_with("LiteralStart { seq: 1, items: [Uid(7), Flags("));
        assert_eq!(expected[2], format!("data {}", String::from_utf8_lossy(body)));
        assert!(
            expected[3].starts_with("FetchEnd { seq: 1, items: [BodySection"),
            "{}",
            expected[3]
        );
        for chunk in 1..input.len() {
            assert_eq!(read_all(&input, chunk, 16), expected, "chunk {chunk}");
        }
        // Below the threshold, the same response comes whole.
        let whole = read_all(&input, 7, 1 << 20);
        assert_eq!(whole.len(), 3);
        assert!(whole[1].starts_with("Response(Fetch"));
    }

    #[test]
    fn several_streamed_literals_in_one_response() {
        let input = b"* 2 FETCH (BODY[1] {10}\r\n0123456789 BINARY[2] ~{12}\r\nabcdefghijkl UID 9)\r\n";
        let events = read_all(input, 5, 8);
        assert_eq!(events.len(), 5, "{events:#?}");
        assert!(events[0].starts_with("LiteralStart { seq: 2, items: [], item: BodySection"));
        assert_eq!(events[1], "data 0123456789");
        assert!(events[2].starts_with("LiteralStart { seq: 2, items: [], item: Binary"));
        assert_eq!(events[3], "data abcdefghijkl");
        assert_eq!(events[4], "FetchEnd { seq: 2, items: [Uid(9)] }");
    }

    #[test]
    fn spaces_the_lenient_decoder_takes_whole_are_taken_streamed() {
        // Spaces after `(` and around `)`, and a bare LF: the lenient
        // decoder takes them in a response read whole, so streaming takes
        // them too (the imap_stream fuzz target found the two refused).
        let input = b"* 3 FETCH (  BODY[1] {10}\r\n0123456789 UID 7 ) \n* 4 EXISTS\r\n";
        let whole = read_all(input, 4, 1 << 20);
        assert_eq!(whole.len(), 2, "{whole:#?}");
        assert!(whole[0].starts_with("Response(Fetch { seq: 3, items: [BodySection"));
        for chunk in 1..input.len() {
            let streamed = read_all(input, chunk, 4);
            assert_eq!(streamed.len(), 4, "{streamed:#?}");
            assert!(streamed[0].starts_with("LiteralStart { seq: 3, items: [], item: BodySection"));
            assert_eq!(streamed[1], "data 0123456789");
            assert_eq!(streamed[2], "FetchEnd { seq: 3, items: [Uid(7)] }");
            assert_eq!(streamed[3], whole[1]);
        }
    }

    #[test]
    fn a_literal8_streams_for_binary_alone() {
        // As read whole: BODY[2] takes a string, not a literal8 (RFC 3516);
        // the imap_stream fuzz target found it taken streamed.
        let input = b"* 2 FETCH (BODY[2] ~{12}\r\nabcdefghijkl UID 9)\r\n* 3 EXISTS\r\n";
        let whole = read_all(input, 5, 1 << 20);
        assert_eq!(whole, ["error at 19", "Response(Exists(3))"]);
        // Streamed, the rest of the response is skipped as it arrives.
        for chunk in 1..input.len() {
            let mut events = read_all(input, chunk, 8);
            events.retain(|e| !e.starts_with("Skipped("));
            assert_eq!(events, ["error at 19", "Response(Exists(3))"], "chunk {chunk}");
        }
    }

    #[test]
    fn a_nul_ends_a_streamed_literal_as_it_ends_a_whole_one() {
        // NUL is not a CHAR8: a `{n}` literal holding one is refused read
        // whole, and streamed after the data before it; a literal8 takes
        // it. The imap_stream fuzz target found it passed streamed.
        let input = b"* 1 FETCH (BODY[] {10}\r\nabc\0efghij UID 4)\r\n* 2 FETCH (BINARY[] ~{3}\r\na\0c)\r\n";
        let whole = read_all(input, 5, 1 << 20);
        assert_eq!(whole.len(), 2, "{whole:#?}");
        assert_eq!(whole[0], "error at 27");
        assert!(
            whole[1].starts_with("Response(Fetch { seq: 2, items: [Binary"),
            "{}",
            whole[1]
        );
        for chunk in 1..input.len() {
            let mut events = read_all(input, chunk, 2);
            events.retain(|e| !e.starts_with("Skipped("));
            assert_eq!(events.len(), 6, "chunk {chunk}: {events:#?}");
            assert!(events[0].starts_with("LiteralStart { seq: 1,"));
            assert_eq!(events[1], "data abc");
            assert!(events[2].starts_with("error at "), "{}", events[2]);
            assert!(events[3].starts_with("LiteralStart { seq: 2,"));
            assert_eq!(events[4], "data a\0c");
            assert_eq!(events[5], "FetchEnd { seq: 2, items: [] }");
        }
    }

    #[test]
    fn a_huge_announcement_allocates_nothing() {
        let mut reader = ResponseReader::new(DecoderConfig::default(), 1024);
        let head = b"* 1 FETCH (BODY[] {4294967295}\r\n";
        let (event, consumed) = reader.decode(head).unwrap().complete().unwrap();
        assert_eq!(consumed, head.len());
        assert!(matches!(
            event,
            ReadEvent::LiteralStart {
                length: 4294967295,
                ..
            }
        ));
        let chunk = [b'x'; 4096];
        let (event, consumed) = reader.decode(&chunk).unwrap().complete().unwrap();
        assert_eq!(
            (event, consumed),
            (ReadEvent::LiteralData(Cow::Borrowed(&chunk[..])), 4096)
        );
        // Other responses keep the literal limit; the refused literal is
        // skipped as it comes.
        let mut reader = ResponseReader::new(DecoderConfig::default(), 1024);
        let list = b"* LIST () \"/\" {4294967295}\r\n";
        let e = reader.decode(list).unwrap_err();
        assert!(matches!(e.kind, ErrorKind::LiteralTooLarge { .. }));
        assert_eq!(e.resume_at, Some(list.len()));
        let (event, consumed) = reader.decode(&chunk).unwrap().complete().unwrap();
        assert_eq!(
            (event, consumed),
            (ReadEvent::Skipped(Cow::Borrowed(&chunk[..])), 4096)
        );
    }

    #[test]
    fn a_malformed_head_is_skipped_with_its_literal() {
        let input = b"* 1 FETCH (UID 0 BODY[] {20}\r\n01234567890123456789 FLAGS ())\r\n* 4 EXISTS\r\n";
        let events = read_all(input, 6, 8);
        assert_eq!(events[0], "error at 15");
        assert!(
            events[1..events.len() - 1]
                .iter()
                .all(|e| e.starts_with("Skipped(")),
            "{events:#?}"
        );
        assert_eq!(events.last().unwrap(), "Response(Exists(4))");
    }

    #[test]
    fn candidates_inside_items_cost_linear_time() {
        // Ten thousand literals above the threshold that end like message
        // data's name but stand inside an extension's list, fed 7 bytes at
        // a time: the first one has the response framed again following
        // its structure, which then decides the others; each byte is
        // searched for LF at most twice and followed once.
        let mut input = b"* 1 FETCH (UID 1 X-EXT (".to_vec();
        for _ in 0..10_000 {
            input.extend_from_slice(b"a] {7}\r\n(\"x\" ]) RFC822 {6}\r\nBODY[] ");
        }
        input.extend_from_slice(b"NIL) BODY[] {9}\r\n123456789)\r\n");
        crate::frame::SCANNED.with(|s| s.set(0));
        crate::frame::FOLLOWED.with(|f| f.set(0));
        let events = read_all(&input, 7, 5);
        assert_eq!(events.len(), 3, "{events:#?}");
        assert!(events[0].starts_with("LiteralStart { seq: 1, items: [Uid(1), Other"));
        assert_eq!(events[1], "data 123456789");
        let scanned = crate::frame::SCANNED.with(|s| s.get());
        let followed = crate::frame::FOLLOWED.with(|f| f.get());
        assert!(scanned <= 2 * input.len(), "{scanned} for {}", input.len());
        assert!(followed <= input.len(), "{followed} for {}", input.len());
    }

    #[test]
    fn nstring_data_item_names_are_kept() {
        let mut reader = ResponseReader::new(DecoderConfig::default(), 2);
        let (event, _) = reader
            .decode(b"* 5 FETCH (RFC822.TEXT {3}\r\n")
            .unwrap()
            .complete()
            .unwrap();
        let ReadEvent::LiteralStart { item, .. } = event else {
            panic!()
        };
        assert_eq!(
            item.with_data(NString(None)),
            MessageDataItem::Rfc822Text(NString(None))
        );
    }
}
