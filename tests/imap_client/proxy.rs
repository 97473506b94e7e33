//! A TCP proxy on loopback whose connections the test can cut, to see a
//! client reconnect, and which can rewrite what the server sends, to play
//! a hostile server with a real one's conversation.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// Forwards every connection to `upstream`.
pub struct Proxy {
    /// Where clients connect.
    pub addr: SocketAddr,
    open: Arc<Mutex<Vec<TcpStream>>>,
}

/// Rewrites one line the server sent (line end included): what to send
/// the client instead, or `None` to send it as it is.
pub type Rewrite = fn(&[u8]) -> Option<Vec<u8>>;

/// Rewrites the octets of a literal the server sent, in place (its
/// length announced stays true).
pub type RewriteLiteral = fn(&mut [u8]);

impl Proxy {
    /// Listens on a free loopback port.
    pub fn start(upstream: SocketAddr) -> Proxy {
        Proxy::rewriting(upstream, None)
    }

    /// Listens on a free loopback port; the server's lines go through
    /// `rewrite` (its literals pass as they are).
    pub fn rewriting(upstream: SocketAddr, rewrite: Option<Rewrite>) -> Proxy {
        Proxy::rewriting_literals(upstream, rewrite, None)
    }

    /// Listens on a free loopback port; the server's lines go through
    /// `rewrite` and its literals through `literal`.
    pub fn rewriting_literals(
        upstream: SocketAddr,
        rewrite: Option<Rewrite>,
        literal: Option<RewriteLiteral>,
    ) -> Proxy {
        Proxy::forwarding(upstream, move |client, server| {
            pipe(client, server);
            match (rewrite, literal) {
                (None, None) => pipe(server, client),
                (rewrite, literal) => pipe_lines(server, client, rewrite, literal),
            }
        })
    }

    /// Listens on a free loopback port; the server's lines pass whole
    /// until one that `after` picks (with `None`, none: from the first
    /// octet, a TLS handshake included), and from then on its octets go
    /// one at a time, `gap` apart: a server that answers, slowly.
    pub fn slowing(
        upstream: SocketAddr,
        after: Option<fn(&[u8]) -> bool>,
        gap: std::time::Duration,
    ) -> Proxy {
        Proxy::forwarding(upstream, move |client, server| {
            pipe(client, server);
            pipe_slowing(server, client, after, gap)
        })
    }

    /// Listens on a free loopback port for TLS clients; what the server
    /// sends passes at once until the client has sent `records` TLS
    /// application-data records (its encrypted handshake end, then its
    /// commands), and from then on an octet at a time, `gap` apart: a
    /// server whose records come slowly, each octet before a read would
    /// time out.
    pub fn slowing_tls(upstream: SocketAddr, records: usize, gap: std::time::Duration) -> Proxy {
        Proxy::forwarding(upstream, move |client, server| {
            let slow = Arc::new(std::sync::atomic::AtomicBool::new(false));
            count_records(client, server, records, Arc::clone(&slow));
            pipe_paced(server, client, slow, gap);
        })
    }

    /// Listens on a free loopback port and connects each client to
    /// `upstream`; `copy` (client, server) starts the threads that copy
    /// between them.
    fn forwarding(upstream: SocketAddr, copy: impl Fn(&TcpStream, &TcpStream) + Send + 'static) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let addr = listener.local_addr().expect("the proxy's address");
        let open = Arc::new(Mutex::new(Vec::new()));
        let streams = Arc::clone(&open);
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { break };
                let Ok(server) = TcpStream::connect(upstream) else {
                    continue;
                };
                for stream in [&client, &server] {
                    if let Ok(clone) = stream.try_clone() {
                        streams.lock().unwrap_or_else(|e| e.into_inner()).push(clone);
                    }
                }
                copy(&client, &server);
            }
        });
        Proxy { addr, open }
    }

    /// Cuts every connection open now.
    pub fn cut(&self) {
        for stream in self.open.lock().unwrap_or_else(|e| e.into_inner()).drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

/// Copies from `from` to `to` on a thread until either side closes.
fn pipe(from: &TcpStream, to: &TcpStream) {
    let (Ok(mut from), Ok(mut to)) = (from.try_clone(), to.try_clone()) else {
        return;
    };
    std::thread::spawn(move || {
        let mut buf = [0; 16 * 1024];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 || to.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Both);
        let _ = from.shutdown(Shutdown::Both);
    });
}

/// Runs `copy` on a thread with a reader of `from`'s lines and `to`, then
/// closes both.
fn copy_lines(
    from: &TcpStream,
    to: &TcpStream,
    copy: impl FnOnce(&mut BufReader<&TcpStream>, &mut TcpStream) + Send + 'static,
) {
    let (Ok(from), Ok(mut to)) = (from.try_clone(), to.try_clone()) else {
        return;
    };
    std::thread::spawn(move || {
        copy(&mut BufReader::new(&from), &mut to);
        let _ = to.shutdown(Shutdown::Both);
        let _ = from.shutdown(Shutdown::Both);
    });
}

