//! A small POP3 server on loopback, serving an in-memory demo maildrop.
//!
//! ```text
//! cargo run --release --example pop3_server [-- --listen 127.0.0.1:1110]
//! curl -u alice:secret pop3://127.0.0.1:1110/      # LIST
//! curl -u alice:secret pop3://127.0.0.1:1110/1     # RETR 1
//! ```
//!
//! It shows how a program drives `mailwire::pop3::ServerSession`: the
//! session does the protocol, the program moves bytes and time and checks
//! passwords, and a `MaildropServer` answers the session's storage events
//! from the maildrop. One thread per connection; the maildrop lives in
//! memory, so deletions last until the process ends. The full mail server,
//! on Maildirs with TLS and a user database, is the `mail_server` example.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mailwire::pop3::{
    LoginRejection, LoginRequest, MaildropServer, MemoryMaildrop, ServerConfig, ServerEvent, ServerSession,
    Timestamp, UniqueId,
};

const USER: &[u8] = b"alice";
const PASSWORD: &[u8] = b"secret";

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
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let config = ServerConfig {
        allow_plaintext_auth: true,
        apop_timestamp: Timestamp::generate(std::process::id(), counter, now, "localhost").ok(),
        // RFC 1939's autologout timer: 10 minutes, the default.
        ..ServerConfig::default()
    };
    let mut session = ServerSession::new(config);
    // Dropping it (however this function returns) releases the maildrop
    // of a session that did not QUIT: nothing is deleted.
    let mut store = MaildropServer::new();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        session.handle_timeout(Instant::now());
        let mut progressed = true;
        while progressed {
            progressed = false;
            while let Some(event) = store.poll_event(&mut session) {
                progressed = true;
                match event {
                    ServerEvent::Login(login) => {
                        let request = login.request();
                        let ok = match request {
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
                        let answered = if ok {
                            store.accept_login(&mut session, login, maildrop.clone())
                        } else {
                            session.reject_login(login, LoginRejection::BadCredentials)
                        };
                        answered.expect("the login of this session");
                    }
                    ServerEvent::Closed { committed } => {
                        eprintln!("session closed, deletions committed: {committed}");
                    }
                    _ => {}
                }
            }
            while let Some(bytes) = store.poll_transmit(&mut session) {
                progressed = true;
                stream.write_all(&bytes)?;
            }
        }
        if session.is_closed() {
            return Ok(());
        }
        // Wait for input until the session's next deadline.
        let wait = session
            .poll_timeout()
            .map(|deadline| deadline.saturating_duration_since(Instant::now()));
        stream.set_read_timeout(wait.map(|w| w.max(Duration::from_millis(1))))?;
        match stream.read(&mut buf) {
            // Gone without QUIT: the session commits nothing.
            Ok(0) => return Ok(()),
            Ok(n) => session.receive(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) => {}
            Err(e) => return Err(e),
        }
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
