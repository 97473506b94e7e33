//! One client connection, whatever the protocol: the socket, plain or in
//! TLS (from the first byte, or upgraded later by STLS or STARTTLS),
//! reads that end at a deadline or a stop of the server, writes bounded in
//! time, and the close. A protocol module drives its session over it.

use std::future::pending;
use std::io;
use std::time::{Duration, Instant};

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// How long the close (TLS close_notify, TCP shutdown) may take.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Tells connections that the server is stopping.
#[derive(Debug, Clone)]
pub struct Stop(watch::Receiver<bool>);

impl Stop {
    /// A stop signal, and the sender that raises it.
    pub fn new() -> (watch::Sender<bool>, Stop) {
        let (sender, receiver) = watch::channel(false);
        (sender, Stop(receiver))
    }

    /// Completes once the stop is raised (or its sender is gone).
    pub async fn requested(&mut self) {
        let _ = self.0.wait_for(|stopping| *stopping).await;
    }
}

/// How a connection ended, when no error ended it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The session closed (after QUIT or LOGOUT, or after a failure it
    /// reported).
    Closed,
    /// The client closed the connection.
    ClientLeft,
    /// No command within the idle timeout.
    IdleTimeout,
    /// The server is stopping.
    Stopped,
}

/// What a read brought.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// This many bytes, at the start of the buffer.
    Data(usize),
    /// The client closed its side.
    Eof,
    /// The deadline passed first.
    Deadline,
    /// The server is stopping.
    Stop,
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    /// Between a failed TLS upgrade and the close.
    Gone,
}

impl Stream {
    async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf).await,
            Stream::Tls(s) => s.read(buf).await,
            Stream::Gone => Ok(0),
        }
    }

    /// Writes `bytes` and flushes them out of TLS's buffer.
    async fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.write_all(bytes).await,
            Stream::Tls(s) => {
                s.write_all(bytes).await?;
                s.flush().await
            }
            Stream::Gone => Err(io::ErrorKind::NotConnected.into()),
        }
        .map_err(|e| io::Error::new(e.kind(), format!("write: {e}")))
    }

    /// TLS's close_notify, then the TCP shutdown.
    async fn shutdown(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.shutdown().await,
            Stream::Tls(s) => s.shutdown().await,
            Stream::Gone => Ok(()),
        }
    }
}

/// The most compressed input held that inflating has not taken.
const MAX_COMPRESSED_PENDING: usize = 256 * 1024;

/// COMPRESS=DEFLATE (RFC 4978): raw deflate both ways, each write flushed
/// to a byte boundary so the client can read it at once.
struct Deflate {
    compress: Compress,
    decompress: Decompress,
    /// Compressed input not yet inflated.
    input: Vec<u8>,
    start: usize,
    /// Where raw reads land.
    scratch: Vec<u8>,
}

impl Deflate {
    fn new(input: &[u8]) -> Deflate {
        Deflate {
            compress: Compress::new(Compression::default(), false),
            decompress: Decompress::new(false),
            input: input.to_vec(),
            start: 0,
            scratch: vec![0; 16 * 1024],
        }
    }

    /// Inflates buffered input into `out`: how many bytes came out. At most
    /// `out.len()` bytes come out of one call, however well the input
    /// compresses. A stream the client ended (a final block) takes no more
    /// input: what follows it is an error, not input to keep.
    fn inflate(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let (in_before, out_before) = (self.decompress.total_in(), self.decompress.total_out());
        let status = self
            .decompress
            .decompress(&self.input[self.start..], out, FlushDecompress::Sync)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("deflate: {e}")))?;
        self.start += (self.decompress.total_in() - in_before) as usize;
        if self.start == self.input.len() {
            self.input.clear();
            self.start = 0;
        }
        let produced = (self.decompress.total_out() - out_before) as usize;
        if produced == 0 && status == Status::StreamEnd {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "deflate: input after the end of the client's compressed stream",
            ));
        }
        Ok(produced)
    }

    /// `bytes`, compressed and flushed.
    fn deflate(&mut self, bytes: &[u8]) -> io::Result<Vec<u8>> {
        let mut out = Vec::with_capacity(bytes.len() / 2 + 64);
        let mut consumed = 0;
        loop {
            out.reserve(1024);
            let before = self.compress.total_in();
            self.compress
                .compress_vec(&bytes[consumed..], &mut out, FlushCompress::Sync)
                .map_err(|e| io::Error::other(format!("deflate: {e}")))?;
            consumed += (self.compress.total_in() - before) as usize;
            // Done once all input is in and the flush left room to spare.
            if consumed == bytes.len() && out.len() < out.capacity() {
                return Ok(out);
            }
        }
    }
}

