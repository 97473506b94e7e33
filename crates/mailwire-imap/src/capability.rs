//! The home of [`Capability`] and [`Capabilities`]; the explanation is on
//! [`Capability`], where the rendered documentation shows it.

use crate::encode::Encoder;
use crate::string::Atom;

macro_rules! plain_capabilities {
    ($($(#[$doc:meta])* $variant:ident = $name:literal,)*) => {
        /// A capability name: a known one as a variant, anything else as
        /// [`Capability::Other`].
        ///
        /// Capabilities (RFC 9051 section 7.2.2, RFC 3501 section 7.2.1) as typed
        /// values: what a server offers in `* CAPABILITY` and `[CAPABILITY ...]`,
        /// what a client asks for in `ENABLE` and what the server confirms in
        /// `* ENABLED`. The names of the extensions this crate knows are variants,
        /// so a session asks "is LITERAL+ on offer" with a match, not a string
        /// comparison; every other name is kept as sent.
        ///
        /// ```text
        /// capability      = ("AUTH=" auth-type) / atom
        /// capability-data = "CAPABILITY" *(SP capability) SP "IMAP4rev2"
        ///                   *(SP capability)
        /// enable          = "ENABLE" 1*(SP capability)
        /// enable-data     = "ENABLED" *(SP capability)
        /// capability      =/ "APPENDLIMIT" ["=" number]        ; RFC 7889
        /// ```
        ///
        /// Capability names are case-insensitive: `literal+` is
        /// [`Capability::LiteralPlus`] and encodes as `LITERAL+`. A name with an
        /// argument (`AUTH=`, `THREAD=`, `COMPRESS=`, `QUOTA=RES-`, `RIGHTS=`,
        /// `APPENDLIMIT=`) keeps the argument as sent.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Capability<'a> {
            $($(#[$doc])* $variant,)*
            /// `AUTH=mechanism`: a SASL mechanism AUTHENTICATE takes.
            Auth(Atom<'a>),
            /// `THREAD=algorithm` (RFC 5256): ORDEREDSUBJECT, REFERENCES,
            /// REFS (RFC 5957)...
            Thread(Atom<'a>),
            /// `COMPRESS=algorithm` (RFC 4978): DEFLATE.
            Compress(Atom<'a>),
            /// `QUOTA=RES-resource` (RFC 9208): a resource type the server
            /// counts (`STORAGE`, `MESSAGE`, `MAILBOX`...), without `RES-`.
            QuotaRes(Atom<'a>),
            /// `RIGHTS=letters` (RFC 4314): the extra rights the server
            /// implements.
            Rights(Atom<'a>),
            /// `APPENDLIMIT` or `APPENDLIMIT=n` (RFC 7889): the largest
            /// message APPEND takes in every mailbox, or `None` when it
            /// differs by mailbox (ask STATUS).
            AppendLimit(Option<u64>),
            /// Any other capability, as sent. The decoder never puts a
            /// name that has a variant here; a value built by hand with
            /// one encodes as that name and decodes as its variant.
            Other(Atom<'a>),
        }

        /// The argument-free names, upper case, with their variants.
        const PLAIN: &[(&str, Capability<'static>)] = &[$(($name, Capability::$variant),)*];

        impl Capability<'_> {
            /// The name of an argument-free variant.
            fn plain_name(&self) -> Option<&'static str> {
                match self {
                    $(Capability::$variant => Some($name),)*
                    _ => None,
                }
            }

            /// An argument-free variant, as a `'static` value.
            fn plain_owned(&self) -> Option<Capability<'static>> {
                match self {
                    $(Capability::$variant => Some(Capability::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

plain_capabilities! {
    /// `IMAP4rev1` (RFC 3501).
    Imap4Rev1 = "IMAP4REV1",
    /// `IMAP4rev2` (RFC 9051).
    Imap4Rev2 = "IMAP4REV2",
    /// `STARTTLS`.
    StartTls = "STARTTLS",
    /// `LOGINDISABLED`: LOGIN (and plaintext mechanisms) refused until TLS.
    LoginDisabled = "LOGINDISABLED",
    /// `SASL-IR` (RFC 4959): an initial response on AUTHENTICATE.
    SaslIr = "SASL-IR",
    /// `LITERAL+` (RFC 7888): non-synchronizing literals of any size.
    LiteralPlus = "LITERAL+",
    /// `LITERAL-` (RFC 7888): non-synchronizing literals up to 4096 bytes.
    LiteralMinus = "LITERAL-",
    /// `ID` (RFC 2971).
    Id = "ID",
    /// `ENABLE` (RFC 5161).
    Enable = "ENABLE",
    /// `IDLE` (RFC 2177).
    Idle = "IDLE",
    /// `NAMESPACE` (RFC 2342).
    Namespace = "NAMESPACE",
    /// `UNSELECT` (RFC 3691).
    Unselect = "UNSELECT",
    /// `UIDPLUS` (RFC 4315).
    UidPlus = "UIDPLUS",
    /// `MULTIAPPEND` (RFC 3502).
    MultiAppend = "MULTIAPPEND",
    /// `BINARY` (RFC 3516).
    Binary = "BINARY",
    /// `MOVE` (RFC 6851).
    Move = "MOVE",
    /// `CHILDREN` (RFC 3348).
    Children = "CHILDREN",
    /// `LIST-EXTENDED` (RFC 5258).
    ListExtended = "LIST-EXTENDED",
    /// `LIST-STATUS` (RFC 5819).
    ListStatus = "LIST-STATUS",
    /// `LIST-MYRIGHTS` (RFC 8440).
    ListMyRights = "LIST-MYRIGHTS",
    /// `LIST-METADATA` (RFC 9590).
    ListMetadata = "LIST-METADATA",
    /// `SPECIAL-USE` (RFC 6154).
    SpecialUse = "SPECIAL-USE",
    /// `CREATE-SPECIAL-USE` (RFC 6154).
    CreateSpecialUse = "CREATE-SPECIAL-USE",
    /// `STATUS=SIZE` (RFC 8438).
    StatusSize = "STATUS=SIZE",
    /// `CONDSTORE` (RFC 7162).
    CondStore = "CONDSTORE",
    /// `QRESYNC` (RFC 7162).
    QResync = "QRESYNC",
    /// `ESEARCH` (RFC 4731).
    ESearch = "ESEARCH",
    /// `SEARCHRES` (RFC 5182).
    SearchRes = "SEARCHRES",
    /// `SORT` (RFC 5256).
    Sort = "SORT",
    /// `SORT=DISPLAY` (RFC 5957).
    SortDisplay = "SORT=DISPLAY",
    /// `ESORT` (RFC 5267).
    ESort = "ESORT",
    /// `CONTEXT=SEARCH` (RFC 5267).
    ContextSearch = "CONTEXT=SEARCH",
    /// `CONTEXT=SORT` (RFC 5267).
    ContextSort = "CONTEXT=SORT",
    /// `PARTIAL` (RFC 9394).
    Partial = "PARTIAL",
    /// `WITHIN` (RFC 5032).
    Within = "WITHIN",
    /// `MULTISEARCH` (RFC 7377).
    MultiSearch = "MULTISEARCH",
    /// `UTF8=ACCEPT` (RFC 6855).
    Utf8Accept = "UTF8=ACCEPT",
    /// `UTF8=ONLY` (RFC 6855).
    Utf8Only = "UTF8=ONLY",
    /// `OBJECTID` (RFC 8474).
    ObjectId = "OBJECTID",
    /// `PREVIEW` (RFC 8970).
    Preview = "PREVIEW",
    /// `SAVEDATE` (RFC 8514).
    SaveDate = "SAVEDATE",
    /// `REPLACE` (RFC 8508).
    Replace = "REPLACE",
    /// `UNAUTHENTICATE` (RFC 8437).
    Unauthenticate = "UNAUTHENTICATE",
    /// `NOTIFY` (RFC 5465).
    Notify = "NOTIFY",
    /// `CATENATE` (RFC 4469).
    Catenate = "CATENATE",
    /// `URLAUTH` (RFC 4467).
    UrlAuth = "URLAUTH",
    /// `URL-PARTIAL` (RFC 5550).
    UrlPartial = "URL-PARTIAL",
    /// `METADATA` (RFC 5464): server and mailbox annotations.
    Metadata = "METADATA",
    /// `METADATA-SERVER` (RFC 5464): server annotations only.
    MetadataServer = "METADATA-SERVER",
    /// `QUOTA` (RFC 9208).
    Quota = "QUOTA",
    /// `QUOTASET` (RFC 9208): SETQUOTA works.
    QuotaSet = "QUOTASET",
    /// `ACL` (RFC 4314).
    Acl = "ACL",
    /// `LOGIN-REFERRALS` (RFC 2221).
    LoginReferrals = "LOGIN-REFERRALS",
}

impl<'a> Capability<'a> {
    /// The capability an atom names, case-insensitively.
    pub fn from_atom(atom: Atom<'a>) -> Capability<'a> {
        let text = atom.as_str();
        if let Some(known) = PLAIN.iter().find(|(n, _)| n.eq_ignore_ascii_case(text)) {
            return known.1.clone();
        }
        if text.eq_ignore_ascii_case("APPENDLIMIT") {
            return Capability::AppendLimit(None);
        }
        let Some(eq) = text.find('=') else {
            return Capability::Other(atom);
        };
        let (prefix, arg) = (&text[..eq], &text[eq + 1..]);
        let is = |name: &str| prefix.eq_ignore_ascii_case(name);
        let make: Option<fn(Atom<'a>) -> Capability<'a>> = if is("AUTH") {
            Some(Capability::Auth)
        } else if is("THREAD") {
            Some(Capability::Thread)
        } else if is("COMPRESS") {
            Some(Capability::Compress)
        } else if is("RIGHTS") {
            Some(Capability::Rights)
        } else {
            None
        };
        if let Some(make) = make {
            return match atom.clone().tail(eq + 1) {
                Some(arg) => make(arg),
                None => Capability::Other(atom),
            };
        }
        if is("QUOTA") && arg.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("RES-")) {
            if let Some(resource) = atom.clone().tail(eq + 5) {
                return Capability::QuotaRes(resource);
            }
        }
        if is("APPENDLIMIT") {
            if let Some(n) = append_limit(arg) {
                return Capability::AppendLimit(Some(n));
            }
        }
        Capability::Other(atom)
    }

    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> Capability<'static> {
        match self {
            Capability::Auth(a) => Capability::Auth(a.into_owned()),
            Capability::Thread(a) => Capability::Thread(a.into_owned()),
            Capability::Compress(a) => Capability::Compress(a.into_owned()),
            Capability::QuotaRes(a) => Capability::QuotaRes(a.into_owned()),
            Capability::Rights(a) => Capability::Rights(a.into_owned()),
            Capability::AppendLimit(n) => Capability::AppendLimit(n),
            Capability::Other(a) => Capability::Other(a.into_owned()),
            // Every other variant is argument-free.
            plain => plain.plain_owned().unwrap_or(Capability::Imap4Rev1),
        }
    }

    /// `capability`: an atom, classified.
    pub(crate) fn parse(input: &'a [u8]) -> crate::parse::PResult<'a, Self> {
        let (rest, atom) = Atom::parse(input)?;
        Ok((rest, Capability::from_atom(atom)))
    }

    /// Writes the capability: known names in their usual spelling.
    pub(crate) fn encode(&self, e: &mut Encoder<'_>) {
        let with_arg = |e: &mut Encoder<'_>, prefix: &[u8], arg: &Atom<'_>| {
            e.put(prefix);
            e.put(arg.as_str().as_bytes());
        };
        match self {
            Capability::Auth(a) => with_arg(e, b"AUTH=", a),
            Capability::Thread(a) => with_arg(e, b"THREAD=", a),
            Capability::Compress(a) => with_arg(e, b"COMPRESS=", a),
            Capability::QuotaRes(a) => with_arg(e, b"QUOTA=RES-", a),
            Capability::Rights(a) => with_arg(e, b"RIGHTS=", a),
            Capability::AppendLimit(None) => e.put(b"APPENDLIMIT"),
            Capability::AppendLimit(Some(n)) => {
                e.put(b"APPENDLIMIT=");
                e.number(*n);
            }
            Capability::Other(a) => e.put(a.as_str().as_bytes()),
            Capability::Imap4Rev1 => e.put(b"IMAP4rev1"),
            Capability::Imap4Rev2 => e.put(b"IMAP4rev2"),
            plain => e.put(plain.plain_name().unwrap_or_default().as_bytes()),
        }
    }
}

/// The number of `APPENDLIMIT=n`: digits only, within 64 bits.
fn append_limit(arg: &str) -> Option<u64> {
    if arg.is_empty() || arg.len() > 19 || !arg.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    arg.parse().ok()
}

crate::encode::display_wire! {
    /// The name as a CAPABILITY response writes it: `IMAP4rev2`,
    /// `AUTH=PLAIN`, `APPENDLIMIT=35651584`.
    Capability;
}

/// The capability an atom names (see [`Capability::from_atom`]).
///
/// ```
/// use mailwire_imap::Capability;
///
/// assert_eq!(Capability::try_from("literal+")?, Capability::LiteralPlus);
/// assert_eq!(Capability::try_from("AUTH=PLAIN")?.to_string(), "AUTH=PLAIN");
/// assert!(Capability::try_from("two words").is_err());
/// # Ok::<(), mailwire_imap::TypeError>(())
/// ```
impl<'a> TryFrom<&'a str> for Capability<'a> {
    type Error = crate::TypeError;
    fn try_from(name: &'a str) -> Result<Self, crate::TypeError> {
        Atom::new(name).map(Capability::from_atom)
    }
}

impl<'a> From<Atom<'a>> for Capability<'a> {
    fn from(atom: Atom<'a>) -> Self {
        Capability::from_atom(atom)
    }
}

/// The capabilities a server offers (`* CAPABILITY ...` or
/// `[CAPABILITY ...]`), in the order sent, with the questions a client
/// session asks of them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Capabilities<'a>(pub Vec<Capability<'a>>);

impl<'a> Capabilities<'a> {
    /// The capabilities, in the order sent.
    pub fn as_slice(&self) -> &[Capability<'a>] {
        &self.0
    }

    /// Whether `capability` is on offer. Argument values compare
    /// case-insensitively (`AUTH=plain` offers `AUTH=PLAIN`).
    pub fn contains(&self, capability: &Capability<'_>) -> bool {
        let same_arg = |a: &Atom<'_>, b: &Atom<'_>| a.as_str().eq_ignore_ascii_case(b.as_str());
        self.0.iter().any(|c| match (c, capability) {
            (Capability::Auth(a), Capability::Auth(b))
            | (Capability::Thread(a), Capability::Thread(b))
            | (Capability::Compress(a), Capability::Compress(b))
            | (Capability::QuotaRes(a), Capability::QuotaRes(b))
            | (Capability::Other(a), Capability::Other(b)) => same_arg(a, b),
            (Capability::Rights(a), Capability::Rights(b)) => a == b,
            (c, wanted) => c == wanted,
        })
    }

    /// Whether AUTHENTICATE takes the SASL `mechanism`.
    pub fn supports_auth(&self, mechanism: &str) -> bool {
        self.auth_mechanisms().any(|m| m.eq_ignore_ascii_case(mechanism))
    }

    /// The SASL mechanisms on offer (`AUTH=...`), as sent.
    pub fn auth_mechanisms(&self) -> impl Iterator<Item = &str> + '_ {
        self.0.iter().filter_map(|c| match c {
            Capability::Auth(m) => Some(m.as_str()),
            _ => None,
        })
    }

    /// The THREAD algorithms on offer, as sent.
    pub fn thread_algorithms(&self) -> impl Iterator<Item = &str> + '_ {
        self.0.iter().filter_map(|c| match c {
            Capability::Thread(m) => Some(m.as_str()),
            _ => None,
        })
    }

    /// `APPENDLIMIT`: `None` when not offered, `Some(None)` when the
    /// limit differs by mailbox, `Some(Some(n))` for one limit for all.
    pub fn append_limit(&self) -> Option<Option<u64>> {
        self.0.iter().find_map(|c| match c {
            Capability::AppendLimit(n) => Some(*n),
            _ => None,
        })
    }

    /// Whether the server takes non-synchronizing literals of `length`
    /// bytes: any size under LITERAL+, up to 4096 under LITERAL- (RFC
    /// 7888).
    pub fn accepts_non_sync_literal(&self, length: u64) -> bool {
        self.contains(&Capability::LiteralPlus)
            || (length <= 4096 && self.contains(&Capability::LiteralMinus))
    }

    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> Capabilities<'static> {
        Capabilities(self.0.into_iter().map(Capability::into_owned).collect())
    }
}

/// The names separated by spaces, as a CAPABILITY response lists them.
impl std::fmt::Display for Capabilities<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        crate::encode::fmt_wire(f, |e| {
            for (i, c) in self.0.iter().enumerate() {
                if i > 0 {
                    e.put(b" ");
                }
                c.encode(e);
            }
        })
    }
}

impl<'a> From<Vec<Capability<'a>>> for Capabilities<'a> {
    fn from(list: Vec<Capability<'a>>) -> Self {
        Capabilities(list)
    }
}

impl<'a> FromIterator<Capability<'a>> for Capabilities<'a> {
    fn from_iter<I: IntoIterator<Item = Capability<'a>>>(iter: I) -> Self {
        Capabilities(iter.into_iter().collect())
    }
}

/// `*(SP capability)` up to the end of the line or `]`, at most `max`.
pub(crate) fn parse_list(mut input: &[u8], max: usize) -> crate::parse::PResult<'_, Vec<Capability<'_>>> {
    use nom::Parser;
    let mut out = Vec::new();
    while let Some(rest) = input.strip_prefix(b" ") {
        if out.len() == max {
            return crate::parse::too_many(input, max, "end of list");
        }
        let (rest, c) = crate::parse::expect("capability", Capability::parse).parse(rest)?;
        out.push(c);
        input = rest;
    }
    Ok((input, out))
}

/// Writes ` capability` for each.
pub(crate) fn encode_list(list: &[Capability<'_>], e: &mut Encoder<'_>) {
    for c in list {
        e.put(b" ");
        c.encode(e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cap(s: &str) -> Capability<'_> {
        Capability::from_atom(Atom::new(s).unwrap())
    }

    #[test]
    fn names_are_classified_case_insensitively() {
        assert_eq!(cap("literal+"), Capability::LiteralPlus);
        assert_eq!(cap("IMAP4rev2"), Capability::Imap4Rev2);
        assert_eq!(cap("utf8=accept"), Capability::Utf8Accept);
        assert_eq!(cap("AUTH=PLAIN"), Capability::Auth(Atom::new("PLAIN").unwrap()));
        assert_eq!(cap("THREAD=REFS"), Capability::Thread(Atom::new("REFS").unwrap()));
        assert_eq!(
            cap("QUOTA=RES-STORAGE"),
            Capability::QuotaRes(Atom::new("STORAGE").unwrap())
        );
        assert_eq!(cap("APPENDLIMIT=257890"), Capability::AppendLimit(Some(257890)));
        assert_eq!(cap("APPENDLIMIT"), Capability::AppendLimit(None));
        // Not the known forms: kept as sent.
        for other in [
            "AUTH=",
            "APPENDLIMIT=x",
            "APPENDLIMIT=99999999999999999999",
            "QUOTA=RES-",
            "X-GM-EXT-1",
        ] {
            assert_eq!(
                cap(other),
                Capability::Other(Atom::new(other).unwrap()),
                "{other}"
            );
        }
    }

    #[test]
    fn every_plain_name_round_trips() {
        for (name, variant) in PLAIN {
            let mut e = Encoder::new(crate::LiteralPolicy::SyncOnly);
            variant.encode(&mut e);
            let bytes = crate::to_bytes(&e.finish());
            let text = std::str::from_utf8(&bytes[..bytes.len() - 2]).unwrap();
            assert!(text.eq_ignore_ascii_case(name));
            assert_eq!(&cap(text), variant);
            assert_eq!(variant.clone().into_owned(), *variant);
        }
    }

    #[test]
    fn questions_a_session_asks() {
        let caps: Capabilities<'_> = [
            "IMAP4rev1",
            "AUTH=plain",
            "LITERAL-",
            "THREAD=REFERENCES",
            "APPENDLIMIT",
        ]
        .into_iter()
        .map(cap)
        .collect();
        assert!(caps.supports_auth("PLAIN") && !caps.supports_auth("LOGIN"));
        assert!(caps.contains(&Capability::Auth(Atom::new("PLAIN").unwrap())));
        assert!(caps.accepts_non_sync_literal(4096) && !caps.accepts_non_sync_literal(4097));
        assert_eq!(caps.thread_algorithms().collect::<Vec<_>>(), ["REFERENCES"]);
        assert_eq!(caps.append_limit(), Some(None));
        assert!(!caps.contains(&Capability::QResync));
    }
}
