//! ID (RFC 2971): the client and the server tell each other what software
//! they are, as field/value pairs. Adds the `ID` command (valid in every
//! state) and the `* ID` response, both carrying the same list, or NIL.
//!
//! ```text
//! command_any    ::= "CAPABILITY" / "LOGOUT" / "NOOP" / x_command / id
//! id             ::= "ID" SPACE id_params_list
//! id_response    ::= "ID" SPACE id_params_list
//! id_params_list ::= "(" #(string SPACE nstring) ")" / nil
//!     ;; list of field value pairs
//! ```
//!
//! RFC 2971 section 3.3 limits a field name to 30 octets, a value to 1024
//! octets and the list to 30 pairs. The decoder enforces the three limits
//! (a peer that sends more is broken or hostile, and a server logs these
//! values), and [`IdParam::new`] and [`IdParams::new`] refuse values that
//! break them, so what this crate encodes another implementation accepts.

use std::borrow::Cow;

use crate::decode::{DecoderConfig, ErrorKind};
use crate::encode::Encoder;
use crate::parse::{PError, PResult, fail, is_nil, sp, too_many};
use crate::string::{IString, NString, TypeError};

/// The longest field name RFC 2971 allows, in octets.
pub const ID_FIELD_MAX: usize = 30;
/// The longest field value RFC 2971 allows, in octets.
pub const ID_VALUE_MAX: usize = 1024;
/// The most field/value pairs RFC 2971 allows in one list.
pub const ID_PAIRS_MAX: usize = 30;

/// One field/value pair of an ID list: `string SPACE nstring`, such as
/// `"name" "Dovecot"` or `"os" NIL`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdParam<'a> {
    field: IString<'a>,
    value: NString<'a>,
}

impl<'a> IdParam<'a> {
    /// A pair: the field name at most [`ID_FIELD_MAX`] octets, the value
    /// (NIL: "will not say") at most [`ID_VALUE_MAX`].
    pub fn new(field: IString<'a>, value: NString<'a>) -> Result<Self, TypeError> {
        if field.as_bytes().len() > ID_FIELD_MAX {
            return Err(TypeError {
                what: "ID field name",
                problem: "longer than 30 octets",
                byte: None,
                position: Some(ID_FIELD_MAX),
            });
        }
        if value.as_bytes().is_some_and(|v| v.len() > ID_VALUE_MAX) {
            return Err(TypeError {
                what: "ID field value",
                problem: "longer than 1024 octets",
                byte: None,
                position: Some(ID_VALUE_MAX),
            });
        }
        Ok(IdParam { field, value })
    }

    /// A pair from text, each string in its cheapest form.
    pub fn from_text(field: &'a str, value: Option<&'a str>) -> Result<Self, TypeError> {
        let field = IString::from_bytes(Cow::Borrowed(field.as_bytes()))?;
        let value = match value {
            Some(v) => NString(Some(IString::from_bytes(Cow::Borrowed(v.as_bytes()))?)),
            None => NString::NIL,
        };
        IdParam::new(field, value)
    }

    /// The field name (`"name"`, `"version"`, ... compared without regard
    /// to case, RFC 2971 section 3.3).
    pub fn field(&self) -> &IString<'a> {
        &self.field
    }

    /// The value; NIL when the peer will not say.
    pub fn value(&self) -> &NString<'a> {
        &self.value
    }

    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> IdParam<'static> {
        IdParam {
            field: self.field.into_owned(),
            value: self.value.into_owned(),
        }
    }
}

/// The list of an ID command or response: at most [`ID_PAIRS_MAX`]
/// field/value pairs. NIL is `None` where this type is used.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct IdParams<'a>(Vec<IdParam<'a>>);

