//! A client session and a server session connected in memory, downloading a whole maildrop.

use crate::common::*;
use crate::helpers::*;
use mailwire_pop3::{ClientEvent, ClientSession, ClientState, Command, CommandId, LoginRequest, Response};

#[derive(Debug, Clone, Copy)]
enum Login {
    UserPass,
    Apop,
    Plain,
}

/// Moves bytes both ways until neither side has anything to say; returns
/// how many command lines each client write held.
fn connect(client: &mut ClientSession, server: &mut Server, events: &mut Vec<ClientEvent>) -> Vec<usize> {
    let mut writes = Vec::new();
    loop {
        let mut progressed = false;
        while let Some(bytes) = client.poll_transmit() {
            writes.push(bytes.iter().filter(|&&b| b == b'\n').count());
            server.feed(&bytes);
            progressed = true;
        }
        let out = server.take_output();
        if !out.is_empty() {
            client.receive(&out);
            progressed = true;
        }
        while let Some(event) = client.poll_event() {
            push_event(events, event);
            progressed = true;
        }
        if !progressed {
            return writes;
        }
    }
}

/// Logs in with `login`, asks CAPA, downloads every message, deletes them
/// all, then QUITs or (with `quit` false) drops the connection.
fn download_all(login: Login, quit: bool) {
    let messages = quirky_messages();
    let refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
    let maildrop = maildrop_with(&refs);
    let mut server = Server::new(rfc1939_config(), &maildrop);
    server.auth = Box::new(rfc_users);
    let mut client = ClientSession::new(Default::default());
    let mut events = Vec::new();
    connect(&mut client, &mut server, &mut events);
    assert!(matches!(events[..], [ClientEvent::Greeting(_)]));

    let login_id = match login {
        Login::UserPass => client.login_user_pass(b"alice", b"wonderland").unwrap(),
        Login::Apop => client.login_apop(b"alice", b"tanstaaf").unwrap(),
        Login::Plain => client.login_plain(b"", b"alice", b"wonderland").unwrap(),
    };
    let capa = client.send(Command::Capa);
    connect(&mut client, &mut server, &mut events);
    assert!(
        events.iter().any(|e| matches!(e, ClientEvent::Response { id, response: Response::Status(s) } if *id == login_id && s.is_ok())),
        "{login:?}: {events:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, ClientEvent::Response { id, .. } if *id == capa))
    );
    assert_eq!(client.state(), ClientState::Transaction);
    assert!(client.pipelining());
    assert_eq!(server.logins().len(), 1);
    assert_eq!(server.logins()[0].user(), b"alice");
    // The client logged in the way it was asked to.
    let method_used = match (&login, &server.logins()[0]) {
        (Login::UserPass, LoginRequest::User { .. }) => true,
        (Login::Apop, LoginRequest::Apop { .. }) => true,
        (Login::Plain, LoginRequest::Plain(c)) => c.expose_password() == b"wonderland",
        _ => false,
    };
    assert!(method_used, "{login:?}: {:?}", server.logins()[0]);

    let count = messages.len() as u32;
    let retrs: Vec<CommandId> = (1..=count).map(|i| client.send(Command::Retr(n(i)))).collect();
    let deles: Vec<CommandId> = (1..=count).map(|i| client.send(Command::Dele(n(i)))).collect();
    let quit_id = quit.then(|| client.send(Command::Quit));
    let writes = connect(&mut client, &mut server, &mut events);
    assert_eq!(
        writes,
        [2 * count as usize + usize::from(quit)],
        "pipelined in one write"
    );
    for (id, message) in retrs.iter().zip(&messages) {
        assert_eq!(
            body_of(&events, *id).as_deref(),
            Some(&normalise(message)[..]),
            "{login:?}"
        );
    }
    for id in deles {
        assert!(events.iter().any(|e| matches!(e, ClientEvent::Response { id: i, response: Response::Status(s) } if *i == id && s.is_ok())));
    }
    assert!(
        events.iter().all(|e| !matches!(e, ClientEvent::Error { .. })),
        "{events:?}"
    );
    if let Some(quit_id) = quit_id {
        assert!(events.iter().any(|e| matches!(e, ClientEvent::Response { id, response: Response::Status(s) } if *id == quit_id && s.is_ok())));
        assert_eq!(client.state(), ClientState::Closed);
        assert!(server.session.is_closed());
        assert!(maildrop.messages().is_empty(), "{login:?}");
    } else {
        drop(server);
        assert_eq!(maildrop.messages().len(), messages.len(), "{login:?}");
    }
    assert!(!maildrop.is_locked());
}

#[test]
fn client_and_server_user_pass() {
    download_all(Login::UserPass, true);
}

#[test]
fn client_and_server_apop() {
    download_all(Login::Apop, true);
}

#[test]
fn client_and_server_auth_plain() {
    download_all(Login::Plain, true);
}

#[test]
fn client_and_server_dropped_before_quit() {
    for login in [Login::UserPass, Login::Apop, Login::Plain] {
        download_all(login, false);
    }
}
