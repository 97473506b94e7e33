//! QUOTA (RFC 9208): resource limits on quota roots, which mailboxes share.
//! Adds the GETQUOTA, GETQUOTAROOT and SETQUOTA commands and the QUOTA and
//! QUOTAROOT responses. (The `OVERQUOTA` code is one of the RFC 5530 codes
//! kept as [`Code::Condition`](crate::Code::Condition); the `DELETED`
//! status attribute is RFC 9051's.)
//!
//! ```text
//! getquota           = "GETQUOTA" SP quota-root-name
//! getquotaroot       = "GETQUOTAROOT" SP mailbox
//! setquota           = "SETQUOTA" SP quota-root-name SP setquota-list
//! setquota-list      = "(" [setquota-resource *(SP setquota-resource)] ")"
//! setquota-resource  = resource-name SP resource-limit
//! quota-response     = "QUOTA" SP quota-root-name SP quota-list
//! quota-list         = "(" quota-resource *(SP quota-resource) ")"
//! quota-resource     = resource-name SP resource-usage SP resource-limit
//! quotaroot-response = "QUOTAROOT" SP mailbox *(SP quota-root-name)
//! quota-root-name    = astring
//! resource-limit     = number64
//! resource-usage     = number64
//! resource-name      = "STORAGE" / "MESSAGE" / "MAILBOX" /
//!                      "ANNOTATION-STORAGE" / resource-name-ext
//! resource-name-ext  = atom
//! ```

use nom::Parser;

use crate::decode::DecoderConfig;
use crate::encode::Encoder;
use crate::mailbox::Mailbox;
use crate::parse::{PResult, expect, fail, number64, paren_list, sp, too_many};
use crate::string::{AString, Atom};

/// A quota resource: `resource-name`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum QuotaResource<'a> {
    /// `STORAGE`: the physical space, in units of 1024 octets.
    Storage,
    /// `MESSAGE`: the number of messages.
    Message,
    /// `MAILBOX`: the number of mailboxes.
    Mailbox,
    /// `ANNOTATION-STORAGE`: the size of annotations (METADATA), in units
    /// of 1024 octets.
    AnnotationStorage,
    /// Any other resource (`resource-name-ext = atom`), as sent. Never one
    /// of the names above.
    Other(Atom<'a>),
}

const RESOURCES: [(&str, QuotaResource<'static>); 4] = [
    ("STORAGE", QuotaResource::Storage),
    ("MESSAGE", QuotaResource::Message),
    ("MAILBOX", QuotaResource::Mailbox),
    ("ANNOTATION-STORAGE", QuotaResource::AnnotationStorage),
];

impl<'a> QuotaResource<'a> {
    /// A resource by name: one of the four RFC 9208 names (any case) or
    /// an atom kept as [`QuotaResource::Other`].
    pub fn from_atom(name: Atom<'a>) -> Self {
        RESOURCES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name.as_str()))
            .map_or(QuotaResource::Other(name), |(_, r)| r.clone())
    }

    /// The name, upper case for the known ones.
    pub fn name(&self) -> &str {
        match self {
            QuotaResource::Other(a) => a.as_str(),
            known => RESOURCES.iter().find(|(_, r)| r == known).map_or("", |(n, _)| n),
        }
    }

    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> QuotaResource<'static> {
        match self {
            QuotaResource::Storage => QuotaResource::Storage,
            QuotaResource::Message => QuotaResource::Message,
            QuotaResource::Mailbox => QuotaResource::Mailbox,
            QuotaResource::AnnotationStorage => QuotaResource::AnnotationStorage,
            QuotaResource::Other(a) => QuotaResource::Other(a.into_owned()),
        }
    }

    /// `resource-name`.
    pub(crate) fn parse(input: &'a [u8]) -> PResult<'a, Self> {
        let (rest, name) = expect("resource name", Atom::parse).parse(input)?;
        Ok((rest, QuotaResource::from_atom(name)))
    }
}

/// `setquota-resource = resource-name SP resource-limit`: a limit a
/// SETQUOTA command asks for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct QuotaLimit<'a> {
    /// The resource.
    pub resource: QuotaResource<'a>,
    /// The limit (number64).
    pub limit: u64,
}

impl QuotaLimit<'_> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> QuotaLimit<'static> {
        QuotaLimit {
            resource: self.resource.into_owned(),
            limit: self.limit,
        }
    }
}

/// `quota-resource = resource-name SP resource-usage SP resource-limit`:
/// one resource of a QUOTA response.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct QuotaUsage<'a> {
    /// The resource.
    pub resource: QuotaResource<'a>,
    /// What is used (number64).
    pub usage: u64,
    /// The limit (number64).
    pub limit: u64,
}

impl QuotaUsage<'_> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> QuotaUsage<'static> {
        QuotaUsage {
            resource: self.resource.into_owned(),
            usage: self.usage,
            limit: self.limit,
        }
    }
}

/// `quota-response = "QUOTA" SP quota-root-name SP quota-list`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Quota<'a> {
    /// The quota root (`""` is a valid name).
    pub root: AString<'a>,
    /// The resources, at least one.
    pub resources: Vec<QuotaUsage<'a>>,
}

