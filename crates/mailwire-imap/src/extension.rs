//! The home of [`TaggedExt`] and what goes with it; the explanation of this
//! part of the grammar is on that type, where the rendered documentation
//! shows it.

use crate::decode::{DecoderConfig, ErrorKind};
use crate::encode::Encoder;
use crate::parse::{PError, PResult, fail, number64, too_many};
use crate::sequence::{SeqNumber, SequenceSet};
use crate::string::{AString, Atom};

/// `tagged-label-fchar = ALPHA / "-" / "_" / "."`
fn is_label_first(b: u8) -> bool {
    b.is_ascii_alphabetic() || matches!(b, b'-' | b'_' | b'.')
}

/// `tagged-label-char = tagged-label-fchar / DIGIT / ":"`
fn is_label_char(b: u8) -> bool {
    is_label_first(b) || b.is_ascii_digit() || b == b':'
}

/// `tagged-ext-label = tagged-label-fchar *tagged-label-char`, a valid
/// atom. A `-` and a digit start RFC 9394's `partial-range-last` value,
/// never a label: read as a label, `X -1:-30` would mean two labels or a
/// label and its value depending on the spaces around it.
pub(crate) fn tagged_ext_label(input: &[u8]) -> PResult<'_, Atom<'_>> {
    if !input.first().is_some_and(|&b| is_label_first(b)) || matches!(input, [b'-', b'0'..=b'9', ..]) {
        return fail(input, "extension label");
    }
    let n = input.iter().take_while(|&&b| is_label_char(b)).count();
    // Label characters are ASCII atom characters.
    let text = std::str::from_utf8(&input[..n]).unwrap_or_default();
    match Atom::new(text) {
        Ok(a) => Ok((&input[n..], a)),
        Err(_) => fail(input, "extension label"),
    }
}

/// One element of `tagged-ext-comp` (RFC 4466) or `option-val-comp` (RFC
/// 5258): `astring / tagged-ext-comp *(SP tagged-ext-comp) / "("
/// tagged-ext-comp ")"`. A component is a space-separated sequence of
/// these elements.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ExtComponent<'a> {
    /// An astring (atom, quoted string or literal); `NIL` is the atom
    /// `NIL`.
    String(AString<'a>),
    /// A parenthesised component. The grammar wants it non-empty; `()` is
    /// accepted and kept as an empty list.
    List(Vec<ExtComponent<'a>>),
}

impl ExtComponent<'_> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> ExtComponent<'static> {
        match self {
            ExtComponent::String(s) => ExtComponent::String(s.into_owned()),
            ExtComponent::List(l) => ExtComponent::List(owned_components(l)),
        }
    }
}

pub(crate) fn owned_components(list: Vec<ExtComponent<'_>>) -> Vec<ExtComponent<'static>> {
    list.into_iter().map(ExtComponent::into_owned).collect()
}

/// Writes components separated by spaces, lists in parentheses.
pub(crate) fn encode_components<'e>(items: &'e [ExtComponent<'e>], e: &mut Encoder<'e>) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            e.put(b" ");
        }
        match item {
            ExtComponent::String(s) => s.encode(e),
            ExtComponent::List(l) => {
                e.put(b"(");
                encode_components(l, e);
                e.put(b")");
            }
        }
    }
}

/// Writes `"(" components ")"`.
pub(crate) fn encode_component_list<'e>(items: &'e [ExtComponent<'e>], e: &mut Encoder<'e>) {
    e.put(b"(");
    encode_components(items, e);
    e.put(b")");
}

/// Bounds on one nested value: depth and total element count.
pub(crate) struct Budget {
    depth: usize,
    max_depth: usize,
    count: usize,
    max_count: usize,
}

impl Budget {
    pub(crate) fn new(config: &DecoderConfig) -> Self {
        Budget {
            depth: 0,
            max_depth: config.limits.depth,
            count: 0,
            max_count: config.limits.list,
        }
    }

    /// Counts one more element at `at`.
    pub(crate) fn count(&mut self, at: &[u8], expected: &'static str) -> Result<(), nom::Err<PError>> {
        if self.count >= self.max_count {
            return too_many(at, self.max_count, expected);
        }
        self.count += 1;
        Ok(())
    }

    /// Enters one level of nesting at `at`.
    pub(crate) fn enter(&mut self, at: &[u8]) -> Result<(), nom::Err<PError>> {
        if self.depth >= self.max_depth {
            return Err(nom::Err::Error(PError::kind(
                at,
                ErrorKind::TooDeep {
                    limit: self.max_depth,
                },
                "less nesting",
            )));
        }
        self.depth += 1;
        Ok(())
    }

