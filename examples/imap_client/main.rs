//! An IMAP client, the IMAP way of reading mail: the mail stays on the
//! server; the client lists headers first, fetches a message (or one part
//! of it) when it is opened, files mail into mailboxes, uploads, and
//! deletes on the server.
//!
//! ```text
//! export MAILWIRE_PASSWORD=secret
//! cargo run --example imap_client -- --server imap.example.com:993 --user alice mailboxes
//! cargo run --example imap_client -- --server imap.example.com:993 --user alice headers --limit 10
//! cargo run --example imap_client -- --server imap.example.com:993 --user alice read 4242
//! cargo run --example imap_client -- --help
//! ```
//!
//! It shows how a program drives `mailwire::imap::client::ClientSession`
//! over a blocking socket with rustls: the session does the protocol
//! (tags, literals, which data answers which command, the selected
//! mailbox's changes), the program moves bytes and shows mail. It uses an
//! extension where the server offers it (LIST-STATUS, BINARY, MOVE,
//! UIDPLUS, MULTIAPPEND, SPECIAL-USE, QRESYNC) and the base protocol
//! otherwise.
#![forbid(unsafe_code)]

mod commands;
mod connection;
#[path = "../common/maildir_files.rs"]
mod maildir_files;
mod show;
mod sync;
#[path = "../common/tls_client.rs"]
mod tls_client;

