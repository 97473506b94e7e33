//! Reading the server's responses: tagged completions, continuation
//! requests, data paired with the command it answers, and unsolicited
//! data folded into the mailbox view.

use bytes::Bytes;

use super::{ClientEvent, ClientSession, ClientState, Completion, InFlight, Kind, MailboxView, SelectData};
use crate::capability::Capability;
use crate::decode::Decoded;
use crate::response::{Code, RespText, Response, Status};
use crate::stream::ReadEvent;
use crate::string::Tag;

impl ClientSession {
    /// Decodes and handles everything complete in the input.
    pub(super) fn process_input(&mut self) {
        let mut used = 0;
        while self.state != ClientState::Closed {
            let outcome = self.reader.decode(&self.input[used..]);
            match outcome {
                Ok(Decoded::Complete { value, consumed }) => {
                    // What a response adds to a command's data counts its
                    // octets (see `holder`).
                    self.charge = consumed as u64;
                    let event = match value {
                        // Copied once, straight into the event.
                        ReadEvent::LiteralData(data) => {
                            self.events
                                .push_back(ClientEvent::FetchData(Bytes::copy_from_slice(&data)));
                            ReadEvent::Skipped(std::borrow::Cow::Borrowed(&[]))
                        }
                        other => other.into_owned(),
                    };
                    used += consumed;
                    self.clock.answered = true;
                    self.handle(event);
                    self.charge = 0;
                    let limit = self.config.max_command_data;
                    if self.in_flight.iter().any(|c| c.held > limit) {
                        self.events
                            .push_back(ClientEvent::Error(crate::decode::DecodeError::new(
                                crate::decode::ErrorKind::MessageTooLarge { limit },
                                &[],
                                0,
                                "a command's data within ClientConfig::max_command_data",
                            )));
                        self.close();
                        break;
                    }
                    // A completion may let the next command go before the
                    // next response is read, whatever the reads were.
                    self.pump();
                    if matches!(self.state, ClientState::Switching) {
                        // What follows belongs to the new transport layer.
                        let rest = self.input.split_off(used);
                        if let Some(ClientEvent::Compress { input }) = self.events.back_mut() {
                            *input = Bytes::from(rest);
                        }
                        self.input.clear();
                        return;
                    }
                }
                Ok(Decoded::Incomplete | Decoded::LiteralAnnounced(_)) => break,
                Err(e) => {
                    let skip = e.resume_at;
                    // A FETCH response streaming when it broke off is
                    // skipped: its literals are no longer paired with it.
                    self.streaming = None;
                    self.events.push_back(ClientEvent::Error(e));
                    match skip {
                        Some(n) => used += n,
                        None => {
                            // The end of the bad response has not arrived:
                            // drop up to the next line end.
                            match memchr::memchr(b'\n', &self.input[used..]) {
                                Some(lf) => used += lf + 1,
                                None => {
                                    self.input.clear();
                                    used = 0;
                                    break;
                                }
                            }
                        }
                    }
                }
            }
        }
        self.input.drain(..used.min(self.input.len()));
    }

    fn handle(&mut self, event: ReadEvent<'static>) {
        match event {
            ReadEvent::Response(response) => self.response(response),
            ReadEvent::LiteralStart {
                seq,
                items,
                item,
                length,
            } => {
                let id = match self.streaming {
                    Some(id) => id,
                    None => self.oldest(|k| k == Kind::Fetch).map(|c| c.id),
                };
                self.streaming = Some(id);
                self.changed(|view, changes| view.fetched(seq, &items, changes));
                self.events.push_back(ClientEvent::FetchStart {
                    id,
                    seq,
                    items,
                    item,
                    length,
                });
            }
            ReadEvent::FetchEnd { seq, items } => {
                self.streaming = None;
                self.changed(|view, changes| view.fetched(seq, &items, changes));
                self.events.push_back(ClientEvent::FetchEnd { seq, items });
            }
            ReadEvent::LiteralData(_) | ReadEvent::Skipped(_) => {}
        }
    }

