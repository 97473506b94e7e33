//! The mail store behind the server, and the demo that makes one.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use mailwire::mailbox::{
    AccountName, DEFAULT_MAILBOXES, MailboxName, MaildirBackend, MaildirOptions, Store, StoreConfig,
    StoreError,
};

use crate::args::Fsync;

/// The store for `--mail-root DIR`: each user's mail is
/// `DIR/<user>/Maildir`, in Maildir++ with Dovecot's index files, so Dovecot
/// can serve the same mail (with the same UIDLs) at the same time. An
/// account holds `max_mailboxes` mailboxes at most; what was read of
/// `idle_accounts` accounts no one uses stays in memory, and what one
/// account's folder state may take is `state_memory` octets.
pub fn open(
    mail_root: &Path,
    fsync: Fsync,
    max_mailboxes: usize,
    idle_accounts: usize,
    state_memory: u64,
) -> Result<Store, String> {
    let options = match fsync {
        Fsync::Full => MaildirOptions::default(),
        Fsync::Optimized => MaildirOptions::default().with_flag_changes_flushed(false),
        Fsync::Off => MaildirOptions::default().with_fsync(false),
    }
    .with_state_memory(state_memory);
    let backend = MaildirBackend::with_options(mail_root, options)
        .map_err(|e| format!("{}: {e}", mail_root.display()))?;
    let config = StoreConfig {
        max_mailboxes,
        max_idle_accounts: idle_accounts,
        ..StoreConfig::default()
    };
    Ok(Store::with_config(backend, config))
}

/// Gives an account the mailboxes a new one gets (Drafts, Sent, Junk,
/// Trash with their SPECIAL-USE attributes) where it has none of the name:
/// the demo's account, written as files, starts with INBOX only.
pub fn add_default_mailboxes(store: &Store, user: &str) -> Result<(), String> {
    let failed = |e: StoreError| format!("cannot create the mailboxes of {user}: {e}");
    let account = store
        .account(&AccountName::new(user).map_err(|e| failed(e.into()))?)
        .map_err(failed)?;
    for (name, special_use) in DEFAULT_MAILBOXES {
        let name = MailboxName::new(name).map_err(|e| failed(e.into()))?;
        if name.is_inbox() {
            continue;
        }
        match account.create_mailbox(&name, special_use.as_slice()) {
            // Past `--max-mailboxes`, the account does without it.
            Ok(_) | Err(StoreError::MailboxExists(_) | StoreError::Limit(_)) => {}
            Err(e) => return Err(failed(e)),
        }
    }
    Ok(())
}

/// Where the demo keeps its files.
#[derive(Debug, Clone)]
pub struct Demo {
    /// The demo's directory.
    pub dir: PathBuf,
}

impl Demo {
    /// The passwd-file.
    pub fn users_file(&self) -> PathBuf {
        self.dir.join("users")
    }

    /// The mail root.
    pub fn mail_root(&self) -> PathBuf {
        self.dir.join("mail")
    }

    /// Where the generated certificate is written for clients to trust.
    pub fn cert_file(&self) -> PathBuf {
        self.dir.join("tls-cert.pem")
    }

    /// Creates the demo's user and messages unless they exist already;
    /// true if it created them.
    pub fn prepare(&self) -> Result<bool, String> {
        let users = self.users_file();
        if users.exists() {
            return Ok(false);
        }
        let inbox = self.mail_root().join("alice").join("Maildir");
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(inbox.join(sub)).map_err(|e| format!("{}: {e}", inbox.display()))?;
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        for (i, message) in demo_messages().iter().enumerate() {
            let file = inbox
                .join("new")
                .join(format!("{now}.M{i}P{}.mailwire-demo", std::process::id()));
            std::fs::write(&file, message).map_err(|e| format!("{}: {e}", file.display()))?;
        }
        // Written last: its presence says the demo is complete.
        std::fs::write(
            &users,
            "# user:password:uid:gid:gecos:home:shell:extra\nalice:{PLAIN}secret::::::\n",
        )
        .map_err(|e| format!("{}: {e}", users.display()))?;
        Ok(true)
    }
}

/// The demo's messages, as Maildir files hold them (LF line ends).
fn demo_messages() -> Vec<Vec<u8>> {
    let header = |n: usize, subject: &str| {
        format!(
            "From: mailwire demo <demo@mailwire.invalid>\nTo: alice@mailwire.invalid\n\
             Subject: {subject}\nDate: Sun, 22 Nov 2026 10:0{n}:00 +0000\n\
             Message-ID: <demo-{n}@mailwire.invalid>\n"
        )
    };
    let mut messages = vec![
        format!(
            "{}\nThis is your demo maildrop, served by mailwire.\n\
             Try LIST, UIDL, TOP 1 0, RETR and DELE (then RSET or QUIT).\n",
            header(1, "Welcome to mailwire")
        )
        .into_bytes(),
        format!(
            "{}\nA line with a single dot follows:\n.\n..and one that starts with two dots.\n\
             .signature-like line\n",
            header(2, "Dots")
        )
        .into_bytes(),
    ];
    let mut attachment = header(3, "A small attachment");
    attachment.push_str(
        "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b1\"\n\n--b1\n\
         Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n\
         Gr\u{fc}\u{df}e aus dem Demo-Postfach.\n\n--b1\nContent-Type: application/octet-stream\n\
         Content-Transfer-Encoding: base64\nContent-Disposition: attachment; filename=\"bytes.bin\"\n\n",
    );
    let bytes: Vec<u8> = (0..=255u8).cycle().take(1024).collect();
    let encoded = base64_lines(&bytes);
    attachment.push_str(&encoded);
    attachment.push_str("--b1--\n");
    messages.push(attachment.into_bytes());
    messages
}

/// Base64 in lines of 76 characters (RFC 2045), each ending in LF.
fn base64_lines(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    let mut line = 0;
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
        line += 4;
        if line == 76 {
            out.push('\n');
            line = 0;
        }
    }
    if line > 0 {
        out.push('\n');
    }
    out
}