/// A client's connection.
pub struct Connection {
    stream: Stream,
    deflate: Option<Box<Deflate>>,
    tls: TlsAcceptor,
    stop: Stop,
    /// The longest a write may take.
    io_timeout: Duration,
    /// Until the client has logged in, the login deadline: a TLS handshake
    /// and every write end by then, so that a client that reads slowly
    /// (or not at all) cannot outlive it.
    login_deadline: Option<Instant>,
    /// When the connection was taken: the login deadline counts from here,
    /// whatever an implicit TLS handshake took.
    accepted: Instant,
}

impl Connection {
    /// Takes an accepted socket; with `implicit_tls` it runs the TLS
    /// handshake first (POP3S, IMAPS). A handshake, now or after STLS or
    /// STARTTLS, must end by the login deadline, `login_timeout` from now.
    pub async fn new(
        socket: TcpStream,
        implicit_tls: bool,
        tls: TlsAcceptor,
        stop: Stop,
        io_timeout: Duration,
        login_timeout: Duration,
    ) -> io::Result<Connection> {
        let accepted = Instant::now();
        // Protocol lines are small and interactive.
        socket.set_nodelay(true)?;
        let mut connection = Connection {
            stream: Stream::Plain(socket),
            deflate: None,
            tls,
            stop,
            io_timeout,
            login_deadline: Some(accepted + login_timeout),
            accepted,
        };
        if implicit_tls {
            connection.start_tls("TLS handshake").await?;
        }
        Ok(connection)
    }

    /// The login deadline from now on: `None` once the client has logged
    /// in, a new one where logging out starts the clock again.
    pub fn set_login_deadline(&mut self, deadline: Option<Instant>) {
        self.login_deadline = deadline;
    }

    /// When the connection was accepted (before an implicit TLS
    /// handshake): where the login deadline counts from.
    pub fn accepted(&self) -> Instant {
        self.accepted
    }

    /// Whether TLS protects the connection.
    pub fn is_tls(&self) -> bool {
        matches!(self.stream, Stream::Tls(_))
    }

    /// Runs the TLS handshake as the server on the plain connection: the
    /// upgrade after STLS or STARTTLS. Nothing the client sent before is
    /// kept here: bytes not yet read go to the handshake.
    pub async fn upgrade(&mut self) -> io::Result<()> {
        self.start_tls("TLS upgrade").await
    }

    async fn start_tls(&mut self, what: &str) -> io::Result<()> {
        let Stream::Plain(socket) = std::mem::replace(&mut self.stream, Stream::Gone) else {
            return Err(io::Error::other(format!("{what}: TLS is already active")));
        };
        let until = self
            .login_deadline
            .unwrap_or_else(|| Instant::now() + self.io_timeout);
        let handshake = tokio::time::timeout_at(until.into(), self.tls.accept(socket));
        let stream = tokio::select! {
            _ = self.stop.requested() => return Err(stopping()),
            done = handshake => match done {
                Err(_) => return Err(io::Error::new(io::ErrorKind::TimedOut, format!("{what} timed out"))),
                Ok(Err(e)) => return Err(io::Error::new(e.kind(), format!("{what}: {e}"))),
                Ok(Ok(stream)) => stream,
            },
        };
        self.stream = Stream::Tls(Box::new(stream));
        Ok(())
    }

    /// `bytes` as they go on the wire: compressed after COMPRESS, `None`
    /// (as they are) before.
    fn compress(&mut self, bytes: &[u8]) -> io::Result<Option<Vec<u8>>> {
        self.deflate.as_mut().map(|d| d.deflate(bytes)).transpose()
    }

    /// Compresses everything from now on, both ways (COMPRESS=DEFLATE,
    /// RFC 4978); `input` is what already arrived after the command,
    /// compressed.
    pub fn start_compression(&mut self, input: &[u8]) {
        self.deflate = Some(Box::new(Deflate::new(input)));
    }