    fn response(&mut self, response: Response<'static>) {
        if self.state == ClientState::Greeting {
            return self.greeting(response);
        }
        match response {
            Response::Status {
                tag: Some(tag),
                status,
                text,
            } => self.complete(tag, status, text),
            Response::Status {
                tag: None,
                status,
                text,
            } => self.untagged_status(status, text),
            Response::Continue(text) => self.continuation(text),
            Response::Capability(c) => {
                self.capabilities = Some(c.clone());
                self.attach(Response::Capability(c), |k| k == Kind::Capability);
            }
            Response::Enabled(list) => {
                for c in &list {
                    if !self.enabled.contains(c) {
                        self.enabled.push(c.clone());
                    }
                }
                self.attach(Response::Enabled(list), |k| k == Kind::Enable);
            }
            Response::Exists(n) if self.closing() && self.announces_closed() => {
                // The mailbox being closed grew.
                self.changed(|view, changes| view.set_exists(n, changes));
            }
            Response::Exists(n) => {
                if let Some(select) = self.select_data() {
                    select.exists = n;
                }
                self.with_view(|view, changes| view.set_exists(n, changes));
            }
            Response::Recent(n) => match self.select_data() {
                Some(select) => {
                    select.recent = Some(n);
                    self.answer_began();
                }
                None => self.attach(Response::Recent(n), |_| false),
            },
            Response::Flags(flags) => match self.select_data() {
                Some(select) => {
                    select.flags = flags;
                    self.answer_began();
                }
                None => self.attach(Response::Flags(flags), |_| false),
            },
            Response::Expunge(seq) => self.changed(|view, changes| view.expunge(seq, changes)),
            Response::Vanished { earlier, uids } => {
                if earlier {
                    // Only the mailbox being opened answers QRESYNC so.
                    self.answer_began();
                }
                self.changed(|view, changes| view.vanished(uids, earlier, changes))
            }
            Response::Fetch { seq, items } => {
                let closing = self.closing();
                self.changed(|view, changes| view.fetched(seq, &items, changes));
                // SELECT (QRESYNC) reports flag changes as FETCH; those of
                // the mailbox being closed are not its.
                let holds = |k| k == Kind::Fetch || (k == Kind::Select && !closing);
                if let Some(command) = self.holder(holds) {
                    command.data.fetch.push((seq, items));
                }
            }
            Response::Search { numbers, modseq } => match self.holder(|k| k == Kind::Search) {
                Some(command) => command.data.search = Some((numbers, modseq)),
                None => self.unsolicited(Response::Search { numbers, modseq }),
            },
            Response::Sort { numbers, modseq } => match self.holder(|k| k == Kind::Sort) {
                Some(command) => command.data.search = Some((numbers, modseq)),
                None => self.unsolicited(Response::Sort { numbers, modseq }),
            },
            Response::Thread(threads) => match self.holder(|k| k == Kind::Thread) {
                Some(command) => command.data.threads.extend(threads),
                None => self.unsolicited(Response::Thread(threads)),
            },
            Response::ESearch(esearch) => {
                let by_tag = esearch.tag.as_ref().and_then(|t| {
                    let tag = t.as_bytes();
                    self.in_flight
                        .iter_mut()
                        .find(|c| c.tag.as_str().as_bytes() == tag)
                });
                let command = match by_tag {
                    Some(c) => {
                        c.held += std::mem::take(&mut self.charge);
                        Some(c)
                    }
                    None => self.holder(|k| matches!(k, Kind::Search | Kind::Sort)),
                };
                match command {
                    Some(command) => command.data.esearch.push(esearch),
                    None => self.unsolicited(Response::ESearch(esearch)),
                }
            }
            // SELECT answers with a LIST when the name it opened differs
            // from the one asked for (RFC 9051 section 6.3.2).
            Response::List(list) | Response::Lsub(list) => {
                match self.holder(|k| matches!(k, Kind::List | Kind::Select)) {
                    Some(command) => command.data.list.push(list),
                    None => self.unsolicited(Response::List(list)),
                }
            }
            Response::MailboxStatus(status) => {
                match self.holder(|k| matches!(k, Kind::Status | Kind::List)) {
                    Some(command) => command.data.status.push(status),
                    None => self.unsolicited(Response::MailboxStatus(status)),
                }
            }
            other => self.attach(other, |k| k == Kind::Other),
        }
    }

