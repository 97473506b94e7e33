//! CONDSTORE and QRESYNC (RFC 7162), generated: typed commands and
//! responses built from random values encode to bytes that decode back to
//! them, strictly and leniently; the constructors of the mod-sequence types
//! take exactly the ranges of the grammar. The RFC's transcripts are in
//! tests/condstore.rs.

mod codec_support;

use codec_support::*;
use mailwire_imap::{
    Code, Command, CommandBody, DecoderConfig, EntryType, Fetch, FetchItem, FetchItems, FetchModifier, Flag,
    LiteralPolicy, MailboxStatus, MessageDataItem, ModSeq, ModSeqEntry, ModSeqValzer, QResync, RespText,
    Response, Search, SearchKey, SelectParameter, SeqMatchData, Status, StatusAttribute, StatusValue, Store,
    StoreAction, StoreModifier, Tag, UidSet, to_bytes,
};
use proptest::prelude::*;

fn modseq_strategy() -> impl Strategy<Value = ModSeq> {
    prop_oneof![1..=1_000u64, 1..=i64::MAX as u64].prop_map(modseq)
}

fn valzer_strategy() -> impl Strategy<Value = ModSeqValzer> {
    prop_oneof![0..=1_000u64, 0..=i64::MAX as u64].prop_map(valzer)
}

fn uid_set_strategy() -> impl Strategy<Value = UidSet> {
    proptest::collection::vec((1..=u32::MAX, 0..3u32), 1..5).prop_map(|pairs| {
        let text: Vec<String> = pairs
            .iter()
            .map(|&(a, d)| match a.checked_add(d) {
                Some(b) if d > 0 => format!("{a}:{b}"),
                _ => a.to_string(),
            })
            .collect();
        uids(&text.join(","))
    })
}

fn flag_strategy() -> impl Strategy<Value = Flag<'static>> {
    prop_oneof![
        Just(Flag::Seen),
        Just(Flag::Draft),
        Just(Flag::Answered),
        "[$A-Za-z][A-Za-z0-9_.-]{0,8}".prop_map(|k| Flag::keyword(k).unwrap()),
        "X[A-Za-z0-9]{0,6}".prop_map(|x| Flag::new(format!("\\{x}")).unwrap()),
    ]
}

fn entry_type_strategy() -> impl Strategy<Value = EntryType> {
    prop_oneof![
        Just(EntryType::Private),
        Just(EntryType::Shared),
        Just(EntryType::All)
    ]
}

fn search_key_strategy() -> impl Strategy<Value = SearchKey<'static>> {
    let modseq_key = (
        proptest::option::of((flag_strategy(), entry_type_strategy())),
        valzer_strategy(),
    )
        .prop_map(|(entry, modseq)| SearchKey::ModSeq {
            entry: entry.map(|(flag, entry_type)| ModSeqEntry { flag, entry_type }),
            modseq,
        });
    modseq_key.prop_recursive(2, 6, 2, |inner| {
        prop_oneof![
            inner.clone().prop_map(|k| SearchKey::Not(Box::new(k))),
            (inner.clone(), inner).prop_map(|(a, b)| SearchKey::Or(Box::new(a), Box::new(b))),
        ]
    })
}

fn qresync_strategy() -> impl Strategy<Value = QResync> {
    (
        1..=u32::MAX,
        modseq_strategy(),
        proptest::option::of(uid_set_strategy()),
        proptest::option::of((uid_set_strategy(), uid_set_strategy())),
    )
        .prop_map(|(v, modseq, known_uids, seq_match)| QResync {
            uid_validity: nz(v),
            modseq,
            known_uids,
            seq_match: seq_match.map(|(sequence_numbers, uids)| SeqMatchData {
                sequence_numbers,
                uids,
            }),
        })
}

