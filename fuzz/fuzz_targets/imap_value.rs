//! Arbitrary values, built from the fuzzer's bytes with the types' own
//! constructors: a command is encoded under every literal policy, decoded,
//! and must come back equal (and re-encode to the same bytes). Strings
//! cover every form (atom, quoted, literal, 8-bit, empty), search keys nest,
//! SEARCH takes return options and a charset, and sets, sections (part
//! numbers, HEADER, HEADER.FIELDS[.NOT], TEXT, MIME) and flags take any
//! valid shape. The extensions are
//! built too: CONDSTORE/QRESYNC modifiers, parameters and keys, SORT and
//! THREAD, ENABLE's capabilities, ID, QUOTA, ACL, WITHIN, OBJECTID and
//! SAVEDATE keys, PREVIEW and the other new fetch items.
#![no_main]

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use mailwire_fuzz::imap::check_command_encoding;
use mailwire_imap::{
    AString, Append, AppendData, AppendMessage, Atom, Command, CommandBody, CopyMove, Date, DateTime,
    DecoderConfig, Fetch, FetchItem, FetchItems, FetchMacro, Flag, HeaderList, Literal, Mailbox, Partial,
    Search, SearchKey, Section, SectionPart, SectionText, SeqNumber, SeqRange, SequenceSet, Store,
    StoreAction, Tag,
};
use mailwire_imap::{
    Capability, EntryType, FetchModifier, IdParam, IdParams, ModSeq, ModSeqEntry, ModSeqValzer, ObjectId,
    PartialRange, QResync, Quoted, Rights, RightsModification, RightsModifier, SearchReturnOption,
    SelectParameter, SeqMatchData, Sort, SortCriterion, SortKey, StoreModifier, ThreadAlgorithm,
    ThreadCommand, UidSet,
};