    fn greeting(&mut self, response: Response<'static>) {
        let Response::Status {
            tag: None,
            status,
            text,
        } = response
        else {
            self.unsolicited(response);
            return;
        };
        self.state = match status {
            Status::PreAuth => ClientState::Authenticated,
            Status::Bye => ClientState::Closed,
            _ => ClientState::NotAuthenticated,
        };
        if let Some(Code::Capability(c)) = &text.code {
            self.capabilities = Some(c.clone());
        }
        self.events.push_back(ClientEvent::Greeting { status, text });
        if self.state == ClientState::Closed {
            self.events.push_back(ClientEvent::Closed);
        }
    }

    fn untagged_status(&mut self, status: Status, text: RespText<'static>) {
        if status == Status::Bye {
            let logging_out = self.in_flight.iter().any(|c| c.kind == Kind::Logout);
            self.events.push_back(ClientEvent::Bye(text));
            if !logging_out {
                self.close();
            }
            return;
        }
        let mut keep = true;
        match &text.code {
            Some(Code::Alert) => {
                self.events
                    .push_back(ClientEvent::Alert(text.text.clone().into_owned()));
                return;
            }
            Some(Code::Capability(c)) => self.capabilities = Some(c.clone()),
            Some(Code::Closed) => {
                // SELECT while selected: the old mailbox is gone, and no
                // mailbox is selected until the new one opens (a BAD to
                // the SELECT then leaves none).
                self.old_mailbox_closed();
                self.mailbox = None;
                if self.state == ClientState::Selected {
                    self.state = ClientState::Authenticated;
                }
                keep = false;
            }
            Some(code) if self.select_data().is_some() => {
                if matches!(
                    code,
                    Code::UidValidity(_)
                        | Code::UidNext(_)
                        | Code::Unseen(_)
                        | Code::PermanentFlags(_)
                        | Code::HighestModSeq(_)
                        | Code::NoModSeq
                        | Code::ReadOnly
                        | Code::ReadWrite
                ) {
                    self.answer_began();
                }
                let select = self.select_data().expect("checked");
                match code {
                    Code::UidValidity(v) => select.uid_validity = Some(*v),
                    Code::UidNext(n) => select.uid_next = Some(*n),
                    Code::PermanentFlags(f) => select.permanent_flags = Some(f.clone()),
                    Code::HighestModSeq(m) => select.highest_modseq = Some(*m),
                    Code::NoModSeq => select.no_modseq = true,
                    Code::Unseen(n) => select.first_unseen = Some(*n),
                    Code::ReadOnly => select.read_only = true,
                    _ => {}
                }
            }
            Some(Code::UidValidity(v)) => {
                let v = *v;
                self.with_view(|view, changes| view.set_uid_validity(v, changes));
            }
            Some(Code::UidNext(n)) => {
                let n = *n;
                if let Some(view) = self.mailbox.as_mut() {
                    view.uid_next = Some(n);
                }
            }
            Some(Code::HighestModSeq(m)) => {
                let m = *m;
                self.with_view(|view, changes| view.raise_modseq(m, changes));
            }
            _ => {}
        }
        if keep {
            self.attach(
                Response::Status {
                    tag: None,
                    status,
                    text,
                },
                |_| true,
            );
        }
    }

    fn continuation(&mut self, text: RespText<'static>) {
        use base64::Engine as _;
        if let Some(writing) = self.writing.as_mut() {
            if matches!(
                writing.fragments.front(),
                Some(crate::encode::Fragment::Literal { .. })
            ) {
                writing.may_send_literal = true;
                return;
            }
        }
        let Some(command) = self.in_flight.last() else {
            return self.unsolicited(Response::Continue(text));
        };
        let id = command.id;
        match command.kind {
            Kind::Authenticate => match self.sasl_initial.take() {
                Some((for_id, data)) if for_id == id => self.sasl_respond(id, &data),
                _ => {
                    let data = base64::engine::general_purpose::STANDARD
                        .decode(text.text.trim())
                        .unwrap_or_default();
                    self.events.push_back(ClientEvent::SaslChallenge { id, data });
                }
            },
            Kind::Idle => {
                self.idling = Some(id);
                self.events.push_back(ClientEvent::Idling { id });
            }
            _ => self.unsolicited(Response::Continue(text)),
        }
    }

