//! The home of [`FetchModifier`] and what goes with it; the explanation of this
//! part of the grammar is on that type, where the rendered documentation
//! shows it.

use crate::condstore::{ModSeq, mod_sequence_value};
use crate::context::PartialRange;
use crate::decode::DecoderConfig;
use crate::encode::Encoder;
use crate::extension::{TaggedExt, tagged_ext_label};
use crate::parse::{PResult, byte, expect, fail, sp, too_many};

/// A FETCH modifier: `fetch-modifier = fetch-modifier-name [ SP
/// fetch-modif-params ]`.
///
/// FETCH modifiers (RFC 4466 section 2.4) and the generic extension values
/// of RFC 4466 section 2.1 they carry.
///
/// ```text
/// fetch-modifiers     = SP "(" fetch-modifier *(SP fetch-modifier) ")"
/// fetch-modifier      = fetch-modifier-name [ SP fetch-modif-params ]
/// fetch-modif-params  = tagged-ext-val
/// fetch-modifier-name = tagged-ext-label
/// tagged-ext-label    = tagged-label-fchar *tagged-label-char
/// tagged-label-fchar  = ALPHA / "-" / "_" / "."
/// tagged-label-char   = tagged-label-fchar / DIGIT / ":"
/// tagged-ext-val      = tagged-ext-simple / "(" [tagged-ext-comp] ")"
/// tagged-ext-simple   = sequence-set / number
/// tagged-ext-comp     = astring / tagged-ext-comp *(SP tagged-ext-comp) /
///                       "(" tagged-ext-comp ")"
/// ```
///
/// RFC 4466 defines no modifier itself; extensions add variants to
/// [`FetchModifier`]: CONDSTORE's `CHANGEDSINCE` and QRESYNC's `VANISHED`
/// (RFC 7162), and PARTIAL (RFC 9394), whose `-1:-30` is no generic value:
/// read as one, it would become a second label.
///
/// ```text
/// fetch-modifier      =/ chgsince-fetch-mod / rexpunges-fetch-mod /
///                        modifier-partial
/// chgsince-fetch-mod  = "CHANGEDSINCE" SP mod-sequence-value
/// rexpunges-fetch-mod = "VANISHED"
/// modifier-partial    = "PARTIAL" SP partial-range
/// ```
///
/// Every other modifier is kept as [`FetchModifier::Other`], in the generic
/// form of RFC 4466 ([`TaggedExtVal`](crate::TaggedExtVal)).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FetchModifier<'a> {
    /// `CHANGEDSINCE n` (CONDSTORE, RFC 7162): only messages whose
    /// mod-sequence is above `n`; implies the MODSEQ item.
    ChangedSince(ModSeq),
    /// `VANISHED` (QRESYNC, RFC 7162): also report, in a `VANISHED
    /// (EARLIER)` response, the UIDs of the set expunged since the
    /// CHANGEDSINCE mod-sequence. Only UID FETCH may carry it, and only
    /// with CHANGEDSINCE: the server answers BAD otherwise, so the
    /// decoder accepts it anywhere.
    Vanished,
    /// `PARTIAL partial-range` (RFC 9394 section 3.3): only this page of the
    /// messages the sequence set names.
    Partial(PartialRange),
    /// A modifier this crate has no variant for, kept as sent.
    Other(TaggedExt<'a>),
}

impl<'a> FetchModifier<'a> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> FetchModifier<'static> {
        match self {
            FetchModifier::ChangedSince(m) => FetchModifier::ChangedSince(m),
            FetchModifier::Vanished => FetchModifier::Vanished,
            FetchModifier::Partial(r) => FetchModifier::Partial(r),
            FetchModifier::Other(ext) => FetchModifier::Other(ext.into_owned()),
        }
    }

    /// `fetch-modifier = fetch-modifier-name [ SP fetch-modif-params ]`,
    /// with `chgsince-fetch-mod`, `rexpunges-fetch-mod` and
    /// `modifier-partial` typed.
    pub(crate) fn parse(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, Self> {
        let (rest, name) = tagged_ext_label(input)?;
        if name.as_str().eq_ignore_ascii_case("CHANGEDSINCE") {
            let (rest, _) = sp(rest)?;
            let (rest, m) = expect("mod-sequence", mod_sequence_value)(rest)?;
            return Ok((rest, FetchModifier::ChangedSince(m)));
        }
        if name.as_str().eq_ignore_ascii_case("VANISHED") {
            return Ok((rest, FetchModifier::Vanished));
        }
        if name.as_str().eq_ignore_ascii_case("PARTIAL") {
            let (rest, _) = sp(rest)?;
            let (rest, range) = PartialRange::parse(rest)?;
            return Ok((rest, FetchModifier::Partial(range)));
        }
        TaggedExt::parse_value(rest, name, config).map(|(rest, ext)| (rest, FetchModifier::Other(ext)))
    }

    pub(crate) fn encode<'e>(&'e self, e: &mut Encoder<'e>) {
        match self {
            FetchModifier::ChangedSince(m) => {
                e.put(b"CHANGEDSINCE ");
                e.number(m.get());
            }
            FetchModifier::Vanished => e.put(b"VANISHED"),
            FetchModifier::Partial(r) => {
                e.put(b"PARTIAL ");
                r.encode(e);
            }
            FetchModifier::Other(ext) => ext.encode(e),
        }
    }
}

