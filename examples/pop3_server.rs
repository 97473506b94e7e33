//! A small POP3 server on loopback, serving an in-memory demo maildrop.
//!
//! ```text
//! cargo run --release --example pop3_server [-- --listen 127.0.0.1:1110]
//! curl -u alice:secret pop3://127.0.0.1:1110/      # LIST
//! curl -u alice:secret pop3://127.0.0.1:1110/1     # RETR 1
//! ```
//!
//! It shows how a program drives `mailwire::pop3::ServerSession`: the
//! session does the protocol, the program moves bytes and checks
//! passwords. One thread per connection; the maildrop lives in memory, so
//! deletions last until the process ends. The full mail server, on
//! Maildirs with TLS and a user database, is the `mail_server` example.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mailwire::pop3::{
    LoginRejection, LoginRequest, MemoryMaildrop, ServerConfig, ServerEvent, ServerSession, Timestamp,
    UniqueId,
};

const USER: &[u8] = b"alice";
const PASSWORD: &[u8] = b"secret";
/// RFC 1939 section 3: an idle timer of at least 10 minutes.
const IDLE_TIMEOUT: Duration = Duration::from_secs(600);

fn demo_maildrop() -> MemoryMaildrop {
    let maildrop = MemoryMaildrop::new();
    let messages: [(&str, &str); 3] = [
        (
            "Welcome to mailwire",
            "This maildrop lives in memory.\r\nTry RETR, TOP, UIDL and DELE.\r\n",
        ),
        (
            "Dots",
            "A line with a single dot follows:\r\n.\r\n..and one that starts with two.\r\n",
        ),
        (
            "Bare line feeds",
            "This message was stored\nwith bare LF line ends\n",
        ),
    ];
    for (i, (subject, body)) in messages.iter().enumerate() {
        let message = format!(
            "From: mailwire <demo@mailwire.invalid>\r\nTo: alice@mailwire.invalid\r\nSubject: {subject}\r\n\
             Message-ID: <demo-{i}@mailwire.invalid>\r\n\r\n{body}"
        );
        let uid = UniqueId::new(format!("demo-{i}")).expect("valid unique id");
        maildrop.push(uid, message.into_bytes());
    }
    maildrop
}

fn serve(mut stream: TcpStream, maildrop: MemoryMaildrop, counter: u64) -> std::io::Result<()> {
    stream.set_read_timeout(Some(IDLE_TIMEOUT))?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let config = ServerConfig {
        allow_plaintext_auth: true,
        apop_timestamp: Timestamp::generate(std::process::id(), counter, now, "localhost").ok(),
        ..ServerConfig::default()
    };
    let mut session = ServerSession::new(config);
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let mut progressed = true;
        while progressed {
            progressed = false;
            while let Some(event) = session.poll_event() {
                progressed = true;
                match event {
                    ServerEvent::Login(request) => {
                        let ok = match &request {
                            LoginRequest::User { user, password } => {
                                user.as_inner() == USER && password.expose() == PASSWORD
                            }
                            LoginRequest::Apop { user, .. } => {
                                user.as_inner() == USER && request.verify_apop(PASSWORD)
                            }
                            LoginRequest::Plain(c) => {
                                c.authcid == USER && c.expose_password() == PASSWORD && request.user() == USER
                            }
                            LoginRequest::Sasl { .. } => false,
                        };
                        if ok {
                            // Gives the maildrop back only if no login was pending.
                            let _ = session.accept_login(maildrop.clone());
                        } else {
                            session.reject_login(LoginRejection::BadCredentials);
                        }
                    }
                    ServerEvent::StartTls => {}
                    ServerEvent::Closed { committed } => {
                        eprintln!("session closed, deletions committed: {committed}");
                    }
                }
            }
            while let Some(bytes) = session.poll_transmit() {
                progressed = true;
                stream.write_all(&bytes)?;
            }
        }
        if session.is_closed() {
            return Ok(());
        }
        let n = stream.read(&mut buf)?;
        if n == 0 {
            // Dropped without QUIT: the session commits nothing.
            return Ok(());
        }
        session.receive(&buf[..n]);
    }
}

fn main() -> std::io::Result<()> {
    let mut listen: SocketAddr = "127.0.0.1:1110".parse().expect("valid address");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--listen", Some(addr)) => {
                listen = addr
                    .parse()
                    .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?
            }
            _ => {
                eprintln!("usage: pop3_server [--listen ADDR]");
                std::process::exit(2);
            }
        }
    }
    let listener = TcpListener::bind(listen)?;
    let addr = listener.local_addr()?;
    let maildrop = demo_maildrop();
    println!("POP3 demo server on {addr}: user alice, password secret, 3 messages.");
    println!("  curl -u alice:secret pop3://{addr}/      lists the messages");
    println!("  curl -u alice:secret pop3://{addr}/1     retrieves message 1");
    println!("Press Ctrl-C to stop.");
    let counter = AtomicU64::new(0);
    for stream in listener.incoming() {
        let stream = stream?;
        let maildrop = maildrop.clone();
        let n = counter.fetch_add(1, Ordering::Relaxed);
        std::thread::spawn(move || {
            if let Err(e) = serve(stream, maildrop, n) {
                eprintln!("connection ended: {e}");
            }
        });
    }
    Ok(())
}