    fn complete(&mut self, tag: Tag<'static>, status: Status, text: RespText<'static>) {
        let Some(i) = self.in_flight.iter().position(|c| c.tag == tag) else {
            return self.unsolicited(Response::Status {
                tag: Some(tag),
                status,
                text,
            });
        };
        let command = self.in_flight.remove(i);
        if self.writing.as_ref().is_some_and(|w| w.id == command.id) {
            // NO or BAD instead of a continuation: the rest is not sent.
            self.writing = None;
        }
        let InFlight {
            id,
            kind,
            mut data,
            opening,
            closing_changes,
            ..
        } = command;
        let ok = status == Status::Ok;
        if let Some(Code::Capability(c)) = &text.code {
            self.capabilities = Some(c.clone());
        }
        match (kind, ok) {
            (Kind::Login | Kind::Authenticate, true) => {
                if !matches!(text.code, Some(Code::Capability(_))) {
                    // The server may offer more after login.
                    self.capabilities = None;
                }
                self.state = ClientState::Authenticated;
                self.sasl_initial = None;
            }
            (Kind::Authenticate, false) => self.sasl_initial = None,
            (Kind::StartTls, true) => {
                self.before_switch = self.state;
                self.state = ClientState::Switching;
                self.events.push_back(ClientEvent::StartTls);
            }
            (Kind::Compress, true) => {
                self.before_switch = self.state;
                self.state = ClientState::Switching;
                self.events
                    .push_back(ClientEvent::Compress { input: Bytes::new() });
            }
            (Kind::Select, true) => {
                let mut view = opening.unwrap_or_default();
                if let Some(select) = data.select.as_mut() {
                    select.read_only |= text.code == Some(Code::ReadOnly);
                    view.read_only = select.read_only;
                    view.uid_validity = select.uid_validity;
                    view.uid_next = select.uid_next;
                    view.highest_modseq = select.highest_modseq;
                }
                self.mailbox = Some(view);
                self.state = ClientState::Selected;
            }
            // RFC 9051 section 6.3.2: a failed SELECT leaves no mailbox
            // selected; a BAD changes nothing.
            (Kind::Select, false) if status == Status::Bad => {
                // The mailbox stays selected: what it was told meanwhile
                // is its.
                self.events
                    .extend(closing_changes.into_iter().map(ClientEvent::Changed));
            }
            (Kind::Select, false) | (Kind::Deselect, true) => {
                self.mailbox = None;
                self.state = ClientState::Authenticated;
            }
            (Kind::Unauthenticate, true) => {
                self.mailbox = None;
                self.enabled.clear();
                self.capabilities = None;
                self.state = ClientState::NotAuthenticated;
            }
            (Kind::Idle, _) => self.idling = None,
            _ => {}
        }
        self.events.push_back(ClientEvent::Completed(Box::new(Completion {
            id,
            tag,
            status,
            text,
            data,
        })));
        if kind == Kind::Logout {
            self.close();
        }
    }

    /// SELECT data being gathered, while a SELECT or EXAMINE runs.
    fn select_data(&mut self) -> Option<&mut SelectData> {
        let command = self.in_flight.iter_mut().find(|c| c.kind == Kind::Select)?;
        Some(command.data.select.get_or_insert_with(SelectData::default))
    }

    /// Applies a change to the mailbox being opened or to the selected
    /// one, and reports it. While SELECT runs, what its completion's
    /// [`SelectData`] holds (the message count, UIDVALIDITY, the highest
    /// mod-sequence) is not reported again; QRESYNC's `VANISHED (EARLIER)`
    /// and flag changes are.
    fn with_view(&mut self, f: impl FnOnce(&mut MailboxView, &mut Vec<super::MailboxChange>)) {
        use super::MailboxChange as Change;
        let mut changes = Vec::new();
        if let Some(command) = self.in_flight.iter_mut().find(|c| c.kind == Kind::Select) {
            f(
                command.opening.get_or_insert_with(MailboxView::default),
                &mut changes,
            );
            changes.retain(|c| {
                !matches!(
                    c,
                    Change::Exists { .. } | Change::HighestModSeq(_) | Change::UidValidity(_)
                )
            });
            self.events.extend(changes.into_iter().map(ClientEvent::Changed));
            return;
        }
        if let Some(view) = self.mailbox.as_mut() {
            f(view, &mut changes);
        }
        self.events.extend(changes.into_iter().map(ClientEvent::Changed));
    }