    pub(crate) fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }
}

/// `"(" [tagged-ext-comp] ")"`: the elements between the parentheses,
/// `lenient` accepting extra spaces. Recursion is bounded by the budget's
/// depth.
pub(crate) fn component_list<'a>(
    input: &'a [u8],
    config: &DecoderConfig,
    budget: &mut Budget,
) -> PResult<'a, Vec<ExtComponent<'a>>> {
    let Some(mut rest) = input.strip_prefix(b"(") else {
        return fail(input, "'('");
    };
    budget.enter(input)?;
    let lenient = config.leniency.extra_spaces;
    let skip = |i: &'a [u8]| crate::parse::skip_extra_spaces(i, lenient);
    let mut items = Vec::new();
    rest = skip(rest);
    loop {
        if let Some(r) = rest.strip_prefix(b")") {
            budget.leave();
            return Ok((r, items));
        }
        if !items.is_empty() {
            match rest.strip_prefix(b" ") {
                Some(r) => rest = skip(r),
                None => return fail(rest, "space or ')'"),
            }
            if lenient {
                if let Some(r) = rest.strip_prefix(b")") {
                    budget.leave();
                    return Ok((r, items));
                }
            }
        }
        budget.count(rest, "')'")?;
        let (r, item) = if rest.first() == Some(&b'(') {
            let (r, l) = component_list(rest, config, budget)?;
            (r, ExtComponent::List(l))
        } else {
            let (r, s) = AString::parse(rest, &config.leniency)
                .map_err(|_| nom::Err::Error(PError::at(rest, "astring or '('")))?;
            (r, ExtComponent::String(s))
        };
        items.push(item);
        rest = r;
    }
}

/// `tagged-ext-val = tagged-ext-simple / "(" [tagged-ext-comp] ")"`,
/// `tagged-ext-simple = sequence-set / number / number64 /
/// partial-range-last` (the last from RFC 9394).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TaggedExtVal<'a> {
    /// A `number` or `number64` (a single number is always decoded as
    /// this, never as a one-element sequence set).
    Number(u64),
    /// A `sequence-set` other than a single number (`1:5`, `3,7`, `*`,
    /// `$`; `4:4` is the number 4).
    Sequence(SequenceSet),
    /// `"(" [tagged-ext-comp] ")"`: the components between the
    /// parentheses.
    List(Vec<ExtComponent<'a>>),
    /// `partial-range-last` (RFC 9394): `-1:-30`, counted from the last
    /// match. Decoded ranges always count from the last; one counted from
    /// the first is written `1:30`, which decodes as a
    /// [`TaggedExtVal::Sequence`].
    PartialLast(crate::context::PartialRange),
    /// An astring where the grammar wants one of the above. Not in RFC
    /// 4466, but sent by the example of RFC 9051 section 7.3.1
    /// (`Sample "text"`) and by extensions with NIL values
    /// (`APPENDLIMIT NIL`, RFC 7889); accepted only where the value cannot
    /// be confused with the next label (LIST extended data, STATUS values,
    /// ESEARCH data).
    String(AString<'a>),
}

impl TaggedExtVal<'_> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> TaggedExtVal<'static> {
        match self {
            TaggedExtVal::Number(n) => TaggedExtVal::Number(n),
            TaggedExtVal::Sequence(s) => TaggedExtVal::Sequence(s),
            TaggedExtVal::List(l) => TaggedExtVal::List(owned_components(l)),
            TaggedExtVal::PartialLast(r) => TaggedExtVal::PartialLast(r),
            TaggedExtVal::String(s) => TaggedExtVal::String(s.into_owned()),
        }
    }

    /// `tagged-ext-val`; with `string`, an astring is accepted where the
    /// other forms fail (see [`TaggedExtVal::String`]).
    pub(crate) fn parse<'a>(
        input: &'a [u8],
        config: &DecoderConfig,
        string: bool,
    ) -> PResult<'a, TaggedExtVal<'a>> {
        if input.first() == Some(&b'(') {
            let mut budget = Budget::new(config);
            let (rest, list) = component_list(input, config, &mut budget)?;
            return Ok((rest, TaggedExtVal::List(list)));
        }
        let ends = |r: &[u8]| matches!(r.first(), None | Some(b' ' | b')' | b'\r' | b'\n'));
        if input.first() == Some(&b'-') {
            return match crate::context::PartialRange::parse(input) {
                Ok((rest, range)) if ends(rest) => Ok((rest, TaggedExtVal::PartialLast(range))),
                _ => fail(input, "partial range (-n:-m)"),
            };
        }
        if let Ok((rest, n)) = number64(input) {
            if ends(rest) {
                return Ok((rest, TaggedExtVal::Number(n)));
            }
        }
        let simple = SequenceSet::parse(input, config.limits.list);
        match simple {
            Ok((rest, set)) if ends(rest) => {
                // `4:4` is the set {4}, which is written `4`: a number, as
                // the decoder reads it back.
                if let [r] = set.ranges() {
                    if let (SeqNumber::Value(a), SeqNumber::Value(b)) = (r.start(), r.end()) {
                        if a == b {
                            return Ok((rest, TaggedExtVal::Number(u64::from(a.get()))));
                        }
                    }
                }
                Ok((rest, TaggedExtVal::Sequence(set)))
            }
            // A set longer than the list limit is refused as such, not
            // read as an astring: with a higher limit the same bytes are
            // a sequence set, and a value must not change with the limits.
            Err(nom::Err::Error(e)) if matches!(e.kind, ErrorKind::TooMany { .. }) => Err(nom::Err::Error(e)),
            _ if string => match AString::parse(input, &config.leniency) {
                Ok((rest, s)) => Ok((rest, TaggedExtVal::String(s))),
                Err(_) => fail(input, "extension value"),
            },
            Err(nom::Err::Error(e)) if e.kind != ErrorKind::Syntax => Err(nom::Err::Error(e)),
            _ => fail(input, "number, sequence set or '('"),
        }
    }

    pub(crate) fn encode<'e>(&'e self, e: &mut Encoder<'e>) {
        match self {
            TaggedExtVal::Number(n) => e.number(*n),
            TaggedExtVal::Sequence(s) => s.encode(e.line()),
            TaggedExtVal::List(l) => encode_component_list(l, e),
            TaggedExtVal::PartialLast(r) => r.encode(e),
            TaggedExtVal::String(s) => s.encode(e),
        }
    }
}

