//! RFC 2595: the STLS example, and the client forgetting capabilities after STLS.

use crate::common::*;
use crate::helpers::*;
use mailwire_pop3::{Capability, ClientEvent, ClientState, MemoryMaildrop};

/// RFC 2595 section 4: the STLS example, with CAPA before and after (the
/// client must forget the capabilities, the server may change them).
#[test]
fn rfc2595_stls() {
    let script = "
        S: +OK POP3 server ready
        C: CAPA
        S: +OK Capability list follows
        S? TOP
        S? UIDL
        S? RESP-CODES
        S? AUTH-RESP-CODE
        S? PIPELINING
        S? STLS
        S: .
        C: STLS
        S: +OK Begin TLS negotiation
        # TLS negotiation; further commands are under the TLS layer.
        C: CAPA
        S: +OK Capability list follows
        S? TOP
        S? UIDL
        S? USER
        S? SASL PLAIN
        S? RESP-CODES
        S? AUTH-RESP-CODE
        S? PIPELINING
        S: .
        C: STLS
        S~ -ERR | Command not permitted when TLS active
    ";
    let mut server = Server::new(tls_config(), &MemoryMaildrop::new());
    server.replay(script);
    assert_eq!(server.events, vec![Seen::StartTls]);

    let mut client = ClientReplay::new();
    client.replay(script);
    let ids = &client.ids;
    assert!(matches!(client.events[1], ClientEvent::Response { id, .. } if id == ids[0]));
    assert_eq!(
        client.events[2..4],
        [status(ids[1], "+OK Begin TLS negotiation"), ClientEvent::StartTls]
    );
    assert!(matches!(client.events[4], ClientEvent::Response { id, .. } if id == ids[2]));
    assert_eq!(
        client.events[5..],
        [status(ids[3], "-ERR Command not permitted when TLS active")]
    );
    assert!(client.client.has_capability(|c| *c == Capability::User));
    assert!(!client.client.has_capability(|c| *c == Capability::Stls));
}

/// RFC 2595 section 4: after STLS the client forgets the capabilities
/// until it asks again.
#[test]
fn rfc2595_client_forgets_capabilities_after_stls() {
    let mut client = ClientReplay::new();
    client.replay(
        "
        S: +OK POP3 server ready
        C: CAPA
        S: +OK Capability list follows
        S: PIPELINING
        S: STLS
        S: .
        C: STLS
        S: +OK Begin TLS negotiation
        ",
    );
    assert_eq!(client.client.capabilities(), None);
    assert!(!client.client.pipelining());
    assert_eq!(client.client.state(), ClientState::Authorization);
}