    /// Whether a SELECT or EXAMINE runs while the mailbox selected before
    /// it is not yet closed: what the server sends about a mailbox is then
    /// about that one, until `[CLOSED]` or the new mailbox's answer begins
    /// (RFC 7162 section 3.2.11, RFC 9051 section 7.1).
    fn closing(&self) -> bool {
        self.mailbox.is_some() && self.in_flight.iter().any(|c| c.kind == Kind::Select)
    }

    /// The mailbox selected before a SELECT or EXAMINE is closed: by
    /// `[CLOSED]`, or because the new mailbox's answer began (see
    /// [`answer_began`](Self::answer_began)). Its changes held meanwhile
    /// are dropped with it.
    fn old_mailbox_closed(&mut self) {
        if !self.closing() {
            return;
        }
        self.mailbox = None;
        if self.state == ClientState::Selected {
            self.state = ClientState::Authenticated;
        }
        if let Some(command) = self.in_flight.iter_mut().find(|c| c.kind == Kind::Select) {
            command.closing_changes.clear();
        }
    }

    /// Whether the server ends a mailbox that SELECT closes with
    /// `[CLOSED]`: one that offers CONDSTORE, QRESYNC or IMAP4rev2 must
    /// (RFC 7162 section 3.2.11, RFC 9051 section 7.1).
    fn announces_closed(&self) -> bool {
        let closes = |c: &Capability<'_>| {
            matches!(
                c,
                Capability::CondStore | Capability::QResync | Capability::Imap4Rev2
            )
        };
        self.capabilities
            .as_ref()
            .is_some_and(|list| list.as_slice().iter().any(closes))
            || self.enabled.iter().any(closes)
    }

    /// Data only a SELECT's answer holds arrived (FLAGS, RECENT,
    /// UIDVALIDITY and the like, VANISHED (EARLIER)). From a server that
    /// sends no `[CLOSED]`, this is the best sign that the old mailbox's
    /// responses ended; one that does may send the same data unsolicited
    /// about the old mailbox (RECENT with EXISTS, FLAGS with a new
    /// keyword), so only `[CLOSED]` counts there.
    fn answer_began(&mut self) {
        if !self.announces_closed() {
            self.old_mailbox_closed();
        }
    }

    /// Applies a change the server announced (EXPUNGE, VANISHED, FETCH)
    /// to the mailbox it is about: while a SELECT or EXAMINE closes the
    /// selected one, that one's view takes it, and its report is held
    /// until the command ends (a BAD leaves that mailbox selected);
    /// otherwise as [`with_view`](Self::with_view).
    fn changed(&mut self, f: impl FnOnce(&mut MailboxView, &mut Vec<super::MailboxChange>)) {
        if !self.closing() {
            return self.with_view(f);
        }
        let Some(view) = self.mailbox.as_mut() else {
            return;
        };
        let mut changes = Vec::new();
        f(view, &mut changes);
        if let Some(command) = self.in_flight.iter_mut().find(|c| c.kind == Kind::Select) {
            command.closing_changes.extend(changes);
        }
    }

    fn oldest(&self, test: impl Fn(Kind) -> bool) -> Option<&InFlight> {
        self.in_flight.iter().find(|c| test(c.kind))
    }

    /// The oldest command `test` accepts, which holds the response being
    /// handled: its octets count towards the command's data.
    fn holder(&mut self, test: impl Fn(Kind) -> bool) -> Option<&mut InFlight> {
        let charge = std::mem::take(&mut self.charge);
        let command = self.in_flight.iter_mut().find(|c| test(c.kind))?;
        command.held += charge;
        Some(command)
    }

    /// Gives data to the oldest command `test` accepts, or reports it.
    fn attach(&mut self, response: Response<'static>, test: impl Fn(Kind) -> bool) {
        match self.holder(test) {
            Some(command) => command.data.other.push(response),
            None => self.unsolicited(response),
        }
    }

    fn unsolicited(&mut self, response: Response<'static>) {
        self.events.push_back(ClientEvent::Unsolicited(response));
    }
}