use std::fmt;
use std::io::{BufRead, IsTerminal};
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{ArgAction, Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use crate::connection::{Imap, Target, TlsMode};

const AFTER_HELP: &str = "\
The password comes from the environment variable MAILWIRE_PASSWORD, or is
asked for on the terminal; never from the command line.

UIDs are numbers or ranges (12 13 20:25). Mailbox names are written as the
server shows them, in UTF-8, with the server's hierarchy separator.

Exit status: 0 done; 1 the server refused a command; 2 usage; 3 network, TLS
or protocol failure; 4 login refused; 5 local file failure; 6 login refused
for now.";

/// The command line.
#[derive(Debug, Parser)]
#[command(name = "imap_client", version, about = "Read and file mail on an IMAP server", after_help = AFTER_HELP)]
struct Args {
    /// The server.
    #[arg(long, value_name = "HOST:PORT", value_parser = tls_client::split_server)]
    server: (String, u16),
    /// How the connection is protected: implicit TLS is the default on
    /// port 993, STARTTLS elsewhere; `none` sends the password in clear.
    #[arg(long, value_enum, value_name = "MODE")]
    tls: Option<TlsMode>,
    /// Trust the CA certificates in this PEM file instead of the system's.
    #[arg(long, value_name = "PEM")]
    ca_file: Option<PathBuf>,
    /// The name to check in the server's certificate [default: HOST] (a
    /// server reached by address or through a tunnel)
    #[arg(long, value_name = "NAME")]
    tls_name: Option<String>,
    /// The user to log in as.
    #[arg(long, value_name = "NAME", value_parser = clap::builder::NonEmptyStringValueParser::new())]
    user: String,
    /// Seconds to wait for the server before giving up.
    #[arg(long, value_name = "SECS", default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..))]
    timeout: u64,
    /// More logging (-v, -vv).
    #[arg(short, long, action = ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

/// What to do.
#[derive(Debug, Subcommand)]
enum Command {
    /// Every mailbox with its special use, message count, unseen count and
    /// size.
    Mailboxes,
    /// The newest messages of a mailbox: UID, date, sender, subject, size
    /// and flags, from the envelope alone (no body is fetched).
    Headers {
        /// The mailbox.
        #[arg(long, default_value = "INBOX")]
        mailbox: String,
        /// How many messages.
        #[arg(long, value_name = "N", default_value_t = 20)]
        limit: u32,
    },
    /// Show a message's text (only its displayable text part is fetched),
    /// or save one of its parts with --part.
    Read {
        /// The message's UID.
        uid: NonZeroU32,
        /// The mailbox.
        #[arg(long, default_value = "INBOX")]
        mailbox: String,
        /// Save this part (as numbered in the list `read` prints, such as
        /// 2 or 1.3) to a file instead of showing the text.
        #[arg(long, value_name = "PART")]
        part: Option<String>,
        /// The file --part writes (default: the part's file name, in the
        /// current directory). An existing file is never overwritten.
        #[arg(long, value_name = "FILE", requires = "part")]
        output: Option<PathBuf>,
        /// Leave the message unread (no \Seen).
        #[arg(long)]
        peek: bool,
    },
    /// Move messages to another mailbox.
    Move {
        /// The UIDs.
        #[arg(required = true, value_name = "UID")]
        uids: Vec<String>,
        /// The destination mailbox.
        #[arg(long, value_name = "MAILBOX")]
        to: String,
        /// The mailbox the messages are in.
        #[arg(long, default_value = "INBOX")]
        mailbox: String,
    },
    /// Copy messages to another mailbox.
    Copy {
        /// The UIDs.
        #[arg(required = true, value_name = "UID")]
        uids: Vec<String>,
        /// The destination mailbox.
        #[arg(long, value_name = "MAILBOX")]
        to: String,
        /// The mailbox the messages are in.
        #[arg(long, default_value = "INBOX")]
        mailbox: String,
    },
    /// Delete messages: into the \Trash mailbox (refused when the server
    /// names none), for good with --expunge (or when they are in the
    /// trash already).
    Delete {
        /// The UIDs.
        #[arg(required = true, value_name = "UID")]
        uids: Vec<String>,
        /// The mailbox the messages are in.
        #[arg(long, default_value = "INBOX")]
        mailbox: String,
        /// Delete for good instead of moving to the trash.
        #[arg(long)]
        expunge: bool,
    },
    /// Set (+FLAG) or clear (-FLAG) flags and keywords: flag 12 13 +\Seen -\Flagged
    Flag {
        /// UIDs, then flags with + or - before each.
        #[arg(required = true, num_args = 2.., allow_hyphen_values = true, value_name = "UID|+FLAG|-FLAG")]
        args: Vec<String>,
        /// The mailbox the messages are in.
        #[arg(long, default_value = "INBOX")]
        mailbox: String,
    },
    /// Upload messages (files holding one message each) to a mailbox.
    Upload {
        /// The files.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// The mailbox.
        #[arg(long, value_name = "MAILBOX")]
        to: String,
        /// Flags for the uploaded messages (\Seen, $Label1...), comma-separated.
        #[arg(long, value_name = "FLAG", value_delimiter = ',')]
        flags: Vec<String>,
    },
    /// Print new, flagged and vanished messages as they happen (IDLE), and
    /// reconnect when the connection drops. Stops on Ctrl-C.
    Watch {
        /// The mailbox.
        #[arg(long, default_value = "INBOX")]
        mailbox: String,
        /// Stop after this many seconds (for scripts and tests), at most a
        /// year.
        #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(..=365 * 24 * 60 * 60))]
        stop_after: Option<u64>,
    },
    /// Mirror the account into a local Maildir and back: new messages,
    /// flags, deletions and moves on either side reach the other.
    Sync {
        /// The local Maildir (Maildir++: INBOX at its root, other
        /// mailboxes as .Name folders); created if missing.
        #[arg(long, value_name = "DIR")]
        maildir: PathBuf,
        /// Only the mailboxes matching this LIST pattern (* and %).
        #[arg(long, value_name = "PATTERN")]
        mailbox: Option<String>,
        /// Print what would change, and change nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

/// Why a run failed; each kind has its exit status.
#[derive(Debug)]
pub enum Failure {
    /// The server refused a command (1).
    Server(String),
    /// Bad command line or unusable local input (2).
    Usage(String),
    /// The network, TLS, or the server's protocol (3).
    Network(String),
    /// The server refused the credentials (4).
    Login(String),
    /// A local file (5).
    Local(String),
    /// The server refused the login for now (6).
    LoginTemporary(String),
}

impl Failure {
    /// The same failure, its text put after `context`.
    pub fn within(self, context: &str) -> Failure {
        let join = |m: String| format!("{context}: {m}");
        match self {
            Failure::Server(m) => Failure::Server(join(m)),
            Failure::Usage(m) => Failure::Usage(join(m)),
            Failure::Network(m) => Failure::Network(join(m)),
            Failure::Login(m) => Failure::Login(join(m)),
            Failure::Local(m) => Failure::Local(join(m)),
            Failure::LoginTemporary(m) => Failure::LoginTemporary(join(m)),
        }
    }

    fn exit_code(&self) -> u8 {
        match self {
            Failure::Server(_) => 1,
            Failure::Usage(_) => 2,
            Failure::Network(_) => 3,
            Failure::Login(_) => 4,
            Failure::Local(_) => 5,
            Failure::LoginTemporary(_) => 6,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Server(m)
            | Failure::Usage(m)
            | Failure::Network(m)
            | Failure::Login(m)
            | Failure::Local(m)
            | Failure::LoginTemporary(m) => f.write_str(m),
        }
    }
}

/// The password: `MAILWIRE_PASSWORD`, or a line typed on the terminal
/// (not echoed) or piped to standard input.
fn read_password() -> Result<Vec<u8>, Failure> {
    if let Some(p) = std::env::var_os("MAILWIRE_PASSWORD") {
        return Ok(p.into_encoded_bytes());
    }
    let stdin = std::io::stdin();
    let terminal = stdin.is_terminal();
    let saved = if terminal {
        eprint!("Password: ");
        let saved = rustix::termios::tcgetattr(&stdin).ok();
        if let Some(mut quiet) = saved.clone() {
            quiet.local_modes.remove(rustix::termios::LocalModes::ECHO);
            let _ = rustix::termios::tcsetattr(&stdin, rustix::termios::OptionalActions::Now, &quiet);
        }
        saved
    } else {
        None
    };
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    if let Some(saved) = saved {
        let _ = rustix::termios::tcsetattr(&stdin, rustix::termios::OptionalActions::Now, &saved);
        eprintln!();
    }
    read.map_err(|e| Failure::Usage(format!("reading the password: {e}")))?;
    let password = line.trim_end_matches(['\r', '\n']);
    if password.is_empty() {
        return Err(Failure::Usage(
            "no password: set MAILWIRE_PASSWORD or type it when asked".into(),
        ));
    }
    Ok(password.as_bytes().to_vec())
}

fn main() -> ExitCode {
    let args = Args::parse();
    let level = match args.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level)))
        .with_target(false)
        .without_time()
        .init();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("imap_client: {}", show::printable(&failure.to_string(), false));
            ExitCode::from(failure.exit_code())
        }
    }
}

