//! The client against a small scripted server on 127.0.0.1 that misbehaves
//! in ways Dovecot does not: a LIST size that does not match the message,
//! no UIDL. Also: links planted in the local Maildir.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::maildir::{TMP_PREFIX, message_name, state_file_name};
use crate::{client_binary, lf, local_messages, run, state_uidls};

/// What the scripted server says.
#[derive(Clone, Copy)]
struct Script {
    /// The size LIST gives for message 1 (the real one is `body.len()`).
    listed_size: usize,
    /// Whether UIDL works.
    uidl: bool,
    /// Message 1 (CRLF line ends), dot-stuffed when sent; its UIDL is
    /// always `scripted-1`.
    body: &'static [u8],
}

impl Script {
    /// A well-behaved server offering `body` as message 1.
    fn honest(body: &'static [u8]) -> Script {
        Script {
            listed_size: body.len(),
            uidl: true,
            body,
        }
    }
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
                for line in script.body.split_inclusive(|&b| b == b'\n') {
                    if line.starts_with(b".") {
                        reply.push(b'.');
                    }
                    reply.extend_from_slice(line);
                }
                reply.extend_from_slice(b".\r\n");
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
        ..Script::honest(BODY)
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
        ..Script::honest(BODY)
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
    let server = ScriptedServer::start(Script::honest(BODY));
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
        uidl: false,
        ..Script::honest(BODY)
    });
    let out = run(client_for(&server, &dir, &[]));
    out.assert_code(3);
    assert!(out.stderr.contains("needs UIDL"), "{}", out.stderr);
    let commands = server.commands();
    assert!(!commands.contains(&"RETR".to_owned()), "{commands:?}");
    assert!(local_messages(&dir).is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(unix)]
#[test]
fn links_planted_in_the_maildir_are_not_followed() {
    use std::os::unix::fs::symlink;
    let dir = maildir();
    let outside = PathBuf::from(format!("{}-outside", dir.display()));
    std::fs::create_dir_all(&outside).unwrap();
    let victim = outside.join("victim");
    std::fs::write(&victim, b"precious").unwrap();
    let nowhere = outside.join("nowhere");
    for sub in ["tmp", "new", "cur"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    let name = message_name("127.0.0.1", b"u", "scripted-1");
    // The name earlier versions wrote to in tmp/, one of this version's
    // form, and the state file's temporary name.
    symlink(&victim, dir.join("tmp").join(&name)).unwrap();
    symlink(&nowhere, dir.join("tmp").join(format!("{TMP_PREFIX}nowhere"))).unwrap();
    symlink(&victim, dir.join("tmp").join(format!("{TMP_PREFIX}planted"))).unwrap();
    let state_tmp = format!("{}.tmp", state_file_name("127.0.0.1", b"u"));
    symlink(&victim, dir.join(&state_tmp)).unwrap();

    let server = ScriptedServer::start(Script::honest(BODY));
    let out = run(client_for(&server, &dir, &["--delete"]));
    out.assert_code(0);
    assert!(server.commands().contains(&"DELE".to_owned()));
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    assert!(!nowhere.exists());
    let stored = dir.join("new").join(&name);
    assert!(
        !std::fs::symlink_metadata(&stored)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(std::fs::read(&stored).unwrap(), lf(BODY));
    // The planted links of this program's form were cleared away.
    assert!(!dir.join("tmp").join(format!("{TMP_PREFIX}planted")).exists());
    assert!(!dir.join("tmp").join(format!("{TMP_PREFIX}nowhere")).exists());
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&outside);
}
