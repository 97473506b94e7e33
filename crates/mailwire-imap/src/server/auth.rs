//! LOGIN and AUTHENTICATE: PLAIN decoded by the session, other SASL
//! mechanisms run by the application (RFC 9051 sections 6.2.2 and 6.2.3,
//! SASL-IR RFC 4959, PLAIN RFC 4616).

use super::*;

impl ServerSession {
    /// Accepts a login: the client is authenticated.
    pub fn accept_login(&mut self, request: AuthRequest) -> Result<(), AnswerError> {
        let (tag, _) = self.take_login(request.serial)?;
        self.state = State::Authenticated;
        self.clock.active = self.clock.now;
        let code = Code::Capability(self.capabilities());
        self.tagged(&tag, Status::Ok, Some(code), "Logged in");
        self.resume();
        Ok(())
    }

    /// Refuses a login.
    pub fn reject_login(&mut self, request: AuthRequest, why: LoginRejection) -> Result<(), AnswerError> {
        let (tag, _) = self.take_login(request.serial)?;
        let (code, text) = match why {
            LoginRejection::AuthenticationFailed => ("AUTHENTICATIONFAILED", "Authentication failed"),
            LoginRejection::AuthorizationFailed => ("AUTHORIZATIONFAILED", "Authorization failed"),
            LoginRejection::Unavailable => ("UNAVAILABLE", "Authentication temporarily unavailable"),
            LoginRejection::Expired => ("EXPIRED", "Password expired"),
            LoginRejection::ContactAdmin => ("CONTACTADMIN", "Contact your administrator"),
        };
        self.tagged(&tag, Status::No, Some(condition(code)), text);
        self.resume();
        Ok(())
    }

    /// Sends a SASL challenge and waits for the client's answer, which
    /// comes as another [`ServerEvent::Authenticate`]. Only for mechanisms
    /// the application runs.
    pub fn sasl_challenge(&mut self, request: AuthRequest, challenge: &[u8]) -> Result<(), AnswerError> {
        match &self.phase {
            Phase::Waiting {
                serial,
                on: Waiting::Login {
                    mechanism: Some(_), ..
                },
            } if *serial == request.serial => {}
            Phase::Waiting { serial, .. } if *serial == request.serial => {
                return Err(AnswerError::NotAllowed);
            }
            _ => return Err(AnswerError::NotPending),
        }
        let (tag, mechanism) = self.take_login(request.serial)?;
        use base64::Engine as _;
        self.output.extend_from_slice(b"+ ");
        self.output.extend_from_slice(
            base64::engine::general_purpose::STANDARD
                .encode(challenge)
                .as_bytes(),
        );
        self.output.extend_from_slice(b"\r\n");
        self.phase = Phase::Sasl { tag, mechanism };
        self.advance();
        Ok(())
    }

    pub(super) fn take_login(&mut self, serial: u64) -> Result<(Tag<'static>, Option<String>), AnswerError> {
        match std::mem::replace(&mut self.phase, Phase::Commands) {
            Phase::Waiting {
                serial: s,
                on: Waiting::Login { tag, mechanism },
            } if s == serial => Ok((tag, mechanism)),
            other => {
                self.phase = other;
                Err(AnswerError::NotPending)
            }
        }
    }

    pub(super) fn authenticate(&mut self, tag: Tag<'static>, mechanism: &str, initial: Option<String>) {
        let plain = mechanism.eq_ignore_ascii_case("PLAIN");
        let other = self
            .config
            .sasl_mechanisms
            .iter()
            .find(|m| m.eq_ignore_ascii_case(mechanism))
            .map(|m| m.to_ascii_uppercase());
        if plain && self.config.sasl_plain && !self.plaintext_allowed() {
            let text = "Plaintext authentication is disabled until TLS is active";
            self.tagged(&tag, Status::No, Some(condition("PRIVACYREQUIRED")), text);
            return;
        }
        if !(plain && self.config.sasl_plain) && other.is_none() {
            self.tagged(
                &tag,
                Status::No,
                Some(condition("CANNOT")),
                "Unsupported authentication mechanism",
            );
            return;
        }
        let mechanism = if plain { None } else { other };
        match initial {
            Some(data) => self.sasl_response(tag, mechanism, Some(&data)),
            // PLAIN without an initial response: ask for it with an
            // empty challenge. Other mechanisms start with the
            // application, which may send the first challenge.
            None if mechanism.is_none() => {
                self.output.extend_from_slice(b"+ \r\n");
                self.phase = Phase::Sasl { tag, mechanism };
            }
            None => {
                let step = AuthStep::Sasl {
                    mechanism: mechanism.clone().unwrap_or_default(),
                    response: None,
                };
                self.ask_login(tag, mechanism, step);
            }
        }
    }

