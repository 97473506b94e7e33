//! MULTISEARCH (RFC 7377): the ESEARCH command searches several mailboxes
//! at once, named with NOTIFY's `filter-mailboxes` (see `crate::notify`),
//! also in the authenticated state; each mailbox's results come in an
//! ESEARCH response whose correlator names the mailbox and its
//! UIDVALIDITY, so searches can be pipelined.
//!
//! ```text
//! esearch          = "ESEARCH" [SP esearch-source-opts]
//!                    [SP search-return-opts] SP search-program
//! search-correlator = SP "(" "TAG" SP tag-string
//!                    [SP "MAILBOX" SP astring SP "UIDVALIDITY" SP nz-number] ")"
//! esearch-source-opts = "IN" SP "(" source-mbox [SP "(" scope-options ")"] ")"
//! source-mbox      = filter-mailboxes *(SP filter-mailboxes)
//! scope-options    = scope-option *(SP scope-option)
//! scope-option     = scope-option-name [SP scope-option-value]
//! scope-option-name = tagged-ext-label
//! scope-option-value = tagged-ext-val
//! filter-mailboxes-other =/ ("subtree-one" SP one-or-more-mailbox)
//! ```

use std::num::NonZeroU32;

use crate::decode::DecoderConfig;
use crate::encode::Encoder;
use crate::extension::{Budget, TaggedExt, encode_params};
use crate::mailbox::Mailbox;
use crate::notify::FilterMailboxes;
use crate::parse::{PResult, fail, keyword, nz_number, sp};
use crate::search::Search;

/// `esearch-source-opts`: the mailboxes to search, and scope options.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SearchSource<'a> {
    /// `source-mbox`: at least one filter.
    pub mailboxes: Vec<FilterMailboxes<'a>>,
    /// `scope-options` (none are defined by RFC 7377; kept as sent).
    /// Empty when absent.
    pub scope_options: Vec<TaggedExt<'a>>,
}

impl<'a> SearchSource<'a> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> SearchSource<'static> {
        SearchSource {
            mailboxes: self
                .mailboxes
                .into_iter()
                .map(FilterMailboxes::into_owned)
                .collect(),
            scope_options: self
                .scope_options
                .into_iter()
                .map(TaggedExt::into_owned)
                .collect(),
        }
    }

    /// `"IN" SP "(" source-mbox [SP "(" scope-options ")"] ")"`; filters
    /// and their mailboxes count against `limits.list`.
    fn parse(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, Self> {
        let (mut rest, _) = keyword("IN (")(input)?;
        let mut budget = Budget::new(config);
        let mut mailboxes = Vec::new();
        let mut scope_options = Vec::new();
        loop {
            budget.count(rest, "')'")?;
            let (r, filter) = FilterMailboxes::parse(rest, config, &mut budget)?;
            mailboxes.push(filter);
            rest = match r.first() {
                Some(b')') => {
                    return Ok((
                        &r[1..],
                        SearchSource {
                            mailboxes,
                            scope_options,
                        },
                    ));
                }
                Some(b' ') => &r[1..],
                _ => return fail(r, "space or ')'"),
            };
            if rest.first() == Some(&b'(') {
                let (r, options) =
                    crate::parse::paren_list(config.limits.list, config.leniency.extra_spaces, |i| {
                        TaggedExt::parse(i, config)
                    })(rest)?;
                if options.is_empty() {
                    return fail(&rest[1..], "scope option");
                }
                scope_options = options;
                let (r, _) = crate::parse::byte(b')', "')'")(r)?;
                return Ok((
                    r,
                    SearchSource {
                        mailboxes,
                        scope_options,
                    },
                ));
            }
        }
    }

    fn encode<'e>(&'e self, e: &mut Encoder<'e>) {
        e.put(b"IN (");
        for (i, f) in self.mailboxes.iter().enumerate() {
            if i > 0 {
                e.put(b" ");
            }
            f.encode(e);
        }
        encode_params(&self.scope_options, e, TaggedExt::encode);
        e.put(b")");
    }
}

/// The ESEARCH command: a search of the mailboxes `source` names (the
/// selected one when absent).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MultiSearch<'a> {
    /// `IN (...)`, if sent.
    pub source: Option<SearchSource<'a>>,
    /// The return options, charset and keys, as for SEARCH.
    pub search: Search<'a>,
}

impl<'a> MultiSearch<'a> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> MultiSearch<'static> {
        MultiSearch {
            source: self.source.map(SearchSource::into_owned),
            search: self.search.into_owned(),
        }
    }

    /// `[SP esearch-source-opts] [SP search-return-opts] SP
    /// search-program`, after `ESEARCH`.
    pub(crate) fn parse(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, Self> {
        let mut rest = input;
        let mut source = None;
        if let Some(r) = input.strip_prefix(b" ").filter(|r| keyword("IN (")(r).is_ok()) {
            let (r, s) = SearchSource::parse(r, config)?;
            source = Some(s);
            rest = r;
        }
        let (rest, search) = Search::parse(rest, config)?;
        Ok((rest, MultiSearch { source, search }))
    }

    pub(crate) fn encode<'e>(&'e self, e: &mut Encoder<'e>) {
        if let Some(s) = &self.source {
            e.put(b" ");
            s.encode(e);
        }
        self.search.encode(e);
    }
}

/// The mailbox part of an ESEARCH correlator: which mailbox the results
/// are for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ESearchMailbox<'a> {
    /// `MAILBOX astring`.
    pub mailbox: Mailbox<'a>,
    /// `UIDVALIDITY nz-number`: the UIDs are valid with this.
    pub uid_validity: NonZeroU32,
}

impl ESearchMailbox<'_> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> ESearchMailbox<'static> {
        ESearchMailbox {
            mailbox: self.mailbox.into_owned(),
            uid_validity: self.uid_validity,
        }
    }

    /// `[SP "MAILBOX" SP astring SP "UIDVALIDITY" SP nz-number]` after the
    /// tag string of a correlator.
    pub(crate) fn parse_optional<'a>(
        input: &'a [u8],
        config: &DecoderConfig,
    ) -> PResult<'a, Option<ESearchMailbox<'a>>> {
        let Ok((r, _)) = keyword(" MAILBOX ")(input) else {
            return Ok((input, None));
        };
        let (r, mailbox) = Mailbox::parse(r, &config.leniency)?;
        let (r, _) = sp(r)?;
        let (r, _) = keyword("UIDVALIDITY")(r)?;
        let (r, _) = sp(r)?;
        let (r, uid_validity) = nz_number(r)?;
        Ok((
            r,
            Some(ESearchMailbox {
                mailbox,
                uid_validity,
            }),
        ))
    }

    pub(crate) fn encode<'e>(&'e self, e: &mut Encoder<'e>) {
        e.put(b" MAILBOX ");
        self.mailbox.encode(e);
        e.put(b" UIDVALIDITY ");
        e.number(u64::from(self.uid_validity.get()));
    }
}