/// Whether a `tagged-ext-val` may start at `input`: a number, `*`, `$`,
/// `(`, or `-` and a digit (RFC 9394's `partial-range-last`). A label
/// never starts with the first four, which is what tells a value from the
/// next label in `label [SP value]` lists; a label may start with `-`, but
/// since RFC 9394 one followed by a digit is read as a range.
pub(crate) fn starts_value(input: &[u8]) -> bool {
    matches!(
        input,
        [b'0'..=b'9' | b'*' | b'$' | b'(', ..] | [b'-', b'0'..=b'9', ..]
    )
}

/// A generic parameter: `tagged-ext-label [SP tagged-ext-val]`, the shape
/// of `select-param`, `create-param`, `rename-param` and
/// `search-ret-opt-ext` (RFC 4466).
///
/// The generic extension syntax of RFC 4466 (section 3, folded into RFC
/// 9051 section 9), which later extensions fill in: `tagged-ext-label`,
/// `tagged-ext-val` with its nested `tagged-ext-comp`, and the
/// `label [SP value]` pair that SELECT/EXAMINE, CREATE and RENAME
/// parameters and SEARCH return options share. RFC 5258's
/// `option-val-comp` has the same shape as `tagged-ext-comp` and uses
/// [`ExtComponent`] too.
///
/// Values a later extension will give a type to (CONDSTORE, QRESYNC,
/// PARTIAL...) are kept here as sent, so a proxy passes them through and a
/// decoder never refuses a well-formed extension it does not know.
///
/// Nesting is bounded by `limits.depth` and the number of components of
/// one value by `limits.list`, both checked before anything is allocated.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TaggedExt<'a> {
    /// The label, as sent.
    pub name: Atom<'a>,
    /// The value, if any.
    pub value: Option<TaggedExtVal<'a>>,
}