/// `fetch-modifiers = SP "(" fetch-modifier *(SP fetch-modifier) ")"`,
/// from the `(` on; at least one modifier.
pub(crate) fn parse_fetch_modifiers<'a>(
    input: &'a [u8],
    config: &DecoderConfig,
) -> PResult<'a, Vec<FetchModifier<'a>>> {
    let (mut rest, _) = byte(b'(', "'('")(input)?;
    let mut modifiers = Vec::new();
    loop {
        if modifiers.len() == config.limits.list {
            return too_many(rest, config.limits.list, "')'");
        }
        let (r, m) = FetchModifier::parse(rest, config)?;
        modifiers.push(m);
        match r.first() {
            Some(b')') => return Ok((&r[1..], modifiers)),
            Some(b' ') => rest = &r[1..],
            _ => return fail(r, "space or ')'"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::ErrorKind;
    use crate::encode::{LiteralPolicy, to_bytes};
    use crate::extension::TaggedExtVal;

    fn round_trip(input: &[u8]) -> Vec<FetchModifier<'_>> {
        let (rest, m) = parse_fetch_modifiers(input, &DecoderConfig::STRICT).unwrap();
        assert!(rest.is_empty());
        let mut e = Encoder::new(LiteralPolicy::SyncOnly);
        e.put(b"(");
        for (i, m) in m.iter().enumerate() {
            if i > 0 {
                e.put(b" ");
            }
            m.encode(&mut e);
        }
        e.put(b")");
        let out = to_bytes(&e.finish());
        assert_eq!(&out[..out.len() - 2], input);
        m
    }

    #[test]
    fn modifiers() {
        // RFC 7162 section 3.1.4.1.
        let m = round_trip(b"(CHANGEDSINCE 12345)");
        assert_eq!(m, [FetchModifier::ChangedSince(ModSeq::new(12345).unwrap())]);
        // RFC 7162 section 3.2.6: VANISHED without a value, next to another.
        let m = round_trip(b"(CHANGEDSINCE 12345 VANISHED)");
        assert_eq!(m[1], FetchModifier::Vanished);
        // The typed modifiers take exactly their grammar.
        assert!(parse_fetch_modifiers(b"(CHANGEDSINCE 0)", &DecoderConfig::STRICT).is_err());
        assert!(parse_fetch_modifiers(b"(CHANGEDSINCE)", &DecoderConfig::STRICT).is_err());
        assert!(parse_fetch_modifiers(b"(VANISHED 1)", &DecoderConfig::STRICT).is_err());
        let m = round_trip(b"(X-SET 1:5,7 X-LIST (a (b \"c d\") e))");
        let FetchModifier::Other(ext) = &m[0] else {
            panic!("{m:?}")
        };
        assert!(matches!(ext.value, Some(TaggedExtVal::Sequence(_))));
        round_trip(b"(X-BIG 9223372036854775807)");
        // RFC 9394 section 3.3.
        let m = round_trip(b"(PARTIAL -1:-30)");
        assert_eq!(m, [FetchModifier::Partial(PartialRange::last(1, 30).unwrap())]);
        let m = round_trip(b"(CHANGEDSINCE 5 PARTIAL 1:10)");
        assert_eq!(m[1], FetchModifier::Partial(PartialRange::first(1, 10).unwrap()));
        for bad in [&b"(PARTIAL)"[..], b"(PARTIAL 1:*)", b"(PARTIAL -1:30)"] {
            assert!(parse_fetch_modifiers(bad, &DecoderConfig::STRICT).is_err());
        }
        assert!(parse_fetch_modifiers(b"()", &DecoderConfig::STRICT).is_err());
        assert!(parse_fetch_modifiers(b"(1X)", &DecoderConfig::STRICT).is_err());
    }

    #[test]
    fn nesting_is_bounded() {
        let mut cfg = DecoderConfig::STRICT;
        cfg.limits.depth = 4;
        let deep = format!("(X {}a{})", "(".repeat(10), ")".repeat(10));
        let Err(nom::Err::Error(e)) = parse_fetch_modifiers(deep.as_bytes(), &cfg) else {
            panic!()
        };
        assert_eq!(e.kind, ErrorKind::TooDeep { limit: 4 });
        let ok = format!("(X {}a{})", "(".repeat(3), ")".repeat(3));
        assert!(parse_fetch_modifiers(ok.as_bytes(), &cfg).unwrap().0.is_empty());
    }
}