impl<'a> IdParams<'a> {
    /// A list of at most [`ID_PAIRS_MAX`] pairs (possibly empty: `()`).
    pub fn new(params: Vec<IdParam<'a>>) -> Result<Self, TypeError> {
        if params.len() > ID_PAIRS_MAX {
            return Err(TypeError {
                what: "ID parameter list",
                problem: "more than 30 field/value pairs",
                byte: None,
                position: Some(ID_PAIRS_MAX),
            });
        }
        Ok(IdParams(params))
    }

    /// The pairs, in the order sent.
    pub fn params(&self) -> &[IdParam<'a>] {
        &self.0
    }

    /// The value of the first field named `name` (case-insensitive), if
    /// there is one.
    pub fn get(&self, name: &str) -> Option<&NString<'a>> {
        self.0
            .iter()
            .find(|p| p.field.as_bytes().eq_ignore_ascii_case(name.as_bytes()))
            .map(|p| &p.value)
    }

    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> IdParams<'static> {
        IdParams(self.0.into_iter().map(IdParam::into_owned).collect())
    }
}

/// `id_params_list ::= "(" #(string SPACE nstring) ")" / nil`, with the
/// limits of RFC 2971 section 3.3. The pair count is checked against the
/// RFC's 30 and `limits.list`, whichever is lower, before a pair is
/// stored.
pub(crate) fn parse_id_params<'a>(
    input: &'a [u8],
    config: &DecoderConfig,
) -> PResult<'a, Option<IdParams<'a>>> {
    if is_nil(input) {
        return Ok((&input[3..], None));
    }
    let Some(mut rest) = input.strip_prefix(b"(") else {
        return fail(input, "'(' or NIL");
    };
    let max = ID_PAIRS_MAX.min(config.limits.list);
    let mut params = Vec::new();
    if let Some(r) = rest.strip_prefix(b")") {
        return Ok((r, Some(IdParams(params))));
    }
    loop {
        if params.len() == max {
            return too_many(rest, max, "')'");
        }
        let field_at = rest;
        let (r, field) = IString::parse(rest, &config.leniency)
            .map_err(|_| nom::Err::Error(PError::at(field_at, "field name string")))?;
        if field.as_bytes().len() > ID_FIELD_MAX {
            return Err(nom::Err::Error(PError::kind(
                field_at,
                ErrorKind::Syntax,
                "field name of at most 30 octets",
            )));
        }
        let (r, _) = sp(r)?;
        let value_at = r;
        let (r, value) = NString::parse(r, &config.leniency)?;
        if value.as_bytes().is_some_and(|v| v.len() > ID_VALUE_MAX) {
            return Err(nom::Err::Error(PError::kind(
                value_at,
                ErrorKind::Syntax,
                "value of at most 1024 octets",
            )));
        }
        params.push(IdParam { field, value });
        if let Some(r) = r.strip_prefix(b")") {
            return Ok((r, Some(IdParams(params))));
        }
        let (r, _) = sp(r).map_err(|_| nom::Err::Error(PError::at(r, "space or ')'")))?;
        rest = r;
    }
}

/// Writes ` id_params_list` (with the leading space).
pub(crate) fn encode_id_params<'e>(params: &'e Option<IdParams<'e>>, e: &mut Encoder<'e>) {
    e.put(b" ");
    let Some(params) = params else {
        e.put(b"NIL");
        return;
    };
    e.put(b"(");
    for (i, p) in params.0.iter().enumerate() {
        if i > 0 {
            e.put(b" ");
        }
        p.field.encode(e);
        e.put(b" ");
        p.value.encode(e);
    }
    e.put(b")");
}

/// `id ::= "ID" SPACE id_params_list` (command) and `id_response ::= "ID"
/// SPACE id_params_list` (response), after the name.
pub(crate) fn parse_id<'a>(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, Option<IdParams<'a>>> {
    let (rest, _) = sp(input)?;
    parse_id_params(rest, config)
}

/// Converts an optional list to one that owns its data.
pub(crate) fn owned(params: Option<IdParams<'_>>) -> Option<IdParams<'static>> {
    params.map(IdParams::into_owned)
}