fn command_strategy() -> impl Strategy<Value = CommandBody<'static>> {
    let fetch = (any::<bool>(), modseq_strategy(), any::<bool>(), any::<bool>()).prop_map(
        |(list, since, vanished, uid)| {
            let mut modifiers = vec![FetchModifier::ChangedSince(since)];
            if vanished {
                modifiers.push(FetchModifier::Vanished);
            }
            let items = if list {
                FetchItems::List(vec![FetchItem::Flags, FetchItem::ModSeq])
            } else {
                FetchItems::Item(FetchItem::ModSeq)
            };
            CommandBody::Fetch {
                fetch: Fetch {
                    sequence_set: set("1:*"),
                    items,
                    modifiers,
                },
                uid,
            }
        },
    );
    let store = (valzer_strategy(), any::<bool>()).prop_map(|(m, uid)| CommandBody::Store {
        store: Store {
            sequence_set: set("1,3:5"),
            modifiers: vec![StoreModifier::UnchangedSince(m)],
            action: StoreAction::Add,
            silent: true,
            flags: vec![Flag::Deleted],
        },
        uid,
    });
    let select = (qresync_strategy(), any::<bool>()).prop_map(|(q, condstore)| {
        let mut parameters = vec![SelectParameter::QResync(q)];
        if condstore {
            parameters.push(SelectParameter::CondStore);
        }
        CommandBody::Select {
            mailbox: mailwire_imap::Mailbox::Inbox,
            parameters,
        }
    });
    let search =
        proptest::collection::vec(search_key_strategy(), 1..4).prop_map(|keys| CommandBody::Search {
            search: Search::new(keys),
            uid: false,
        });
    let status = Just(CommandBody::Status {
        mailbox: mailwire_imap::Mailbox::Inbox,
        attributes: vec![StatusAttribute::HighestModSeq, StatusAttribute::Messages],
    });
    prop_oneof![fetch, store, select, search, status]
}

fn response_strategy() -> impl Strategy<Value = Response<'static>> {
    let status = |c: Code<'static>| Response::Status {
        tag: Some(Tag::new("A1").unwrap()),
        status: Status::Ok,
        text: RespText {
            code: Some(c),
            text: "done".into(),
        },
    };
    prop_oneof![
        (1..=u32::MAX, modseq_strategy()).prop_map(|(seq, m)| Response::Fetch {
            seq: nz(seq),
            items: vec![MessageDataItem::Uid(nz(seq)), MessageDataItem::ModSeq(m)],
        }),
        modseq_strategy().prop_map(move |m| status(Code::HighestModSeq(m))),
        Just(status(Code::NoModSeq)),
        uid_set_strategy().prop_map(move |s| status(Code::Modified(s.into_sequence_set()))),
        (any::<bool>(), uid_set_strategy()).prop_map(|(earlier, uids)| Response::Vanished { earlier, uids }),
        (
            proptest::collection::vec(1..=u32::MAX, 1..5),
            proptest::option::of(modseq_strategy())
        )
            .prop_map(|(numbers, modseq)| Response::Search {
                numbers: numbers.into_iter().map(nz).collect(),
                modseq,
            }),
        valzer_strategy().prop_map(|m| Response::MailboxStatus(MailboxStatus {
            mailbox: mailwire_imap::Mailbox::Inbox,
            values: vec![StatusValue::HighestModSeq(m)],
        })),
    ]
}

proptest! {
    #[test]
    fn generated_commands_round_trip(body in command_strategy()) {
        let command = Command { tag: Tag::new("c1").unwrap(), body };
        let bytes = to_bytes(&command.encode(LiteralPolicy::SyncOnly));
        let decoded = decode_cmd_with(&bytes, &DecoderConfig::STRICT);
        prop_assert_eq!(&decoded, &command);
        prop_assert_eq!(to_bytes(&decoded.encode(LiteralPolicy::SyncOnly)), bytes);
    }

    #[test]
    fn generated_responses_round_trip(response in response_strategy()) {
        let bytes = to_bytes(&response.encode());
        for config in [DecoderConfig::STRICT, DecoderConfig::default()] {
            let decoded = decode_resp_with(&bytes, &config);
            prop_assert_eq!(&decoded, &response);
        }
    }

    /// The constructors take exactly the ranges of the grammar.
    #[test]
    fn constructors_match_the_grammar(n in prop_oneof![
        Just(0u64),
        Just(1),
        Just(i64::MAX as u64 - 1),
        Just(i64::MAX as u64),
        Just(i64::MAX as u64 + 1),
        Just(u64::MAX),
        any::<u64>(),
    ]) {
        prop_assert_eq!(ModSeq::new(n).is_ok(), (1..=i64::MAX as u64).contains(&n));
        prop_assert_eq!(ModSeqValzer::new(n).is_ok(), n <= i64::MAX as u64);
    }
}