    /// A client response in a SASL exchange (base64 text, `=` for empty).
    pub(super) fn sasl_response(&mut self, tag: Tag<'static>, mechanism: Option<String>, data: Option<&str>) {
        let decoded = match data {
            None => Vec::new(),
            Some("=") => Vec::new(),
            Some(text) => {
                use base64::Engine as _;
                match base64::engine::general_purpose::STANDARD.decode(text) {
                    Ok(d) => d,
                    Err(_) => {
                        self.tagged(&tag, Status::Bad, None, "Invalid base64 data");
                        return;
                    }
                }
            }
        };
        match mechanism {
            None => match plain_credentials(decoded) {
                Some(credentials) => self.ask_login(tag, None, AuthStep::Credentials(credentials)),
                None => self.tagged(&tag, Status::Bad, None, "Malformed PLAIN message"),
            },
            Some(name) => {
                let step = AuthStep::Sasl {
                    mechanism: name.clone(),
                    response: Some(Secret::new(decoded)),
                };
                self.ask_login(tag, Some(name), step);
            }
        }
    }

    pub(super) fn ask_login(&mut self, tag: Tag<'static>, mechanism: Option<String>, step: AuthStep) {
        let serial = next_serial();
        self.phase = Phase::Waiting {
            serial,
            on: Waiting::Login {
                tag: tag.clone(),
                mechanism,
            },
        };
        self.events
            .push_back(ServerEvent::Authenticate(AuthRequest { serial, tag, step }));
    }

    pub(super) fn sasl_line(&mut self) -> bool {
        if !self.line_pending() {
            self.needs_input = true;
            return false;
        }
        let config: &DecoderConfig = &self.config.decoder;
        let outcome = decode_authenticate_data(&self.input[self.start..], config);
        let (line, consumed) = match outcome {
            Ok(Decoded::Complete { value, consumed }) => (Ok(value.into_owned()), consumed),
            Ok(_) => {
                self.needs_input = true;
                return false;
            }
            Err(e) => {
                let resume = e.resume_at;
                (Err(e), resume.unwrap_or(0))
            }
        };
        let Phase::Sasl { tag, mechanism } = std::mem::replace(&mut self.phase, Phase::Commands) else {
            return false;
        };
        match line {
            Ok(AuthenticateData::Cancel) => {
                self.consume(consumed);
                self.tagged(&tag, Status::Bad, None, "Authentication cancelled");
            }
            Ok(AuthenticateData::Continue(data)) => {
                self.consume(consumed);
                self.sasl_response(tag, mechanism, Some(data.expose().as_str()));
            }
            Err(e) => {
                self.tagged(
                    &tag,
                    Status::Bad,
                    None,
                    &format!("Invalid authentication data: {e}"),
                );
                match e.resume_at {
                    Some(n) => self.consume(n),
                    None => self.phase = Phase::SkipLine { tail: Vec::new() },
                }
            }
        }
        true
    }
}

pub(super) fn auth_capability(mechanism: &str) -> Capability<'static> {
    match Atom::new(mechanism.to_ascii_uppercase()) {
        Ok(atom) => Capability::Auth(atom),
        Err(_) => Capability::Other(Atom::new("AUTH=X-INVALID").expect("an atom")),
    }
}

/// `[authzid] NUL authcid NUL passwd` (RFC 4616 section 2).
pub(super) fn plain_credentials(message: Vec<u8>) -> Option<Credentials> {
    let mut parts = message.splitn(3, |&b| b == 0);
    let authzid = parts.next()?.to_vec();
    let authcid = parts.next()?.to_vec();
    let password = parts.next()?.to_vec();
    if authcid.is_empty() || password.contains(&0) {
        return None;
    }
    Some(Credentials::Plain {
        authzid,
        authcid,
        password: Secret::new(password),
    })
}