fn tag(u: &mut Unstructured<'_>) -> Result<Tag<'static>> {
    let len = u.int_in_range(1..=6)?;
    let mut s = String::new();
    for _ in 0..len {
        s.push(*u.choose(&['A', 'b', '0', '9', '.', '-', '_', '!'])?);
    }
    Ok(Tag::new(s).unwrap_or_else(|_| Tag::new("A1").unwrap()))
}

fn astring(u: &mut Unstructured<'_>) -> Result<AString<'static>> {
    let pool: &[&[u8]] = &[
        b"",
        b"INBOX",
        b"a b",
        b"\"q\\",
        b"{5}",
        b"x\r\ny",
        b"caf\xc3\xa9",
        b"\xff",
        b"NIL",
    ];
    let bytes: Vec<u8> = if u.arbitrary()? {
        u.choose(pool)?.to_vec()
    } else {
        let n = u.int_in_range(0..=12)?;
        (0..n).map(|_| u.int_in_range(1..=255)).collect::<Result<_>>()?
    };
    Ok(AString::from_bytes(bytes).unwrap_or_else(|_| AString::from_bytes(&b"x"[..]).unwrap().into_owned()))
}

fn atom(u: &mut Unstructured<'_>) -> Result<Atom<'static>> {
    Ok(Atom::new(u.choose(&["$Junk", "NonJunk", "x-1", "Foo"])?.to_string()).unwrap())
}

fn set(u: &mut Unstructured<'_>) -> Result<SequenceSet> {
    let n = u.int_in_range(1..=4)?;
    let mut ranges = Vec::new();
    for _ in 0..n {
        let num = |u: &mut Unstructured<'_>| -> Result<SeqNumber> {
            Ok(if u.ratio(1, 5)? {
                SeqNumber::Largest
            } else {
                SeqNumber::new(u.int_in_range(1..=u32::MAX)?).unwrap()
            })
        };
        let (a, b) = (num(u)?, num(u)?);
        ranges.push(SeqRange::new(a, b));
    }
    Ok(SequenceSet::new(ranges).unwrap())
}

fn flag(u: &mut Unstructured<'_>) -> Result<Flag<'static>> {
    Ok(match u.int_in_range(0..=5)? {
        0 => Flag::Seen,
        1 => Flag::Answered,
        2 => Flag::Flagged,
        3 => Flag::Deleted,
        4 => Flag::Draft,
        _ => Flag::Keyword(atom(u)?),
    })
}

fn date(u: &mut Unstructured<'_>) -> Result<Date> {
    Ok(Date::new(
        u.int_in_range(1900..=2100)?,
        u.int_in_range(1..=12)?,
        u.int_in_range(1..=28)?,
    )
    .unwrap())
}

fn key(u: &mut Unstructured<'_>, depth: u32) -> Result<SearchKey<'static>> {
    let nested = depth < 4;
    Ok(match u.int_in_range(0..=20)? {
        0 => SearchKey::All,
        1 => SearchKey::Seen,
        2 => SearchKey::Unkeyword(atom(u)?),
        3 => SearchKey::From(astring(u)?),
        4 => SearchKey::Header {
            name: astring(u)?,
            value: astring(u)?,
        },
        5 => SearchKey::Larger(u.arbitrary::<u32>()?.into()),
        6 => SearchKey::Since(date(u)?),
        7 => SearchKey::SentOn(date(u)?),
        8 => SearchKey::Uid(set(u)?),
        9 => SearchKey::SequenceSet(set(u)?),
        10 if nested => SearchKey::Not(Box::new(key(u, depth + 1)?)),
        11 if nested => SearchKey::Or(Box::new(key(u, depth + 1)?), Box::new(key(u, depth + 1)?)),
        12 if nested => {
            let n = u.int_in_range(1..=3)?;
            SearchKey::List((0..n).map(|_| key(u, depth + 1)).collect::<Result<_>>()?)
        }
        13 => SearchKey::Body(astring(u)?),
        14 => SearchKey::ModSeq {
            entry: if u.arbitrary()? {
                Some(ModSeqEntry {
                    flag: flag(u)?,
                    entry_type: *u.choose(&[EntryType::Private, EntryType::Shared, EntryType::All])?,
                })
            } else {
                None
            },
            modseq: ModSeqValzer::new(u.int_in_range(0..=i64::MAX as u64)?).unwrap(),
        },
        15 => SearchKey::Older(nz(u)?),
        16 => SearchKey::Younger(nz(u)?),
        17 => SearchKey::EmailId(ObjectId::new(*u.choose(&["M6d99ac3275bb4e", "a_b-1"])?).unwrap()),
        18 => SearchKey::SavedSince(date(u)?),
        19 => SearchKey::SaveDateSupported,
        _ => SearchKey::Deleted,
    })
}

fn nz(u: &mut Unstructured<'_>) -> Result<std::num::NonZeroU32> {
    Ok(std::num::NonZeroU32::new(u.int_in_range(1..=u32::MAX)?).unwrap())
}

fn modseq(u: &mut Unstructured<'_>) -> Result<ModSeq> {
    Ok(ModSeq::new(u.int_in_range(1..=i64::MAX as u64)?).unwrap())
}

fn uid_set(u: &mut Unstructured<'_>) -> Result<UidSet> {
    let n = u.int_in_range(1..=5)?;
    let uids = (0..n)
        .map(|_| u.int_in_range(1..=u32::MAX))
        .collect::<Result<Vec<u32>>>()?;
    Ok(UidSet::from_unordered(uids).unwrap())
}

fn keys(u: &mut Unstructured<'_>) -> Result<Vec<SearchKey<'static>>> {
    (0..u.int_in_range(1..=3)?).map(|_| key(u, 0)).collect()
}

fn charset(u: &mut Unstructured<'_>) -> Result<AString<'static>> {
    Ok(AString::from_bytes(u.choose(&[&b"UTF-8"[..], b"US-ASCII", b"x y"])?.to_vec()).unwrap())
}

fn partial_range(u: &mut Unstructured<'_>) -> Result<PartialRange> {
    let a = u.int_in_range(1..=u32::MAX)?;
    let b = u.int_in_range(1..=u32::MAX)?;
    Ok(if u.arbitrary()? {
        PartialRange::first(a, b).unwrap()
    } else {
        PartialRange::last(a, b).unwrap()
    })
}

fn return_options(u: &mut Unstructured<'_>) -> Result<Option<Vec<SearchReturnOption<'static>>>> {
    if !u.arbitrary()? {
        return Ok(None);
    }
    let n = u.int_in_range(0..=3)?;
    let mut options = Vec::new();
    for _ in 0..n {
        options.push(match u.int_in_range(0..=7)? {
            0 => SearchReturnOption::Min,
            1 => SearchReturnOption::Max,
            2 => SearchReturnOption::All,
            3 => SearchReturnOption::Count,
            4 => SearchReturnOption::Save,
            5 => SearchReturnOption::Context,
            6 => SearchReturnOption::Update,
            _ => SearchReturnOption::Partial(partial_range(u)?),
        });
    }
    Ok(Some(options))
}

/// A part number of one to four components, each up to 2^32 - 1.
fn section_part(u: &mut Unstructured<'_>) -> Result<SectionPart> {
    let n = u.int_in_range(1..=4)?;
    let parts = (0..n).map(|_| nz(u)).collect::<Result<Vec<_>>>()?;
    Ok(SectionPart::new(parts).expect("not empty"))
}

/// Any section: a part number or none, and any text specifier valid with
/// it (`MIME` only after a part number).
fn section(u: &mut Unstructured<'_>) -> Result<Section<'static>> {
    let part = if u.arbitrary()? {
        Some(section_part(u)?)
    } else {
        None
    };
    let names = |u: &mut Unstructured<'_>| -> Result<HeaderList<'static>> {
        let names = (0..u.int_in_range(1..=3)?)
            .map(|_| astring(u))
            .collect::<Result<Vec<_>>>()?;
        Ok(HeaderList::new(names).expect("not empty"))
    };
    let text = match u.int_in_range(0..=5)? {
        0 => None,
        1 => Some(SectionText::Header),
        2 => Some(SectionText::HeaderFields(names(u)?)),
        3 => Some(SectionText::HeaderFieldsNot(names(u)?)),
        4 => Some(SectionText::Text),
        _ if part.is_some() => Some(SectionText::Mime),
        _ => None,
    };
    Ok(Section::new(part, text).expect("MIME only after a part"))
}

fn fetch_item(u: &mut Unstructured<'_>) -> Result<FetchItem<'static>> {
    let partial = if u.arbitrary()? {
        Partial::new(
            u.arbitrary::<u32>()?.into(),
            std::num::NonZeroU64::new(u64::from(u.int_in_range(1..=u32::MAX)?)).unwrap(),
        )
        .ok()
    } else {
        None
    };
    Ok(match u.int_in_range(0..=12)? {
        8 => FetchItem::ModSeq,
        9 => FetchItem::EmailId,
        10 => FetchItem::ThreadId,
        11 => FetchItem::SaveDate,
        12 => FetchItem::Preview { lazy: u.arbitrary()? },
        0 => FetchItem::Flags,
        1 => FetchItem::Uid,
        2 => FetchItem::Envelope,
        3 => FetchItem::BodyStructure,
        4 => FetchItem::Rfc822Size,
        5 => FetchItem::InternalDate,
        6 => FetchItem::BodySection {
            section: section(u)?,
            partial,
            peek: u.arbitrary()?,
        },
        _ => FetchItem::Binary {
            section: if u.arbitrary()? {
                Some(section_part(u)?)
            } else {
                None
            },
            partial,
            peek: u.arbitrary()?,
        },
    })
}

fn body(u: &mut Unstructured<'_>) -> Result<CommandBody<'static>> {
    let uid = u.arbitrary()?;
    Ok(match u.int_in_range(0..=16)? {
        0 => CommandBody::Noop,
        1 => CommandBody::Login {
            username: astring(u)?,
            password: mailwire_imap::Secret::new(astring(u)?),
        },
        2 => CommandBody::Select {
            mailbox: Mailbox::new(astring(u)?),
            parameters: match u.int_in_range(0..=2)? {
                0 => Vec::new(),
                1 => vec![SelectParameter::CondStore],
                _ => {
                    let known_uids = if u.arbitrary()? { Some(uid_set(u)?) } else { None };
                    let seq_match = if known_uids.is_some() && u.arbitrary()? {
                        Some(SeqMatchData {
                            sequence_numbers: uid_set(u)?,
                            uids: uid_set(u)?,
                        })
                    } else {
                        None
                    };
                    vec![SelectParameter::QResync(QResync {
                        uid_validity: nz(u)?,
                        modseq: modseq(u)?,
                        known_uids,
                        seq_match,
                    })]
                }
            },
        },
        3 => CommandBody::Store {
            store: Store {
                sequence_set: set(u)?,
                modifiers: if u.arbitrary()? {
                    vec![StoreModifier::UnchangedSince(
                        ModSeqValzer::new(u.int_in_range(0..=i64::MAX as u64)?).unwrap(),
                    )]
                } else {
                    Vec::new()
                },
                action: *u.choose(&[StoreAction::Add, StoreAction::Remove, StoreAction::Replace])?,
                silent: u.arbitrary()?,
                flags: (0..u.int_in_range(0..=3)?)
                    .map(|_| flag(u))
                    .collect::<Result<_>>()?,
            },
            uid,
        },
        4 => CommandBody::Copy {
            args: CopyMove {
                sequence_set: set(u)?,
                mailbox: Mailbox::new(astring(u)?),
            },
            uid,
        },
        5 => CommandBody::Fetch {
            fetch: Fetch {
                sequence_set: set(u)?,
                items: match u.int_in_range(0..=2)? {
                    0 => FetchItems::Macro(*u.choose(&[
                        FetchMacro::All,
                        FetchMacro::Fast,
                        FetchMacro::Full,
                    ])?),
                    1 => FetchItems::Item(fetch_item(u)?),
                    _ => FetchItems::List(
                        (0..u.int_in_range(1..=4)?)
                            .map(|_| fetch_item(u))
                            .collect::<Result<_>>()?,
                    ),
                },
                modifiers: match u.int_in_range(0..=3)? {
                    0 => Vec::new(),
                    1 => vec![FetchModifier::ChangedSince(modseq(u)?)],
                    2 => vec![FetchModifier::ChangedSince(modseq(u)?), FetchModifier::Vanished],
                    _ => vec![FetchModifier::Partial(partial_range(u)?)],
                },
            },
            uid,
        },
        6 => CommandBody::Search {
            search: Search {
                return_options: return_options(u)?,
                charset: if u.arbitrary()? { Some(charset(u)?) } else { None },
                keys: (0..u.int_in_range(1..=3)?)
                    .map(|_| key(u, 0))
                    .collect::<Result<_>>()?,
            },
            uid,
        },
        7 => {
            let data: Vec<u8> = u.arbitrary()?;
            let data = if u.arbitrary()? {
                Literal::binary(data)
            } else {
                Literal::new(data.into_iter().filter(|&b| b != 0).collect::<Vec<u8>>()).unwrap()
            };
            let date = if u.arbitrary()? {
                DateTime::new(
                    date(u)?,
                    u.int_in_range(0..=23)?,
                    u.int_in_range(0..=59)?,
                    0,
                    u.int_in_range(-720..=720)?,
                )
                .ok()
            } else {
                None
            };
            CommandBody::Append(Append {
                mailbox: Mailbox::new(astring(u)?),
                messages: vec![AppendMessage {
                    flags: if u.arbitrary()? {
                        Some(vec![flag(u)?])
                    } else {
                        None
                    },
                    date,
                    data: AppendData::Literal(data),
                }],
            })
        }
        9 => CommandBody::Sort {
            sort: Sort {
                return_options: return_options(u)?,
                criteria: (0..u.int_in_range(1..=3)?)
                    .map(|_| {
                        Ok(SortCriterion {
                            reverse: u.arbitrary()?,
                            key: u
                                .choose(&[
                                    SortKey::Arrival,
                                    SortKey::Cc,
                                    SortKey::Date,
                                    SortKey::From,
                                    SortKey::Size,
                                    SortKey::Subject,
                                    SortKey::To,
                                    SortKey::DisplayFrom,
                                    SortKey::DisplayTo,
                                ])?
                                .clone(),
                        })
                    })
                    .collect::<Result<_>>()?,
                charset: charset(u)?,
                keys: keys(u)?,
            },
            uid,
        },
        10 => CommandBody::Thread {
            thread: ThreadCommand {
                algorithm: u
                    .choose(&[
                        ThreadAlgorithm::OrderedSubject,
                        ThreadAlgorithm::References,
                        ThreadAlgorithm::Refs,
                    ])?
                    .clone(),
                charset: charset(u)?,
                keys: keys(u)?,
            },
            uid,
        },
        11 => CommandBody::Enable(
            (0..u.int_in_range(1..=3)?)
                .map(|_| {
                    let name =
                        *u.choose(&["CONDSTORE", "QRESYNC", "UTF8=ACCEPT", "X-GOOD-IDEA", "AUTH=PLAIN"])?;
                    Ok(Capability::from_atom(Atom::new(name).unwrap()))
                })
                .collect::<Result<_>>()?,
        ),
        12 => CommandBody::Id(if u.arbitrary()? {
            let n = u.int_in_range(0..=3)?;
            let mut params = Vec::new();
            for _ in 0..n {
                let value = if u.arbitrary()? {
                    Some(*u.choose(&["1.0", "a \"b\"", ""])?)
                } else {
                    None
                };
                params.push(IdParam::from_text(u.choose(&["name", "version", "os"])?, value).unwrap());
            }
            Some(IdParams::new(params).unwrap())
        } else {
            None
        }),
        13 => CommandBody::GetQuotaRoot(Mailbox::new(astring(u)?)),
        14 => CommandBody::SetAcl {
            mailbox: Mailbox::new(astring(u)?),
            identifier: astring(u)?,
            rights: RightsModification {
                modifier: *u.choose(&[
                    RightsModifier::Add,
                    RightsModifier::Remove,
                    RightsModifier::Replace,
                ])?,
                rights: Rights::new(*u.choose(&["lrswipkxtecda", "", "r1"])?).unwrap(),
            },
        },
        15 => CommandBody::CancelUpdate(vec![Quoted::new(b"A1".to_vec()).unwrap()]),
        _ => CommandBody::UidExpunge(set(u)?),
    })
}

fuzz_target!(|bytes: &[u8]| {
    let mut u = Unstructured::new(bytes);
    let (Ok(tag), Ok(body)) = (tag(&mut u), body(&mut u)) else {
        return;
    };
    let command = Command { tag, body };
    check_command_encoding(&command, &DecoderConfig::STRICT);
});
