//! The home of [`NamespaceResponse`] and what goes with it; the explanation of this
//! part of the grammar is on that type, where the rendered documentation
//! shows it.

use crate::decode::DecoderConfig;
use crate::encode::Encoder;
use crate::list::{encode_delimiter, parse_delimiter, separator};
use crate::parse::{PResult, byte, expect, fail, paren_list, sp, too_many};
use crate::string::IString;

/// `namespace-response-extension = SP string SP "(" string *(SP string)
/// ")"`: extension data of a namespace, as sent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NamespaceExtension<'a> {
    /// The extension name.
    pub name: IString<'a>,
    /// Its values (one or more when decoded).
    pub values: Vec<IString<'a>>,
}

impl NamespaceExtension<'_> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> NamespaceExtension<'static> {
        NamespaceExtension {
            name: self.name.into_owned(),
            values: self.values.into_iter().map(IString::into_owned).collect(),
        }
    }
}

/// One namespace: `namespace-descr`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NamespaceDescription<'a> {
    /// The prefix of the mailbox names in this namespace (modified UTF-7
    /// in IMAP4rev1, like mailbox names).
    pub prefix: IString<'a>,
    /// The hierarchy delimiter, `None` (NIL) for a flat name space.
    pub delimiter: Option<char>,
    /// Extension data.
    pub extensions: Vec<NamespaceExtension<'a>>,
}

impl<'a> NamespaceDescription<'a> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> NamespaceDescription<'static> {
        NamespaceDescription {
            prefix: self.prefix.into_owned(),
            delimiter: self.delimiter,
            extensions: self
                .extensions
                .into_iter()
                .map(NamespaceExtension::into_owned)
                .collect(),
        }
    }

    /// `namespace-descr`.
    fn parse(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, Self> {
        let leniency = &config.leniency;
        let (rest, _) = byte(b'(', "'('")(input)?;
        let (rest, prefix) = expect("namespace prefix", |i| IString::parse(i, leniency))(rest)?;
        let (rest, _) = sp(rest)?;
        let (mut rest, delimiter) = parse_delimiter(rest)?;
        let mut extensions = Vec::new();
        while let Some(r) = rest.strip_prefix(b" ") {
            if extensions.len() == config.limits.list {
                return too_many(r, config.limits.list, "')'");
            }
            let (r, name) = expect("extension name", |i| IString::parse(i, leniency))(r)?;
            let (r, _) = sp(r)?;
            let at = r;
            let (r, values) = paren_list(config.limits.list, leniency.extra_spaces, |i| {
                IString::parse(i, leniency)
            })(r)?;
            if values.is_empty() {
                return fail(&at[1..], "string");
            }
            extensions.push(NamespaceExtension { name, values });
            rest = r;
        }
        let (rest, _) = byte(b')', "')'")(rest)?;
        Ok((
            rest,
            NamespaceDescription {
                prefix,
                delimiter,
                extensions,
            },
        ))
    }

    fn encode<'e>(&'e self, e: &mut Encoder<'e>) {
        e.put(b"(");
        self.prefix.encode(e);
        e.put(b" ");
        encode_delimiter(self.delimiter, e.line());
        for x in &self.extensions {
            e.put(b" ");
            x.name.encode(e);
            e.put(b" (");
            for (i, v) in x.values.iter().enumerate() {
                if i > 0 {
                    e.put(b" ");
                }
                v.encode(e);
            }
            e.put(b")");
        }
        e.put(b")");
    }
}

/// `namespace = nil / "(" 1*namespace-descr ")"`; NIL is an empty list.
/// With `extra_spaces`, spaces between descriptions are accepted.
fn namespace<'a>(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, Vec<NamespaceDescription<'a>>> {
    if crate::parse::is_nil(input) {
        return Ok((&input[3..], Vec::new()));
    }
    let (mut rest, _) = byte(b'(', "'(' or NIL")(input)?;
    let mut list = Vec::new();
    loop {
        rest = crate::parse::skip_extra_spaces(rest, config.leniency.extra_spaces);
        if !list.is_empty() {
            if let Some(r) = rest.strip_prefix(b")") {
                return Ok((r, list));
            }
        }
        if list.len() == config.limits.list {
            return too_many(rest, config.limits.list, "')'");
        }
        let (r, d) = NamespaceDescription::parse(rest, config)?;
        list.push(d);
        rest = r;
    }
}

fn encode_namespace<'e>(list: &'e [NamespaceDescription<'e>], e: &mut Encoder<'e>) {
    if list.is_empty() {
        e.put(b"NIL");
        return;
    }
    e.put(b"(");
    for d in list {
        d.encode(e);
    }
    e.put(b")");
}