/// The next line (line end included) into `line`; false at the end.
fn next_line(reader: &mut BufReader<&TcpStream>, line: &mut Vec<u8>) -> bool {
    line.clear();
    matches!(reader.read_until(b'\n', line), Ok(n) if n > 0)
}

/// Copies the server's lines from `from` to `to` through `rewrite` on a
/// thread until either side closes; a line announcing a literal
/// (`{n}` at its end) is followed by its n octets, copied as they are or
/// through `literal`.
fn pipe_lines(from: &TcpStream, to: &TcpStream, rewrite: Option<Rewrite>, literal: Option<RewriteLiteral>) {
    copy_lines(from, to, move |reader, to| {
        let mut line = Vec::new();
        while next_line(reader, &mut line) {
            let out = rewrite.and_then(|r| r(&line)).unwrap_or_else(|| line.clone());
            if to.write_all(&out).is_err() {
                break;
            }
            let Some(length) = literal_length(&line) else {
                continue;
            };
            let mut data = reader.take(length);
            let copied = match literal {
                None => std::io::copy(&mut data, to).ok(),
                Some(literal) => {
                    let mut octets = Vec::new();
                    let _ = data.read_to_end(&mut octets);
                    literal(&mut octets);
                    to.write_all(&octets).ok().map(|()| octets.len() as u64)
                }
            };
            if copied != Some(length) {
                break;
            }
        }
    });
}

/// Copies the server's lines from `from` to `to` on a thread until either
/// side closes; past the first line `after` picks (from the start with
/// `None`), one octet at a time, `gap` apart.
fn pipe_slowing(
    from: &TcpStream,
    to: &TcpStream,
    after: Option<fn(&[u8]) -> bool>,
    gap: std::time::Duration,
) {
    copy_lines(from, to, move |reader, to| {
        if let Some(after) = after {
            let mut line = Vec::new();
            loop {
                if !next_line(reader, &mut line) || to.write_all(&line).is_err() {
                    return;
                }
                if after(&line) {
                    break;
                }
            }
        }
        let mut octet = [0u8];
        while matches!(reader.read(&mut octet), Ok(1)) {
            std::thread::sleep(gap);
            if to.write_all(&octet).is_err() {
                return;
            }
        }
    });
}

/// Copies the client's octets to the server on a thread, counting the TLS
/// application-data records among them; `slow` is set once `records` of
/// them have come, before the last is passed on.
fn count_records(from: &TcpStream, to: &TcpStream, records: usize, slow: Arc<std::sync::atomic::AtomicBool>) {
    let (Ok(mut from), Ok(mut to)) = (from.try_clone(), to.try_clone()) else {
        return;
    };
    std::thread::spawn(move || {
        // The current record's header as far as read, and how many of its
        // octets are still to come after it.
        let (mut header, mut left, mut seen) = (Vec::new(), 0usize, 0usize);
        let mut buf = [0; 16 * 1024];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 {
                break;
            }
            for &octet in &buf[..n] {
                if left > 0 {
                    left -= 1;
                    continue;
                }
                header.push(octet);
                if header.len() == 5 {
                    left = usize::from(u16::from_be_bytes([header[3], header[4]]));
                    if header[0] == 23 {
                        seen += 1;
                    }
                    header.clear();
                }
            }
            if seen >= records {
                slow.store(true, std::sync::atomic::Ordering::SeqCst);
            }
            if to.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Both);
        let _ = from.shutdown(Shutdown::Both);
    });
}

/// Copies the server's octets to the client on a thread, an octet at a
/// time `gap` apart once `slow` is set.
fn pipe_paced(
    from: &TcpStream,
    to: &TcpStream,
    slow: Arc<std::sync::atomic::AtomicBool>,
    gap: std::time::Duration,
) {
    let (Ok(mut from), Ok(mut to)) = (from.try_clone(), to.try_clone()) else {
        return;
    };
    std::thread::spawn(move || {
        let mut buf = [0; 16 * 1024];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 {
                break;
            }
            let sent = if slow.load(std::sync::atomic::Ordering::SeqCst) {
                buf[..n].iter().all(|octet| {
                    std::thread::sleep(gap);
                    to.write_all(std::slice::from_ref(octet)).is_ok()
                })
            } else {
                to.write_all(&buf[..n]).is_ok()
            };
            if !sent {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Both);
        let _ = from.shutdown(Shutdown::Both);
    });
}

/// The length of the literal a line announces at its end (`{n}` or
/// `~{n}`, then CRLF).
pub fn literal_length(line: &[u8]) -> Option<u64> {
    let line = line.strip_suffix(b"\r\n")?.strip_suffix(b"}")?;
    let open = line.iter().rposition(|&b| b == b'{')?;
    std::str::from_utf8(&line[open + 1..]).ok()?.parse().ok()
}
