//! A private Dovecot POP3 server for one test: its own configuration,
//! directories, users and ports under a temporary directory, listening on
//! 127.0.0.1 only, stopped when dropped.

use std::fs;
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::tmpfs::is_root;

/// The account every test logs in with.
pub const USER: &str = "bob";
/// Its password: tests check that it never shows up in the client's output.
pub const PASSWORD: &str = "Pw-7f3a-never-logged";

/// The system user that owns the mail, created when running as root.
const MAIL_OWNER: &str = "mailwire-test";

/// The Dovecot binary, or `None` with a loud message if it is missing
/// (on CI, which installs it, a missing Dovecot fails the test).
pub fn dovecot_binary() -> Option<PathBuf> {
    let found = ["/usr/sbin/dovecot", "/usr/local/sbin/dovecot"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .or_else(|| {
            let out = Command::new("sh")
                .args(["-c", "command -v dovecot"])
                .output()
                .ok()?;
            let path = String::from_utf8(out.stdout).ok()?;
            let path = path.trim();
            (!path.is_empty()).then(|| PathBuf::from(path))
        });
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "Dovecot is not installed, and CI must run this test: install dovecot-core and dovecot-pop3d"
        );
        eprintln!(
            "\n*** SKIPPED: Dovecot is not installed. The POP3 client tests run against a real \
             Dovecot:\n***   apt-get install dovecot-core dovecot-pop3d\n"
        );
    }
    found
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port on 127.0.0.1");
    listener.local_addr().expect("local address").port()
}