impl TaggedExt<'_> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> TaggedExt<'static> {
        TaggedExt {
            name: self.name.into_owned(),
            value: self.value.map(TaggedExtVal::into_owned),
        }
    }

    /// `tagged-ext-label [SP tagged-ext-val]`.
    pub(crate) fn parse<'a>(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, TaggedExt<'a>> {
        let (rest, name) = tagged_ext_label(input)?;
        Self::parse_value(rest, name, config)
    }

    /// The optional ` value` after a label that was already read.
    pub(crate) fn parse_value<'a>(
        rest: &'a [u8],
        name: Atom<'a>,
        config: &DecoderConfig,
    ) -> PResult<'a, TaggedExt<'a>> {
        let value_at = rest
            .strip_prefix(b" ")
            .map(|v| crate::parse::skip_extra_spaces(v, config.leniency.extra_spaces));
        match value_at {
            Some(v) if starts_value(v) => {
                let (rest, value) = TaggedExtVal::parse(v, config, false)?;
                Ok((
                    rest,
                    TaggedExt {
                        name,
                        value: Some(value),
                    },
                ))
            }
            _ => Ok((rest, TaggedExt { name, value: None })),
        }
    }

    pub(crate) fn encode<'e>(&'e self, e: &mut Encoder<'e>) {
        e.put(self.name.as_str().as_bytes());
        if let Some(v) = &self.value {
            e.put(b" ");
            v.encode(e);
        }
    }
}

/// `SP "(" item *(SP item) ")"` as used by `select-params`,
/// `create-params` and `rename-params`: at least one item, at most
/// `limits.list`. Empty when the input does not start with ` (`.
pub(crate) fn params<'a, T>(
    input: &'a [u8],
    config: &DecoderConfig,
    item: impl FnMut(&'a [u8]) -> PResult<'a, T>,
) -> PResult<'a, Vec<T>> {
    let Some(list) = input.strip_prefix(b" ").filter(|r| r.first() == Some(&b'(')) else {
        return Ok((input, Vec::new()));
    };
    let (rest, items) =
        crate::parse::paren_list(config.limits.list, config.leniency.extra_spaces, item)(list)?;
    if items.is_empty() {
        return fail(&list[1..], "parameter");
    }
    Ok((rest, items))
}

