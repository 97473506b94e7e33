//! Writing commands: literals wait for the server's continuation
//! request, and a command waits while running it beside those in
//! progress would be ambiguous (RFC 9051 section 5.5).

use std::borrow::Cow;
use std::collections::VecDeque;

use super::{ClientSession, ClientState, InFlight};
use crate::capability::Capability;
use crate::decode::LiteralMode;
use crate::encode::{Fragment, LiteralPolicy};

impl ClientSession {
    /// How literals may be sent, from what the server offers.
    pub(super) fn literal_policy(&self) -> LiteralPolicy {
        if self.offers(&Capability::LiteralPlus) {
            LiteralPolicy::LiteralPlus
        } else if self.offers(&Capability::LiteralMinus) || self.offers(&Capability::Imap4Rev2) {
            LiteralPolicy::LiteralMinus
        } else {
            LiteralPolicy::SyncOnly
        }
    }

    pub(super) fn offers(&self, capability: &Capability<'_>) -> bool {
        self.capabilities.as_ref().is_some_and(|c| c.contains(capability))
    }

    /// Writes what may be written now.
    pub(super) fn pump(&mut self) {
        if matches!(
            self.state,
            ClientState::Greeting | ClientState::Switching | ClientState::Closed
        ) {
            return;
        }
        loop {
            if let Some(writing) = self.writing.as_mut() {
                while let Some(fragment) = writing.fragments.front() {
                    match fragment {
                        Fragment::Line(bytes) => self.output.extend_from_slice(bytes),
                        Fragment::Literal {
                            mode: LiteralMode::Sync,
                            ..
                        } if !writing.may_send_literal => return,
                        Fragment::Literal { data, .. } => {
                            self.output.extend_from_slice(data);
                            writing.may_send_literal = false;
                        }
                    }
                    writing.fragments.pop_front();
                }
                self.writing = None;
            }
            let Some(next) = self.queue.front() else {
                return;
            };
            if self.in_flight.iter().any(|c| c.kind.exclusive()) {
                return;
            }
            if next.kind.exclusive() && !self.in_flight.is_empty() {
                return;
            }
            // An untagged EXPUNGE during a command in progress would
            // renumber the messages this one names.
            if next.uses_sequence_numbers && self.in_flight.iter().any(|c| !c.expunge_free) {
                return;
            }
            let next = self.queue.pop_front().expect("just looked at it");
            self.in_flight.push(InFlight {
                held: 0,
                id: next.id,
                tag: next.tag.clone(),
                kind: next.kind,
                expunge_free: next.expunge_free,
                data: Default::default(),
                opening: None,
                closing_changes: Vec::new(),
            });
            self.writing = Some(next);
        }
    }
}

/// Makes the non-synchronizing literals of an encoded command
/// synchronizing: `{n+}` at the end of the line before each becomes `{n}`
/// (`~{n+}` becomes `~{n}`).
pub(super) fn synchronize(fragments: &mut VecDeque<Fragment<'static>>) {
    for i in 1..fragments.len() {
        let Fragment::Literal { mode, .. } = &mut fragments[i] else {
            continue;
        };
        if *mode != LiteralMode::NonSync {
            continue;
        }
        *mode = LiteralMode::Sync;
        if let Fragment::Line(line) = &mut fragments[i - 1] {
            if line.ends_with(b"+}\r\n") {
                let at = line.len() - 4;
                line.remove(at);
            }
        }
    }
}

/// A fragment that owns its bytes.
pub(super) fn owned_fragment(fragment: Fragment<'_>) -> Fragment<'static> {
    match fragment {
        Fragment::Line(line) => Fragment::Line(line),
        Fragment::Literal { data, mode } => Fragment::Literal {
            data: Cow::Owned(data.into_owned()),
            mode,
        },
    }
}