    /// Reads what the client sent into `buf`, waiting at most until
    /// `deadline` and no longer than until the server stops.
    pub async fn read(&mut self, buf: &mut [u8], deadline: Option<Instant>) -> io::Result<Input> {
        if self.deflate.is_none() {
            return self.read_raw(buf, deadline).await;
        }
        loop {
            let deflate = self.deflate.as_mut().expect("compressing");
            if !deflate.input.is_empty() {
                let n = deflate.inflate(buf)?;
                if n > 0 {
                    return Ok(Input::Data(n));
                }
            }
            let mut scratch = std::mem::take(&mut deflate.scratch);
            if scratch.is_empty() {
                // A read cancelled while it had the buffer out (the caller
                // waits on something else too) lost it.
                scratch = vec![0; 16 * 1024];
            }
            let read = self.read_raw(&mut scratch, deadline).await;
            let deflate = self.deflate.as_mut().expect("compressing");
            if let Ok(Input::Data(n)) = read {
                deflate.input.extend_from_slice(&scratch[..n]);
                // Inflating takes all it is given; input that piles up
                // instead is a stream it cannot read on.
                if deflate.input.len() - deflate.start > MAX_COMPRESSED_PENDING {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "deflate: compressed input that does not inflate",
                    ));
                }
            }
            deflate.scratch = scratch;
            match read? {
                Input::Data(_) => {}
                other => return Ok(other),
            }
        }
    }

    async fn read_raw(&mut self, buf: &mut [u8], deadline: Option<Instant>) -> io::Result<Input> {
        let Connection { stream, stop, .. } = self;
        let deadline = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => pending().await,
            }
        };
        let read = stream.read(buf);
        tokio::select! {
            _ = stop.requested() => Ok(Input::Stop),
            _ = deadline => Ok(Input::Deadline),
            read = read => read.map(|n| if n == 0 { Input::Eof } else { Input::Data(n) }),
        }
    }

    /// Sends `bytes` and flushes them (through TLS, if active). A client
    /// that does not read within the I/O timeout (or, before it has logged
    /// in, by the login deadline), or a stop of the server, ends the wait
    /// with an error.
    pub async fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        let compressed = self.compress(bytes)?;
        let bytes = compressed.as_deref().unwrap_or(bytes);
        let Connection {
            stream,
            stop,
            io_timeout,
            login_deadline,
            ..
        } = self;
        let limit = Instant::now() + *io_timeout;
        let until = login_deadline.map_or(limit, |d| d.min(limit));
        tokio::select! {
            _ = stop.requested() => Err(stopping()),
            written = tokio::time::timeout_at(until.into(), stream.send(bytes)) => {
                written.unwrap_or_else(|_| Err(io::Error::new(io::ErrorKind::TimedOut, "write timed out")))
            }
        }
    }

    /// Sends the last bytes of a session that has ended (the answer to
    /// QUIT or LOGOUT), even while the server stops, but waiting no longer
    /// than [`CLOSE_TIMEOUT`]: the client learns that its session ended
    /// well.
    pub async fn write_last(&mut self, bytes: &[u8]) -> io::Result<()> {
        let compressed = self.compress(bytes)?;
        let bytes = compressed.as_deref().unwrap_or(bytes);
        tokio::time::timeout(CLOSE_TIMEOUT, self.stream.send(bytes))
            .await
            .unwrap_or_else(|_| Err(io::Error::new(io::ErrorKind::TimedOut, "write timed out")))
    }

    /// Waits `delay`, or until a stop. Before login it does not wait past
    /// the login deadline: a wait that would end after it ends there, with
    /// an error that ends the connection (a login whose turn comes too
    /// late, see `penalty`, does not hold a slot longer).
    pub async fn pause(&mut self, delay: Duration) -> io::Result<()> {
        let wanted = Instant::now() + delay;
        let until = self.login_deadline.map_or(wanted, |d| d.min(wanted));
        tokio::select! {
            _ = self.stop.requested() => return Ok(()),
            _ = tokio::time::sleep_until(until.into()) => {}
        }
        if until < wanted {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the login deadline passed while waiting",
            ));
        }
        Ok(())
    }

    /// Awaits `work` (a login's wait for its turn, or its password check)
    /// by the login deadline and until the server stops: a login queued
    /// behind others holds its connection slot no longer than any login
    /// may take.
    pub async fn before_login_deadline<T>(
        &mut self,
        work: impl std::future::Future<Output = T>,
    ) -> io::Result<T> {
        let deadline = self.login_deadline;
        let bounded = async move {
            match deadline {
                Some(d) => tokio::time::timeout_at(d.into(), work).await.map_err(|_| {
                    io::Error::new(io::ErrorKind::TimedOut, "the login deadline passed while waiting")
                }),
                None => Ok(work.await),
            }
        };
        tokio::select! {
            _ = self.stop.requested() => Err(stopping()),
            done = bounded => done,
        }
    }

    /// Ends the connection: TLS's close_notify, then the TCP shutdown.
    pub async fn close(mut self) {
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, self.stream.shutdown()).await;
    }
}

/// The error of I/O cut short by a stop of the server.
fn stopping() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionAborted, "the server is stopping")
}
