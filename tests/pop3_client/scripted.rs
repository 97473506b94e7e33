//! The client against a small scripted server on 127.0.0.1 that misbehaves
//! in ways Dovecot does not: a LIST size that does not match the message,
//! no UIDL.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::{client_binary, local_messages, run, state_uidls};

/// What the scripted server says.
#[derive(Clone, Copy)]
struct Script {
    /// The size LIST gives for message 1 (the real one is `BODY.len()`).
    listed_size: usize,
    /// Whether UIDL works.
    uidl: bool,
}

/// Message 1, as sent (CRLF, a line to dot-stuff).
const BODY: &[u8] = b"Subject: scripted\r\n\r\n.dot\r\nend\r\n";

/// A server for one session on a free port; it records the commands.
struct ScriptedServer {
    port: u16,
    commands: Arc<Mutex<Vec<String>>>,
    thread: Option<JoinHandle<()>>,
}

impl ScriptedServer {
    fn start(script: Script) -> ScriptedServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let commands = Arc::new(Mutex::new(Vec::new()));
        let log = commands.clone();
        let thread = std::thread::spawn(move || {
            if let Ok((stream, _)) = listener.accept() {
                serve(stream, script, &log);
            }
        });
        ScriptedServer {
            port,
            commands,
            thread: Some(thread),
        }
    }

    /// The commands received (keywords only), once the session is over.
    fn commands(mut self) -> Vec<String> {
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
        self.commands.lock().unwrap().clone()
    }
}

fn serve(stream: TcpStream, script: Script, log: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut out = stream;
    let mut send = |bytes: &[u8]| out.write_all(bytes).is_ok();
    if !send(b"+OK scripted server ready\r\n") {
        return;
    }
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let keyword = line.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
        log.lock().unwrap().push(keyword.clone());
        let reply: Vec<u8> = match keyword.as_str() {
            "CAPA" => b"+OK\r\nUSER\r\nUIDL\r\n.\r\n".to_vec(),
            "USER" | "PASS" | "NOOP" | "DELE" => b"+OK\r\n".to_vec(),
            "UIDL" if script.uidl => b"+OK\r\n1 scripted-1\r\n.\r\n".to_vec(),
            "UIDL" => b"-ERR no UIDL here\r\n".to_vec(),
            "LIST" => format!("+OK\r\n1 {}\r\n.\r\n", script.listed_size).into_bytes(),
            "RETR" => {
                let mut reply = b"+OK\r\n".to_vec();
                reply.extend_from_slice(b"Subject: scripted\r\n\r\n..dot\r\nend\r\n.\r\n");
                reply
            }
            "QUIT" => {
                send(b"+OK bye\r\n");
                return;
            }
            _ => b"-ERR unknown\r\n".to_vec(),
        };
        if !send(&reply) {
            return;
        }
    }
}

fn maildir() -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    std::env::temp_dir().join(format!(
        "mailwire-pop3-client-scripted-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ))
}

fn client_for(server: &ScriptedServer, maildir: &PathBuf, extra: &[&str]) -> std::process::Command {
    let mut command = std::process::Command::new(client_binary());
    command
        .arg("--server")
        .arg(format!("127.0.0.1:{}", server.port))
        .args(["--user", "u", "--tls", "none", "--maildir"])
        .arg(maildir)
        .args(extra)
        .env("MAILWIRE_PASSWORD", "p")
        .env_remove("MAILWIRE_LOG");
    command
}

#[test]
fn a_size_unlike_the_list_size_is_refused_unless_lax() {
    let dir = maildir();
    let server = ScriptedServer::start(Script {
        listed_size: BODY.len() + 3,
        uidl: true,
    });
    let out = run(client_for(&server, &dir, &["--delete"]));
    out.assert_code(1);
    assert!(out.stderr.contains("LIST said"), "{}", out.stderr);
    assert!(local_messages(&dir).is_empty());
    assert!(state_uidls(&dir).is_empty());
    let commands = server.commands();
    assert!(commands.contains(&"RETR".to_owned()), "{commands:?}");
    assert!(
        !commands.contains(&"DELE".to_owned()),
        "deleted a message it did not store"
    );
    assert_eq!(std::fs::read_dir(dir.join("tmp")).unwrap().count(), 0);

    let server = ScriptedServer::start(Script {
        listed_size: BODY.len() + 3,
        uidl: true,
    });
    let out = run(client_for(&server, &dir, &["--lax-size"]));
    out.assert_code(0);
    assert!(out.stderr.contains("stored anyway"), "{}", out.stderr);
    assert_eq!(
        local_messages(&dir),
        vec![b"Subject: scripted\n\n.dot\nend\n".to_vec()]
    );
    assert_eq!(state_uidls(&dir), vec!["scripted-1".to_owned()]);
    server.commands();

    // The exact size passes without --lax-size.
    let exact = maildir();
    let server = ScriptedServer::start(Script {
        listed_size: BODY.len(),
        uidl: true,
    });
    run(client_for(&server, &exact, &["--crlf"])).assert_code(0);
    assert_eq!(local_messages(&exact), vec![BODY.to_vec()]);
    server.commands();
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&exact);
}

#[test]
fn a_server_without_uidl_is_refused() {
    let dir = maildir();
    let server = ScriptedServer::start(Script {
        listed_size: BODY.len(),
        uidl: false,
    });
    let out = run(client_for(&server, &dir, &[]));
    out.assert_code(3);
    assert!(out.stderr.contains("needs UIDL"), "{}", out.stderr);
    let commands = server.commands();
    assert!(!commands.contains(&"RETR".to_owned()), "{commands:?}");
    assert!(local_messages(&dir).is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}
