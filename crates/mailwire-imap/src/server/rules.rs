//! Which command is valid in which state, and which capability it needs
//! (RFC 9051 section 6 and the extensions' RFCs).

use crate::capability::Capability;
use crate::command::CommandBody;

/// The states of RFC 9051 section 3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum State {
    NotAuthenticated,
    Authenticated,
    Selected { read_only: bool },
    Logout,
}

/// Where a command is valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Valid {
    /// CAPABILITY, NOOP, LOGOUT, and ID (RFC 2971).
    Anywhere,
    /// STARTTLS, AUTHENTICATE, LOGIN.
    NotAuthenticated,
    /// Authenticated or selected: the authenticated state's commands stay
    /// valid after SELECT (RFC 9051 section 6.4).
    Authenticated,
    /// Only with a mailbox selected.
    Selected,
}

impl Valid {
    pub(super) fn allows(self, state: State) -> bool {
        match (self, state) {
            (_, State::Logout) => false,
            (Valid::Anywhere, _) => true,
            (Valid::NotAuthenticated, s) => s == State::NotAuthenticated,
            (Valid::Authenticated, s) => s != State::NotAuthenticated,
            (Valid::Selected, s) => matches!(s, State::Selected { .. }),
        }
    }

    /// Why a command valid here is refused in `state`.
    pub(super) fn refusal(self, state: State) -> &'static str {
        match (self, state) {
            (Valid::NotAuthenticated, _) => "Already authenticated",
            (_, State::NotAuthenticated) => "Log in first",
            (Valid::Selected, _) => "No mailbox selected",
            _ => "Command not valid now",
        }
    }
}

pub(super) fn valid_in(body: &CommandBody<'_>) -> Valid {
    use CommandBody as C;
    match body {
        C::Capability | C::Noop | C::Logout | C::Id(_) => Valid::Anywhere,
        C::StartTls | C::Authenticate { .. } | C::Login { .. } => Valid::NotAuthenticated,
        C::Check
        | C::Close
        | C::Unselect
        | C::Expunge
        | C::UidExpunge(_)
        | C::Search { .. }
        | C::Fetch { .. }
        | C::Store { .. }
        | C::Copy { .. }
        | C::Move { .. }
        | C::Sort { .. }
        | C::Thread { .. }
        | C::CancelUpdate(_)
        | C::Replace { .. } => Valid::Selected,
        // ENABLE belongs before SELECT (RFC 9051 section 6.3.1), but a
        // server need not check that, and Dovecot does not.
        _ => Valid::Authenticated,
    }
}

/// The capability a command needs beyond IMAP4rev1/IMAP4rev2, if any,
/// as a predicate over what the server offers.
pub(super) fn needs(body: &CommandBody<'_>, rev2: bool) -> Option<fn(&Capability<'_>) -> bool> {
    use CommandBody as C;
    Some(match body {
        // In IMAP4rev2's base (RFC 9051 section 6.4.9 and 6.3.10...).
        C::UidExpunge(_) if !rev2 => |c| *c == Capability::UidPlus,
        C::Move { .. } if !rev2 => |c| *c == Capability::Move,
        C::Unselect if !rev2 => |c| *c == Capability::Unselect,
        C::Namespace if !rev2 => |c| *c == Capability::Namespace,
        C::Sort { .. } => |c| *c == Capability::Sort,
        C::Thread { .. } => |c| matches!(c, Capability::Thread(_)),
        C::CancelUpdate(_) => |c| matches!(c, Capability::ContextSearch | Capability::ContextSort),
        C::Replace { .. } => |c| *c == Capability::Replace,
        C::Notify(_) => |c| *c == Capability::Notify,
        C::ESearch(_) => |c| *c == Capability::MultiSearch,
        C::GenUrlAuth(_) | C::ResetKey { .. } | C::UrlFetch(_) => |c| *c == Capability::UrlAuth,
        C::GetQuota(_) | C::GetQuotaRoot(_) | C::SetQuota { .. } => |c| *c == Capability::Quota,
        C::SetAcl { .. } | C::DeleteAcl { .. } | C::GetAcl(_) | C::ListRights { .. } | C::MyRights(_) => {
            |c| *c == Capability::Acl
        }
        C::GetMetadata(_) | C::SetMetadata { .. } => {
            |c| matches!(c, Capability::Metadata | Capability::MetadataServer)
        }
        _ => return None,
    })
}

/// Whether a SELECT or EXAMINE carries the CONDSTORE parameter (RFC 7162
/// section 3.1.8), which turns CONDSTORE on once the mailbox opens.
pub(super) fn select_asks_condstore(body: &CommandBody<'_>) -> bool {
    match body {
        CommandBody::Select { parameters, .. } | CommandBody::Examine { parameters, .. } => {
            parameters.contains(&crate::mailbox_cmd::SelectParameter::CondStore)
        }
        _ => false,
    }
}

/// Whether a command other than SELECT, EXAMINE and ENABLE is a
/// CONDSTORE-enabling one (RFC 7162 section 3.1): STATUS asking for
/// HIGHESTMODSEQ, FETCH of MODSEQ or with CHANGEDSINCE, STORE with
/// UNCHANGEDSINCE, and a SEARCH with a MODSEQ key at any depth. SORT (and
/// the multi-mailbox ESEARCH) counts as SEARCH: a MODSEQ key makes its
/// answer carry a mod-sequence too (section 3.1.9). SELECT and EXAMINE
/// with CONDSTORE turn it on when the mailbox opens (one refused, say for
/// a QRESYNC parameter without ENABLE QRESYNC, changes nothing), and
/// ENABLE on its own.
pub(super) fn enables_condstore(body: &CommandBody<'_>) -> bool {
    use crate::{FetchItem, FetchItems, FetchModifier, SearchKey, StatusAttribute, StoreModifier};
    use CommandBody as C;
    let modseq_key = |keys: &[SearchKey<'_>]| {
        SearchKey::count_leaves(keys, &|k| matches!(k, SearchKey::ModSeq { .. })) > 0
    };
    match body {
        C::Status { attributes, .. } => attributes.contains(&StatusAttribute::HighestModSeq),
        C::Fetch { fetch, .. } => {
            let items = match &fetch.items {
                FetchItems::Macro(_) => false,
                FetchItems::Item(item) => *item == FetchItem::ModSeq,
                FetchItems::List(items) => items.contains(&FetchItem::ModSeq),
            };
            items
                || fetch
                    .modifiers
                    .iter()
                    .any(|m| matches!(m, FetchModifier::ChangedSince(_)))
        }
        C::Store { store, .. } => store
            .modifiers
            .iter()
            .any(|m| matches!(m, StoreModifier::UnchangedSince(_))),
        C::Search { search, .. } => modseq_key(&search.keys),
        C::ESearch(multi) => modseq_key(&multi.search.keys),
        C::Sort { sort, .. } => modseq_key(&sort.keys),
        _ => false,
    }
}