/// `id -un` or `id -gn`: the current user's or group's name.
fn current(flag: &str) -> String {
    let out = Command::new("id").arg(flag).output().expect("run id");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn user_exists(name: &str) -> bool {
    Command::new("id")
        .arg(name)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The user and group that own the mail and run the mail processes.
fn mail_owner() -> (String, String) {
    if !is_root() {
        return (current("-un"), current("-gn"));
    }
    if !user_exists(MAIL_OWNER) {
        let _ = Command::new("useradd")
            .args([
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                MAIL_OWNER,
            ])
            .status();
        // Another test may have created it at the same moment.
        assert!(
            user_exists(MAIL_OWNER),
            "cannot create the system user {MAIL_OWNER}"
        );
    }
    // useradd makes a group of the same name.
    (MAIL_OWNER.to_owned(), MAIL_OWNER.to_owned())
}

/// TLS for a Dovecot instance: the server's certificate chain and key.
pub struct ServerTls {
    /// PEM certificate chain.
    pub cert_pem: String,
    /// PEM private key.
    pub key_pem: String,
}

/// A running Dovecot.
pub struct Dovecot {
    dir: PathBuf,
    child: Child,
    owner: (String, String),
    /// The pop3 listener (plain text, STLS when TLS is configured).
    pub port: u16,
    /// The pop3s listener (implicit TLS), when TLS is configured.
    pub pop3s_port: Option<u16>,
}

impl Dovecot {
    /// Starts Dovecot with the server Maildir of [`USER`] holding
    /// `messages` (written into `cur/`). With `tls`, TLS is required:
    /// STLS on the pop3 port, implicit TLS on the pop3s port.
    pub fn start(binary: &Path, messages: &[Vec<u8>], tls: Option<&ServerTls>) -> Dovecot {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "mailwire-pop3-client-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&dir);
        for sub in ["run", "state", "mail", "client"] {
            fs::create_dir_all(dir.join(sub)).unwrap();
        }
        let owner = mail_owner();
        let (user, group) = (&owner.0, &owner.1);
        let root = is_root();
        let maildir = dir.join("mail").join(USER).join("Maildir");
        for sub in ["cur", "new", "tmp"] {
            fs::create_dir_all(maildir.join(sub)).unwrap();
        }
        fs::write(dir.join("passwd"), format!("{USER}:{{PLAIN}}{PASSWORD}\n")).unwrap();

        let port = free_port();
        let pop3s_port = tls.map(|_| free_port());
        let d = dir.display();
        let (internal_user, login_user) = if root {
            ("dovecot".to_owned(), "dovenull".to_owned())
        } else {
            (user.clone(), user.clone())
        };
        let mut conf = format!(
            "protocols = pop3\n\
             listen = 127.0.0.1\n\
             base_dir = {d}/run\n\
             state_dir = {d}/state\n\
             log_path = {d}/dovecot.log\n\
             info_log_path = {d}/dovecot.log\n\
             disable_plaintext_auth = no\n\
             auth_mechanisms = plain apop\n\
             mail_location = maildir:{d}/mail/%u/Maildir\n\
             pop3_uidl_format = %08Xu%08Xv\n\
             default_internal_user = {internal_user}\n\
             default_login_user = {login_user}\n\
             mail_uid = {user}\n\
             mail_gid = {group}\n\
             first_valid_uid = 1\n\
             first_valid_gid = 1\n\
             passdb {{\n  driver = passwd-file\n  args = scheme=PLAIN {d}/passwd\n}}\n\
             userdb {{\n  driver = static\n  args = uid={user} gid={group} home={d}/mail/%u\n}}\n\
             service imap-login {{\n  inet_listener imap {{\n    port = 0\n  }}\n  \
             inet_listener imaps {{\n    port = 0\n  }}\n}}\n"
        );
        // Without root, no chroot and no other users: everything runs as
        // the current user.
        let chroot = if root { "" } else { "  chroot =\n" };
        if !root {
            conf.push_str(&format!(
                "default_internal_group = {group}\nservice anvil {{\n  chroot =\n}}\n"
            ));
        }
        match (tls, pop3s_port) {
            (Some(tls), Some(pop3s)) => {
                fs::write(dir.join("cert.pem"), &tls.cert_pem).unwrap();
                fs::write(dir.join("key.pem"), &tls.key_pem).unwrap();
                conf.push_str(&format!(
                    "ssl = required\n\
                     ssl_cert = <{d}/cert.pem\n\
                     ssl_key = <{d}/key.pem\n\
                     service pop3-login {{\n{chroot}  inet_listener pop3 {{\n    address = 127.0.0.1\n    \
                     port = {port}\n  }}\n  inet_listener pop3s {{\n    address = 127.0.0.1\n    \
                     port = {pop3s}\n    ssl = yes\n  }}\n}}\n"
                ));
                if Path::new("/usr/share/dovecot/dh.pem").exists() {
                    conf.push_str("ssl_dh = </usr/share/dovecot/dh.pem\n");
                }
            }
            _ => conf.push_str(&format!(
                "ssl = no\n\
                 service pop3-login {{\n{chroot}  inet_listener pop3 {{\n    address = 127.0.0.1\n    \
                 port = {port}\n  }}\n  inet_listener pop3s {{\n    port = 0\n  }}\n}}\n"
            )),
        }
        fs::write(dir.join("dovecot.conf"), conf).unwrap();

        let mut dovecot = Dovecot {
            child: Command::new(binary)
                .arg("-F")
                .arg("-c")
                .arg(dir.join("dovecot.conf"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::from(fs::File::create(dir.join("dovecot.stderr")).unwrap()))
                .spawn()
                .expect("start dovecot"),
            dir,
            owner,
            port,
            pop3s_port,
        };
        for (i, message) in messages.iter().enumerate() {
            let name = format!("{}.seed{i}.mailwire:2,", 1_700_000_000 + i);
            fs::write(dovecot.maildir().join("cur").join(name), message).unwrap();
        }
        dovecot.chown(&dovecot.dir.join("mail"));
        dovecot.wait_ready();
        dovecot
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "dovecot exited with {status}:\n{}\n{}",
                    fs::read_to_string(self.dir.join("dovecot.stderr")).unwrap_or_default(),
                    self.log()
                );
            }
            if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) {
                stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                let mut byte = [0u8; 1];
                if stream.read(&mut byte).is_ok_and(|n| n == 1) {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "dovecot did not start:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The temporary directory of this instance; the tests put the client's
    /// files in its `client/`.
    pub fn client_dir(&self) -> PathBuf {
        self.dir.join("client")
    }

    /// The server's Maildir of [`USER`].
    pub fn maildir(&self) -> PathBuf {
        self.dir.join("mail").join(USER).join("Maildir")
    }

    /// Delivers a message into the server Maildir's `sub` (`new` or `cur`).
    pub fn add_message(&self, sub: &str, name: &str, contents: &[u8]) {
        // Written aside and renamed in, as a delivery agent does.
        let tmp = self.maildir().join("tmp").join(name);
        fs::write(&tmp, contents).unwrap();
        self.chown(&tmp);
        fs::rename(&tmp, self.maildir().join(sub).join(name)).unwrap();
    }

    fn chown(&self, path: &Path) {
        let status = Command::new("chown")
            .arg("-R")
            .arg(format!("{}:{}", self.owner.0, self.owner.1))
            .arg(path)
            .status()
            .expect("run chown");
        assert!(status.success(), "chown failed");
    }

    /// The messages in the server Maildir, in no particular order.
    pub fn messages(&self) -> Vec<Vec<u8>> {
        let mut messages = Vec::new();
        for sub in ["cur", "new"] {
            for entry in fs::read_dir(self.maildir().join(sub)).unwrap() {
                messages.push(fs::read(entry.unwrap().path()).unwrap());
            }
        }
        messages
    }

    /// Dovecot's log.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("dovecot.log")).unwrap_or_default()
    }

    /// The POP3 sessions Dovecot logged as ended: for each, the `retr=`
    /// and `del=` counts (`retr=N/bytes`, `del=N/total`).
    pub fn sessions(&self) -> Vec<(u64, u64)> {
        let field = |line: &str, key: &str| -> Option<u64> {
            let start = line.find(key)? + key.len();
            let rest = line.get(start..)?;
            let end = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
            rest.get(..end)?.parse().ok()
        };
        self.log()
            .lines()
            .filter(|l| l.contains("Disconnected"))
            .filter_map(|l| Some((field(l, "retr=")?, field(l, "del=")?)))
            .collect()
    }

    /// Waits until Dovecot has logged the end of `count` sessions; returns
    /// the last one's counts.
    pub fn wait_sessions(&self, count: usize) -> (u64, u64) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let sessions = self.sessions();
            if sessions.len() >= count {
                return *sessions.last().unwrap();
            }
            assert!(
                Instant::now() < deadline,
                "dovecot logged {} sessions, expected {count}:\n{}",
                sessions.len(),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        // SIGTERM lets the master stop its children; SIGKILL if it hangs.
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !std::thread::panicking() {
            let _ = fs::remove_dir_all(&self.dir);
        } else {
            eprintln!("kept {} for inspection", self.dir.display());
        }
    }
}