/// The NAMESPACE response. An empty list is sent as NIL (no namespace of
/// that kind).
///
/// The NAMESPACE response (RFC 2342, RFC 9051 sections 6.3.10 and 7.3.2):
/// the personal, other users' and shared namespaces, each NIL or a list of
/// prefixes with their hierarchy delimiters and extension data.
///
/// ```text
/// namespace-response = "NAMESPACE" SP namespace SP namespace SP namespace
/// namespace          = nil / "(" 1*namespace-descr ")"
/// namespace-descr    = "(" string SP (DQUOTE QUOTED-CHAR DQUOTE / nil)
///                      [namespace-response-extensions] ")"
/// namespace-response-extensions = *namespace-response-extension
/// namespace-response-extension  = SP string SP "(" string *(SP string) ")"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct NamespaceResponse<'a> {
    /// The personal namespaces.
    pub personal: Vec<NamespaceDescription<'a>>,
    /// The other users' namespaces.
    pub other_users: Vec<NamespaceDescription<'a>>,
    /// The shared namespaces.
    pub shared: Vec<NamespaceDescription<'a>>,
}

impl<'a> NamespaceResponse<'a> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> NamespaceResponse<'static> {
        let own = |l: Vec<NamespaceDescription<'_>>| {
            l.into_iter()
                .map(NamespaceDescription::into_owned)
                .collect::<Vec<_>>()
        };
        NamespaceResponse {
            personal: own(self.personal),
            other_users: own(self.other_users),
            shared: own(self.shared),
        }
    }

    /// The data after `NAMESPACE`, from the space that follows it.
    pub(crate) fn parse(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, Self> {
        let (rest, ()) = separator(input, config)?;
        let (rest, personal) = namespace(rest, config)?;
        let (rest, ()) = separator(rest, config)?;
        let (rest, other_users) = namespace(rest, config)?;
        let (rest, ()) = separator(rest, config)?;
        let (rest, shared) = namespace(rest, config)?;
        Ok((
            rest,
            NamespaceResponse {
                personal,
                other_users,
                shared,
            },
        ))
    }

    /// Writes the data, from the space after `NAMESPACE`.
    pub(crate) fn encode<'e>(&'e self, e: &mut Encoder<'e>) {
        e.put(b" ");
        encode_namespace(&self.personal, e);
        e.put(b" ");
        encode_namespace(&self.other_users, e);
        e.put(b" ");
        encode_namespace(&self.shared, e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::{LiteralPolicy, to_bytes};

    fn round_trip(input: &[u8]) -> NamespaceResponse<'_> {
        let (rest, n) = NamespaceResponse::parse(input, &DecoderConfig::STRICT).unwrap();
        assert!(rest.is_empty());
        let mut e = Encoder::new(LiteralPolicy::SyncOnly);
        n.encode(&mut e);
        let out = to_bytes(&e.finish());
        assert_eq!(&out[..out.len() - 2], input);
        n
    }

    #[test]
    fn namespaces() {
        let n = round_trip(b" ((\"\" \"/\")) NIL NIL");
        assert_eq!(n.personal.len(), 1);
        assert!(n.other_users.is_empty() && n.shared.is_empty());
        let n = round_trip(b" ((\"\" \"/\")(\"#mh/\" \"/\" \"X-PARAM\" (\"FLAG1\" \"FLAG2\"))) NIL NIL");
        assert_eq!(n.personal[1].extensions[0].values.len(), 2);
        round_trip(b" NIL NIL ((\"\" NIL))");
        assert_eq!(n.clone().into_owned(), n);
        let c = DecoderConfig::STRICT;
        for bad in [
            &b" () NIL NIL"[..],
            b" ((\"\" \"/\") (\"x\" \"/\")) NIL NIL",
            b" ((\"\" \"/\" \"X\" ())) NIL NIL",
            b" ((\"\" \"/\")) NIL",
            b" ((x \"/\")) NIL NIL",
        ] {
            assert!(
                NamespaceResponse::parse(bad, &c).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let lenient = DecoderConfig::default();
        let (rest, read) =
            NamespaceResponse::parse(b" ((\"\" \"/\") (\"x\" \"/\")) NIL  NIL", &lenient).unwrap();
        // RFC 2342 puts no space between the descriptors, nor two before NIL.
        let (_, strict) = NamespaceResponse::parse(b" ((\"\" \"/\")(\"x\" \"/\")) NIL NIL", &c).unwrap();
        assert!(rest.is_empty());
        assert_eq!(read, strict);
    }
}