fn run(args: Args) -> Result<(), Failure> {
    let (host, port) = &args.server;
    let tls = args.tls.unwrap_or(if *port == 993 {
        TlsMode::Implicit
    } else {
        TlsMode::StartTls
    });
    if tls == TlsMode::None {
        let place = if tls_client::is_loopback(host) {
            "this machine's loopback"
        } else {
            "the network"
        };
        tracing::warn!("--tls none: the password and the mail cross {place} unencrypted");
    }
    let target = Target {
        host,
        port: *port,
        tls,
        ca_file: args.ca_file.as_deref(),
        tls_name: args.tls_name.as_deref(),
        timeout: Duration::from_secs(args.timeout),
    };
    let password = read_password()?;
    let connect = || Imap::connect(&target, &args.user, &password);
    match args.command {
        Command::Watch { mailbox, stop_after } => {
            commands::watch(&connect, &mailbox, stop_after.map(Duration::from_secs))
        }
        command => {
            let mut imap = connect()?;
            let result = match command {
                Command::Mailboxes => commands::mailboxes(&mut imap),
                Command::Headers { mailbox, limit } => commands::headers(&mut imap, &mailbox, limit),
                Command::Read {
                    uid,
                    mailbox,
                    part,
                    output,
                    peek,
                } => commands::read(&mut imap, &mailbox, uid.get(), part.as_deref(), output, peek),
                Command::Move { uids, to, mailbox } => {
                    commands::transfer(&mut imap, &mailbox, &uids, &to, true)
                }
                Command::Copy { uids, to, mailbox } => {
                    commands::transfer(&mut imap, &mailbox, &uids, &to, false)
                }
                Command::Delete {
                    uids,
                    mailbox,
                    expunge,
                } => commands::delete(&mut imap, &mailbox, &uids, expunge),
                Command::Flag { args, mailbox } => commands::flag(&mut imap, &mailbox, &args),
                Command::Upload { files, to, flags } => commands::upload(&mut imap, &files, &to, &flags),
                Command::Sync {
                    maildir,
                    mailbox,
                    dry_run,
                } => sync::sync(
                    &mut imap,
                    &sync::Options {
                        maildir,
                        pattern: mailbox,
                        dry_run,
                    },
                ),
                Command::Watch { .. } => unreachable!("handled above"),
            };
            imap.logout();
            result
        }
    }
}