impl<'a> Quota<'a> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> Quota<'static> {
        Quota {
            root: self.root.into_owned(),
            resources: self.resources.into_iter().map(QuotaUsage::into_owned).collect(),
        }
    }

    /// The response after `QUOTA`, from the space that follows it.
    pub(crate) fn parse(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, Self> {
        let (rest, _) = sp(input)?;
        let (rest, root) = expect("quota root", |i| AString::parse(i, &config.leniency)).parse(rest)?;
        let (rest, _) = sp(rest)?;
        let list_at = rest;
        let (rest, resources) = paren_list(config.limits.list, config.leniency.extra_spaces, |i| {
            let (r, resource) = QuotaResource::parse(i)?;
            let (r, _) = sp(r)?;
            let (r, usage) = number64(r)?;
            let (r, _) = sp(r)?;
            let (r, limit) = number64(r)?;
            Ok((
                r,
                QuotaUsage {
                    resource,
                    usage,
                    limit,
                },
            ))
        })(rest)?;
        if resources.is_empty() {
            return fail(&list_at[1..], "resource name");
        }
        Ok((rest, Quota { root, resources }))
    }

    /// Writes ` root (resource usage limit ...)`.
    pub(crate) fn encode<'e>(&'e self, e: &mut Encoder<'e>) {
        e.put(b" ");
        self.root.encode(e);
        e.put(b" (");
        for (i, r) in self.resources.iter().enumerate() {
            if i > 0 {
                e.put(b" ");
            }
            e.put(r.resource.name().as_bytes());
            e.put(b" ");
            e.number(r.usage);
            e.put(b" ");
            e.number(r.limit);
        }
        e.put(b")");
    }
}

/// `quotaroot-response = "QUOTAROOT" SP mailbox *(SP quota-root-name)`:
/// the quota roots of a mailbox (possibly none).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct QuotaRoot<'a> {
    /// The mailbox asked about.
    pub mailbox: Mailbox<'a>,
    /// Its quota roots.
    pub roots: Vec<AString<'a>>,
}

impl<'a> QuotaRoot<'a> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> QuotaRoot<'static> {
        QuotaRoot {
            mailbox: self.mailbox.into_owned(),
            roots: self.roots.into_iter().map(AString::into_owned).collect(),
        }
    }

    /// The response after `QUOTAROOT`, from the space that follows it.
    pub(crate) fn parse(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, Self> {
        let (rest, _) = sp(input)?;
        let (mut rest, mailbox) = Mailbox::parse(rest, &config.leniency)?;
        let mut roots = Vec::new();
        while let Some(r) = rest.strip_prefix(b" ") {
            if roots.len() == config.limits.list {
                return too_many(rest, config.limits.list, "end of line");
            }
            let (r, root) = expect("quota root", |i| AString::parse(i, &config.leniency)).parse(r)?;
            roots.push(root);
            rest = r;
        }
        Ok((rest, QuotaRoot { mailbox, roots }))
    }

    /// Writes ` mailbox root...`.
    pub(crate) fn encode<'e>(&'e self, e: &mut Encoder<'e>) {
        e.put(b" ");
        self.mailbox.encode(e);
        for r in &self.roots {
            e.put(b" ");
            r.encode(e);
        }
    }
}

/// `setquota = "SETQUOTA" SP quota-root-name SP setquota-list`, after the
/// name. An empty list removes every limit of the root.
pub(crate) fn parse_setquota<'a>(
    input: &'a [u8],
    config: &DecoderConfig,
) -> PResult<'a, (AString<'a>, Vec<QuotaLimit<'a>>)> {
    let (rest, _) = sp(input)?;
    let (rest, root) = expect("quota root", |i| AString::parse(i, &config.leniency)).parse(rest)?;
    let (rest, _) = sp(rest)?;
    let (rest, limits) = paren_list(config.limits.list, config.leniency.extra_spaces, |i| {
        let (r, resource) = QuotaResource::parse(i)?;
        let (r, _) = sp(r)?;
        let (r, limit) = number64(r)?;
        Ok((r, QuotaLimit { resource, limit }))
    })(rest)?;
    Ok((rest, (root, limits)))
}

/// Writes ` root (resource limit ...)`.
pub(crate) fn encode_setquota<'e>(root: &'e AString<'e>, limits: &'e [QuotaLimit<'e>], e: &mut Encoder<'e>) {
    e.put(b" ");
    root.encode(e);
    e.put(b" (");
    for (i, l) in limits.iter().enumerate() {
        if i > 0 {
            e.put(b" ");
        }
        e.put(l.resource.name().as_bytes());
        e.put(b" ");
        e.number(l.limit);
    }
    e.put(b")");
}

/// `getquota = "GETQUOTA" SP quota-root-name`, after the name.
pub(crate) fn parse_getquota<'a>(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, AString<'a>> {
    let (rest, _) = sp(input)?;
    expect("quota root", |i| AString::parse(i, &config.leniency)).parse(rest)
}
