//! TOP's cut (RFC 1939 section 7): the header, the blank line, then n body
//! lines.

/// Cuts a message after its header, the blank line and `n` body lines
/// (TOP, RFC 1939 section 7). Lines end at LF, so bare-LF messages count
/// the same way.
#[derive(Debug)]
pub(super) struct TopLimiter {
    in_header: bool,
    /// What the current line held so far: nothing, only CR, or more.
    line: LineSoFar,
    remaining: u32,
    pub(super) done: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LineSoFar {
    Empty,
    Cr,
    Content,
}

impl TopLimiter {
    pub(super) fn new(lines: u32) -> Self {
        TopLimiter {
            in_header: true,
            line: LineSoFar::Empty,
            remaining: lines,
            done: false,
        }
    }

    /// How many bytes of `chunk` to send.
    pub(super) fn take(&mut self, chunk: &[u8]) -> usize {
        if self.done {
            return 0;
        }
        let mut from = 0;
        for lf in memchr::memchr_iter(b'\n', chunk) {
            let line = &chunk[from..lf];
            let blank = matches!(
                (self.line, line),
                (LineSoFar::Empty, [] | [b'\r']) | (LineSoFar::Cr, [])
            );
            from = lf + 1;
            self.line = LineSoFar::Empty;
            if self.in_header {
                if blank {
                    self.in_header = false;
                    if self.remaining == 0 {
                        self.done = true;
                        return from;
                    }
                }
            } else {
                self.remaining -= 1;
                if self.remaining == 0 {
                    self.done = true;
                    return from;
                }
            }
        }
        let tail = &chunk[from..];
        self.line = match (self.line, tail) {
            (s, []) => s,
            (LineSoFar::Empty, [b'\r']) => LineSoFar::Cr,
            _ => LineSoFar::Content,
        };
        chunk.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn top(message: &[u8], lines: u32, step: usize) -> Vec<u8> {
        let mut t = TopLimiter::new(lines);
        let mut out = Vec::new();
        for chunk in message.chunks(step) {
            let keep = t.take(chunk);
            out.extend_from_slice(&chunk[..keep]);
            if t.done {
                break;
            }
        }
        out
    }

    #[test]
    fn top_counts_only_body_lines() {
        let m = b"A: 1\r\nB: 2\r\n\r\nl1\r\nl2\r\nl3\r\n";
        for step in 1..m.len() {
            assert_eq!(top(m, 0, step), b"A: 1\r\nB: 2\r\n\r\n");
            assert_eq!(top(m, 2, step), b"A: 1\r\nB: 2\r\n\r\nl1\r\nl2\r\n");
            assert_eq!(top(m, 9, step), m);
        }
        assert_eq!(top(b"A: 1\n\nbody\nmore\n", 1, 3), b"A: 1\n\nbody\n");
        // No blank line: the whole message is header.
        assert_eq!(top(b"A: 1\r\nB: 2", 0, 4), b"A: 1\r\nB: 2");
    }
}