/// Writes ` (item item...)`, nothing for an empty list.
pub(crate) fn encode_params<'e, T>(items: &'e [T], e: &mut Encoder<'e>, f: impl Fn(&'e T, &mut Encoder<'e>)) {
    if items.is_empty() {
        return;
    }
    e.put(b" (");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            e.put(b" ");
        }
        f(item, e);
    }
    e.put(b")");
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::encode::encoded;

    #[test]
    fn labels() {
        assert_eq!(tagged_ext_label(b"CONDSTORE)").unwrap().1.as_str(), "CONDSTORE");
        assert_eq!(tagged_ext_label(b"x-a.b:1 ").unwrap().1.as_str(), "x-a.b:1");
        assert!(tagged_ext_label(b"1abc").is_err());
        // RFC 9394's partial-range-last is a value, never a label.
        assert!(tagged_ext_label(b"-1:-30").is_err());
        assert_eq!(tagged_ext_label(b"-x1 ").unwrap().1.as_str(), "-x1");
        assert!(tagged_ext_label(b":abc").is_err());
    }

    #[test]
    fn values() {
        let c = DecoderConfig::STRICT;
        let v = |i: &'static [u8]| TaggedExtVal::parse(i, &c, false).unwrap();
        assert_eq!(v(b"917162488 x"), (&b" x"[..], TaggedExtVal::Number(917162488)));
        assert_eq!(v(b"0)"), (&b")"[..], TaggedExtVal::Number(0)));
        assert!(matches!(v(b"1:5,7").1, TaggedExtVal::Sequence(_)));
        assert!(matches!(v(b"$").1, TaggedExtVal::Sequence(_)));
        // A set of one number is that number, both ways (found by fuzzing).
        assert_eq!(v(b"4:4 x"), (&b" x"[..], TaggedExtVal::Number(4)));
        let (rest, list) = v(br#"(("edge" "lacy") ("color" "red")) x"#);
        assert_eq!(rest, b" x");
        let TaggedExtVal::List(items) = &list else {
            panic!()
        };
        assert_eq!(items.len(), 2);
        assert_eq!(
            encoded(|e| list.encode(e)),
            br#"(("edge" "lacy") ("color" "red"))"#
        );
        assert!(TaggedExtVal::parse(b"\"text\"", &c, false).is_err());
        let (_, s) = TaggedExtVal::parse(b"\"text\"", &c, true).unwrap();
        assert!(matches!(s, TaggedExtVal::String(_)));
        let (_, s) = TaggedExtVal::parse(b"NIL)", &c, true).unwrap();
        assert_eq!(encoded(|e| s.encode(e)), b"NIL");
        // A number too large for number64 is not a value, but an atom.
        assert!(TaggedExtVal::parse(b"99999999999999999999", &c, false).is_err());
        // RFC 9394's partial-range-last, and what is not one.
        let (rest, p) = v(b"-1:-30)");
        assert_eq!(rest, b")");
        assert!(matches!(p, TaggedExtVal::PartialLast(r) if r.is_from_last() && r.end().get() == 30));
        assert_eq!(encoded(|e| p.encode(e)), b"-1:-30");
        for bad in [&b"-1:30"[..], b"-0:-3", b"-1:-3x", b"-"] {
            assert!(TaggedExtVal::parse(bad, &c, false).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn nesting_and_counts_are_bounded() {
        let mut c = DecoderConfig::STRICT;
        c.limits.depth = 3;
        let (rest, value) = TaggedExtVal::parse(b"(((a)))", &c, false).unwrap();
        assert!(rest.is_empty(), "{rest:?}");
        let mut e = Encoder::new(crate::encode::LiteralPolicy::SyncOnly);
        value.encode(&mut e);
        assert_eq!(e.finish_bytes(), b"(((a)))\r\n");
        let Err(nom::Err::Error(e)) = TaggedExtVal::parse(b"((((a))))", &c, false) else {
            panic!()
        };
        assert_eq!(e.kind, ErrorKind::TooDeep { limit: 3 });
        assert_eq!(e.into_decode_error(b"((((a))))").offset, 3);
        let deep = vec![b'('; 100_000];
        let Err(nom::Err::Error(e)) = TaggedExtVal::parse(&deep, &DecoderConfig::STRICT, false) else {
            panic!()
        };
        assert_eq!(e.kind, ErrorKind::TooDeep { limit: 64 });
        c.limits.list = 2;
        let Err(nom::Err::Error(e)) = TaggedExtVal::parse(b"(a b c)", &c, false) else {
            panic!()
        };
        assert_eq!(e.kind, ErrorKind::TooMany { limit: 2 });
        // A sequence set over the limit is refused, also where an astring
        // is allowed: read as an atom, it would turn into a set under a
        // higher limit (found by fuzzing).
        for string in [false, true] {
            let Err(nom::Err::Error(e)) = TaggedExtVal::parse(b"1:3,5,7 x", &c, string) else {
                panic!()
            };
            assert_eq!(e.kind, ErrorKind::TooMany { limit: 2 });
        }
        let (_, v) = TaggedExtVal::parse(b"1:3,5 x", &c, true).unwrap();
        assert!(matches!(v, TaggedExtVal::Sequence(_)));
    }

    #[test]
    fn parameters() {
        let c = DecoderConfig::STRICT;
        let (rest, p) = params(b" (CONDSTORE QRESYNC (1 2:3) X 5)", &c, |i| {
            TaggedExt::parse(i, &c)
        })
        .unwrap();
        assert!(rest.is_empty());
        assert_eq!(p.len(), 3);
        assert_eq!(p[0].value, None);
        assert!(matches!(p[1].value, Some(TaggedExtVal::List(_))));
        assert_eq!(p[2].value, Some(TaggedExtVal::Number(5)));
        assert!(params(b" ()", &c, |i| TaggedExt::parse(i, &c)).is_err());
        // A value counted from the last match (RFC 9394), not a label.
        let (_, q) = params(b" (X-PAGE -1:-30 -LABEL)", &c, |i| TaggedExt::parse(i, &c)).unwrap();
        assert!(matches!(q[0].value, Some(TaggedExtVal::PartialLast(_))));
        assert_eq!((q.len(), q[1].name.as_str()), (2, "-LABEL"));
        // Where extra spaces are allowed, they do not split a label from
        // its value (found by fuzzing: the value became a label, which
        // re-encoded as the label's value).
        let lenient = DecoderConfig::default();
        let (_, q) = params(b" (X-PAGE  -1:-30 Y  5)", &lenient, |i| {
            TaggedExt::parse(i, &lenient)
        })
        .unwrap();
        assert_eq!(q.len(), 2);
        assert!(matches!(q[0].value, Some(TaggedExtVal::PartialLast(_))));
        assert_eq!(q[1].value, Some(TaggedExtVal::Number(5)));
        assert!(params(b" (X-PAGE  -1:-30)", &c, |i| TaggedExt::parse(i, &c)).is_err());
        assert_eq!(
            params(b"\r\n", &c, |i| TaggedExt::parse(i, &c)).unwrap().1.len(),
            0
        );
        assert_eq!(
            encoded(|e| encode_params(&p, e, |p, e| p.encode(e))),
            b" (CONDSTORE QRESYNC (1 2:3) X 5)"
        );
    }
}
