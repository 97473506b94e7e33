//! The mail_server example proven with real mail software on loopback:
//! curl, Python's poplib and imaplib, fetchmail, getmail6, mbsync and
//! Dovecot. Every message a
//! client receives is compared byte for byte with what the Maildir holds.
//!
//! A missing peer program skips its test with a loud message on a
//! developer machine and fails it in CI (`CI` set), where `.ci/run`
//! installs them all.

mod behaviour;
mod connections;
mod disk_full;
mod dovecot;
mod hostile;
mod imap_dovecot;
mod imap_extensions;
mod imap_peers;
mod imap_wire;
mod peers;
mod support;
#[allow(dead_code)] // The server uses all of it, the tests part.
#[path = "../../examples/mail_server/users.rs"]
mod users;
mod users_file;

use std::path::PathBuf;

use support::{MailRoot, MailServer, TempDir};

/// The passwd-file of most tests.
pub const PASSWD: &str = "alice:{PLAIN}secret::::::\nbob:{PLAIN}builder::::::\n";

/// A mail root where alice has the sample messages.
fn alice_root(tag: &str) -> MailRoot {
    MailRoot::new(tag, PASSWD, "alice", &support::sample_messages())
}

/// Starts mail_server on `mail` with `extra` options (no failure delay).
fn start(mail: &MailRoot, extra: &[&str]) -> MailServer {
    MailServer::serving(mail, extra)
}

/// A certificate for 127.0.0.1 and localhost with its key, as PEM files.
struct TlsFiles {
    _dir: TempDir,
    cert: PathBuf,
    key: PathBuf,
}

impl TlsFiles {
    fn new() -> TlsFiles {
        let dir = TempDir::new("tls");
        let certified =
            rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
                .expect("generate a certificate");
        let cert = dir.path().join("cert.pem");
        let key = dir.path().join("key.pem");
        std::fs::write(&cert, certified.cert.pem()).expect("write the certificate");
        std::fs::write(&key, certified.signing_key.serialize_pem()).expect("write the key");
        TlsFiles { _dir: dir, cert, key }
    }

    fn args(&self) -> [String; 4] {
        [
            "--tls-cert".into(),
            self.cert.display().to_string(),
            "--tls-key".into(),
            self.key.display().to_string(),
        ]
    }
}
