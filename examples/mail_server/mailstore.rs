//! The mail store behind the server, and the demo that makes one.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use mailwire::mailbox::{AccountName, AppendMessage, MailboxName, MemoryBackend, Store, UidValidity};

/// The store for `--mail-root DIR`, where each user's mail is
/// `DIR/<user>/Maildir`.
pub fn open(mail_root: &Path) -> Result<Store, String> {
    // Until the Maildir backend lands: a memory store that starts with a
    // copy of what the Maildirs hold (changes are not written back).
    let store = memory_store();
    import_maildirs(&store, mail_root)?;
    Ok(store)
}

/// An empty memory store whose UIDVALIDITY values start from the current
/// time, so they differ from any a previous run gave out.
fn memory_store() -> Store {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |d| d.as_secs());
    match UidValidity::new(u32::try_from(now).unwrap_or(1)) {
        Some(first) => Store::new(MemoryBackend::with_first_uid_validity(first)),
        None => Store::new(MemoryBackend::new()),
    }
}

fn import_maildirs(store: &Store, root: &Path) -> Result<(), String> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let maildir = entry.path().join("Maildir");
        let Some(user) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if !maildir.is_dir() {
            continue;
        }
        let name = AccountName::new(&user).map_err(|e| e.to_string())?;
        let account = store.create_account(&name).map_err(|e| e.to_string())?;
        let mut files: Vec<PathBuf> = Vec::new();
        for sub in ["cur", "new"] {
            if let Ok(dir) = std::fs::read_dir(maildir.join(sub)) {
                files.extend(dir.flatten().map(|e| e.path()).filter(|p| p.is_file()));
            }
        }
        files.sort();
        for file in files {
            let content = std::fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            account
                .append(&MailboxName::inbox(), AppendMessage::new(content))
                .map_err(|e| e.to_string())?;
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
