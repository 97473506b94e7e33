//! Where the MIME parser reads a message from: a slice of memory, or a
//! file read a page at a time, so that a large message can be analysed
//! without being held in memory whole.
//!
//! The parser only moves forward through the message, looking at line
//! starts, boundary lines and header blocks; what it asks of a source is
//! the few operations below. The slice source borrows; the file source
//! copies what is asked into owned data and keeps one page.

use std::borrow::Cow;
use std::cell::RefCell;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use crate::content::push_crlf;
use memchr::memmem;

/// LF and bare-LF counts of a range.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Counts {
    pub lf: u64,
    pub bare_lf: u64,
}

impl std::ops::AddAssign for Counts {
    fn add_assign(&mut self, o: Counts) {
        self.lf += o.lf;
        self.bare_lf += o.bare_lf;
    }
}

/// What the parser reads a message through (see the module
/// documentation). Offsets are offsets in the message; ranges past its end
/// are cut to it.
pub(crate) trait Source<'a> {
    /// The message's length.
    fn len(&self) -> usize;

    /// The octets of `start..end`.
    fn bytes(&self, start: usize, end: usize) -> Cow<'a, [u8]>;

    /// The offset just past the first LF at or after `pos`, or the length.
    fn line_end(&self, pos: usize) -> usize;

    /// Calls `f` with the offset of each line that starts with `--` after
    /// a LF at or after `from`, in order, until it answers.
    fn find_dash_line<T>(&self, from: usize, f: impl FnMut(usize) -> Option<T>) -> Option<T>;

    /// The LFs of `start..end`, and how many have no CR before them.
    fn counts(&self, start: usize, end: usize) -> Counts;

    /// Accounts for `len` octets the parser keeps (a part's header block);
    /// false once the source will not let it keep more.
    fn keep(&self, len: usize) -> bool {
        let _ = len;
        true
    }

    /// Length of the line break that ends just before `pos` (0, 1 or 2).
    fn break_before(&self, pos: usize) -> usize {
        match &*self.bytes(pos.saturating_sub(2), pos) {
            [.., b'\r', b'\n'] => 2,
            [.., b'\n'] => 1,
            _ => 0,
        }
    }
}

/// The LFs of `slice`, whose first octet follows `before`.
fn count_slice(slice: &[u8], before: Option<u8>) -> Counts {
    let mut c = Counts::default();
    for i in memchr::memchr_iter(b'\n', slice) {
        c.lf += 1;
        let prev = if i == 0 { before } else { Some(slice[i - 1]) };
        if prev != Some(b'\r') {
            c.bare_lf += 1;
        }
    }
    c
}

/// The pattern before a line that may be a boundary line.
const DASH_LINE: &[u8] = b"\n--";

/// A searcher for [`DASH_LINE`], built once.
static DASH_FINDER: std::sync::LazyLock<memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memmem::Finder::new(DASH_LINE));

impl<'a> Source<'a> for &'a [u8] {
    fn len(&self) -> usize {
        <[u8]>::len(self)
    }

    fn bytes(&self, start: usize, end: usize) -> Cow<'a, [u8]> {
        let raw: &'a [u8] = self;
        let end = end.min(raw.len());
        Cow::Borrowed(raw.get(start.min(end)..end).unwrap_or_default())
    }

    fn line_end(&self, pos: usize) -> usize {
        match self.get(pos..).and_then(|s| memchr::memchr(b'\n', s)) {
            Some(i) => pos + i + 1,
            None => <[u8]>::len(self),
        }
    }

    fn find_dash_line<T>(&self, from: usize, mut f: impl FnMut(usize) -> Option<T>) -> Option<T> {
        let hay = self.get(from..)?;
        DASH_FINDER.find_iter(hay).find_map(|i| f(from + i + 1))
    }

    fn counts(&self, start: usize, end: usize) -> Counts {
        match self.get(start..end) {
            Some(slice) => count_slice(slice, start.checked_sub(1).map(|i| self[i])),
            None => Counts::default(),
        }
    }
}

/// How much of the file is read at once.
#[cfg(not(fuzzing))]
pub(crate) const PAGE: usize = 64 * 1024;
/// How much of the file is read at once: little when fuzzing, so that
/// short inputs cross page ends.
#[cfg(fuzzing)]
pub(crate) const PAGE: usize = 64;

/// A message in a file, seen with every bare LF turned into CRLF (as a
/// server sends it and as [`analyze`](super::analyze) is given it by the
/// mailbox model), read a page at a time: offsets are offsets in that
/// view. Opening it reads the file once to find where each page of the
/// file starts in the view; then one converted page is kept. The first
/// read error is kept and every later read returns nothing: the caller
/// checks [`FileSource::error`].
pub(crate) struct FileSource {
    file: File,
    /// For each page of the file: where it starts in the view, and whether
    /// the file's octet before it is CR.
    pages: Vec<(usize, bool)>,
    /// For each page, the LFs of the file before it (the view has the same
    /// LFs), and at the end their total: [`Source::counts`] reads only the
    /// pages its range cuts.
    lf_before: Vec<u64>,
    raw_len: usize,
    len: usize,
    /// Octets of header blocks the parser may still keep.
    keep: std::cell::Cell<usize>,
    window: RefCell<Window>,
    error: RefCell<Option<io::Error>>,
}

/// Where each page of a file starts in its CRLF view, and its LF counts
/// (see [`FileSource`]).
#[derive(Debug, Clone)]
pub(crate) struct FileMap {
    pages: Vec<(usize, bool)>,
    lf_before: Vec<u64>,
    /// The file's length, and its view's.
    pub(crate) raw_len: usize,
    len: usize,
}

impl FileMap {
    /// About how much memory the map takes.
    pub(crate) fn weight(&self) -> usize {
        self.pages.len() * std::mem::size_of::<(usize, bool)>() + self.lf_before.len() * 8
    }
}

/// Converted pages `first..last` of the file, from view offset `start`.
#[derive(Default)]
struct Window {
    first: usize,
    last: usize,
    start: usize,
    data: Vec<u8>,
}

impl FileSource {
    /// The file's first `raw_len` octets (its size), read once to map them.
    pub(crate) fn open(file: File, raw_len: u64) -> io::Result<FileSource> {
        let raw_len = usize::try_from(raw_len).map_err(|_| io::Error::other("the message is too large"))?;
        let mut pages = Vec::with_capacity(raw_len / PAGE + 1);
        let mut lf_before = Vec::with_capacity(raw_len / PAGE + 2);
        let mut buf = vec![0; PAGE];
        let (mut at, mut len, mut after_cr, mut lf) = (0, 0, false, 0);
        while at < raw_len {
            let n = PAGE.min(raw_len - at);
            read_exact_at(&file, &mut buf[..n], at)?;
            pages.push((len, after_cr));
            lf_before.push(lf);
            let counts = count_slice(&buf[..n], after_cr.then_some(b'\r'));
            len += n + counts.bare_lf as usize;
            lf += counts.lf;
            after_cr = buf[n - 1] == b'\r';
            at += n;
        }
        lf_before.push(lf);
        Ok(FileSource {
            file,
            pages,
            lf_before,
            raw_len,
            len,
            keep: std::cell::Cell::new(MAX_KEPT),
            window: RefCell::new(Window::default()),
            error: RefCell::new(None),
        })
    }

    /// Another source on the same file, sharing its map.
    pub(crate) fn try_clone(&self) -> io::Result<FileSource> {
        Ok(FileSource::with_map(self.file.try_clone()?, self.map()))
    }

    /// What opening the file learnt of it.
    pub(crate) fn map(&self) -> FileMap {
        FileMap {
            pages: self.pages.clone(),
            lf_before: self.lf_before.clone(),
            raw_len: self.raw_len,
            len: self.len,
        }
    }

    /// A source on `file` with the map an earlier opening of the same
    /// content made: nothing is read until asked.
    pub(crate) fn with_map(file: File, map: FileMap) -> FileSource {
        FileSource {
            file,
            pages: map.pages,
            lf_before: map.lf_before,
            raw_len: map.raw_len,
            len: map.len,
            keep: std::cell::Cell::new(MAX_KEPT),
            window: RefCell::new(Window::default()),
            error: RefCell::new(None),
        }
    }

    /// The first read error met, if any.
    pub(crate) fn error(&self) -> Option<io::Error> {
        self.error
            .borrow()
            .as_ref()
            .map(|e| io::Error::new(e.kind(), e.to_string()))
    }

    /// The page of the view that holds offset `pos`.
    fn page_of(&self, pos: usize) -> usize {
        self.pages
            .partition_point(|&(start, _)| start <= pos)
            .saturating_sub(1)
    }

    /// Runs `f` on the view from `pos` to the end of the window, which
    /// holds at least `want` octets from `pos` (fewer only at the end of
    /// the message); an empty slice at the end or after a read error.
    fn with_window<T>(&self, pos: usize, want: usize, f: impl FnOnce(&[u8]) -> T) -> T {
        let mut w = self.window.borrow_mut();
        let want = want.min(self.len.saturating_sub(pos));
        let inside = pos >= w.start && pos + want <= w.start + w.data.len();
        if !inside && self.error.borrow().is_none() {
            let first = self.page_of(pos);
            w.first = first;
            w.last = first;
            w.start = self.pages.get(first).map_or(self.len, |p| p.0);
            w.data.clear();
            let mut raw = vec![0; PAGE];
            while (w.data.is_empty() || w.start + w.data.len() < pos + want) && w.last < self.pages.len() {
                let at = w.last * PAGE;
                let n = PAGE.min(self.raw_len - at);
                if let Err(e) = read_exact_at(&self.file, &mut raw[..n], at) {
                    *self.error.borrow_mut() = Some(e);
                    w.data.clear();
                    break;
                }
                let after_cr = self.pages[w.last].1;
                push_crlf(&mut w.data, &raw[..n], after_cr);
                w.last += 1;
            }
        }
        let from = pos.saturating_sub(w.start);
        f(w.data.get(from..).unwrap_or_default())
    }
}

/// Reads `buf.len()` octets at `at`; a file shorter than that is an error.
fn read_exact_at(file: &File, buf: &mut [u8], at: usize) -> io::Result<()> {
    file.read_exact_at(buf, at as u64).map_err(|e| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            io::Error::new(e.kind(), "the message file is shorter than its size")
        } else {
            e
        }
    })
}

/// The longest range [`FileSource::bytes`] copies out: a header block
/// longer than this makes the analysis fail rather than hold it.
pub(crate) const MAX_COPY: usize = 1024 * 1024;

/// The most octets of header blocks an analysis in a file keeps, all parts
/// together (up to 10,000 parts of up to 1 MiB each could add up to a
/// message's size): past it the analysis fails rather than hold them.
pub(crate) const MAX_KEPT: usize = 16 * 1024 * 1024;

impl Source<'static> for FileSource {
    fn len(&self) -> usize {
        self.len
    }

    fn keep(&self, len: usize) -> bool {
        match self.keep.get().checked_sub(len) {
            Some(left) => {
                self.keep.set(left);
                true
            }
            None => {
                if self.error.borrow().is_none() {
                    *self.error.borrow_mut() = Some(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "the message's header blocks add up to more than 16 MiB",
                    ));
                }
                false
            }
        }
    }

    fn bytes(&self, start: usize, end: usize) -> Cow<'static, [u8]> {
        let end = end.min(self.len);
        let start = start.min(end);
        if end - start > MAX_COPY {
            if self.error.borrow().is_none() {
                *self.error.borrow_mut() = Some(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "a header block of the message is larger than 1 MiB",
                ));
            }
            return Cow::Owned(Vec::new());
        }
        let mut out = Vec::with_capacity(end - start);
        self.append(start, end, &mut out);
        Cow::Owned(out)
    }

    fn line_end(&self, mut pos: usize) -> usize {
        while pos < self.len {
            let (found, seen) = self.with_window(pos, 1, |d| (memchr::memchr(b'\n', d), d.len()));
            match found {
                Some(i) => return pos + i + 1,
                None if seen == 0 => break,
                None => pos += seen,
            }
        }
        self.len
    }

    fn find_dash_line<T>(&self, mut from: usize, mut f: impl FnMut(usize) -> Option<T>) -> Option<T> {
        // A window that ends inside "\n--" is searched again from its last
        // two octets; a hit is looked at outside the window's borrow, as
        // `f` reads the source too.
        while from + DASH_LINE.len() <= self.len {
            let (hit, seen) = self.with_window(from, DASH_LINE.len(), |d| (DASH_FINDER.find(d), d.len()));
            match hit {
                Some(i) => {
                    if let Some(found) = f(from + i + 1) {
                        return Some(found);
                    }
                    from += i + 1;
                }
                None if seen < DASH_LINE.len() => break,
                None => from += seen + 1 - DASH_LINE.len(),
            }
        }
        None
    }

    /// Every LF of the view has its CR. The pages wholly inside the range
    /// are counted from the map; only the two it cuts are read.
    fn counts(&self, start: usize, end: usize) -> Counts {
        let end = end.min(self.len);
        let page_start = |p: usize| self.pages.get(p).map_or(self.len, |&(s, _)| s);
        // The first page starting at or after `start`, the last ending at
        // or before `end`.
        let first = self.pages.partition_point(|&(s, _)| s < start);
        let last = self.pages.partition_point(|&(s, _)| s <= end).saturating_sub(1);
        let last = if page_start(last + 1) <= end {
            last + 1
        } else {
            last
        };
        if first < last && last < self.lf_before.len() {
            let (head_end, tail_start) = (page_start(first), page_start(last));
            let whole = self.lf_before[last] - self.lf_before[first];
            let (head, tail) = (
                self.read_counts(start, head_end),
                self.read_counts(tail_start, end),
            );
            return Counts {
                lf: head + whole + tail,
                bare_lf: 0,
            };
        }
        Counts {
            lf: self.read_counts(start, end),
            bare_lf: 0,
        }
    }
}

impl FileSource {
    /// Appends the view from `start` to `end` to `out`, without a copy
    /// between; how many octets (fewer only after a read error).
    pub(crate) fn append(&self, start: usize, end: usize, out: &mut Vec<u8>) -> usize {
        let end = end.min(self.len);
        let mut pos = start.min(end);
        while pos < end {
            let seen = self.with_window(pos, (end - pos).min(PAGE), |d| {
                let d = &d[..d.len().min(end - pos)];
                out.extend_from_slice(d);
                d.len()
            });
            if seen == 0 {
                break;
            }
            pos += seen;
        }
        pos - start.min(end)
    }

    /// The LFs of the view from `start` to `end`, read.
    fn read_counts(&self, start: usize, end: usize) -> u64 {
        let mut lf = 0;
        let mut pos = start;
        while pos < end {
            let seen = self.with_window(pos, 1, |d| {
                let d = &d[..d.len().min(end - pos)];
                lf += memchr::memchr_iter(b'\n', d).count() as u64;
                d.len()
            });
            if seen == 0 {
                break;
            }
            pos += seen;
        }
        lf
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::analysis::to_crlf;

    fn file_of(data: &[u8]) -> File {
        let mut f = tempfile::tempfile().expect("a temporary file");
        f.write_all(data).expect("written");
        f
    }

    /// Every operation answers through the file as through the converted
    /// message in memory, across page ends: a "\n--", a CR and its LF, and
    /// a bare LF astride one included.
    #[test]
    fn a_file_reads_like_its_converted_slice_across_pages() {
        let mut data = vec![b'x'; PAGE - 1];
        data.extend_from_slice(b"\n--a\r\n");
        data.extend(std::iter::repeat_n(b'y', PAGE - 6));
        data.extend_from_slice(b"\r\n--b\nz\n");
        data.extend(std::iter::repeat_n(b'w', PAGE - 10));
        data.extend_from_slice(b"\n\n");
        data.extend(std::iter::repeat_n(b'v', 3 * PAGE));
        data.extend_from_slice(b"\n--c");
        let converted = to_crlf(&data).into_owned();
        let slice: &[u8] = &converted;
        let src = FileSource::open(file_of(&data), data.len() as u64).expect("mapped");
        assert_eq!(Source::len(&src), converted.len());
        assert_eq!(src.bytes(0, converted.len()), converted);
        let ends = [0, 5, PAGE - 2, PAGE, PAGE + 1, 2 * PAGE - 3, 2 * PAGE, 3 * PAGE];
        for pos in ends.into_iter().chain([converted.len() - 1, converted.len()]) {
            assert_eq!(src.line_end(pos), slice.line_end(pos), "line end at {pos}");
            assert_eq!(
                src.break_before(pos),
                slice.break_before(pos),
                "break before {pos}"
            );
            let end = (pos + 70_000).min(converted.len());
            assert_eq!(src.bytes(pos, end), slice.bytes(pos, end), "bytes from {pos}");
        }
        fn hits<'a>(src: &impl Source<'a>) -> Vec<usize> {
            let mut v = Vec::new();
            src.find_dash_line(0, |p| {
                v.push(p);
                None::<()>
            });
            v
        }
        let (from_file, from_slice) = (hits(&src), hits(&slice));
        assert_eq!(from_file.len(), 3);
        assert_eq!(from_file, from_slice);
        let len = converted.len();
        let ranges = [
            (0, len),
            (PAGE, 2 * PAGE + 10),
            (PAGE - 1, PAGE + 1),
            (3, len - 2),
            (src.pages[1].0, src.pages[3].0),
            (src.pages[1].0 + 1, src.pages[4].0 - 1),
            (src.pages[2].0, len),
            (len, len),
            (5, 5),
        ];
        for (s, e) in ranges {
            let (a, b) = (src.counts(s, e), slice.counts(s, e));
            assert_eq!((a.lf, a.bare_lf), (b.lf, b.bare_lf), "counts of {s}..{e}");
        }
        assert!(src.error().is_none());
    }

    #[test]
    fn an_empty_file_counts_nothing() {
        let src = FileSource::open(file_of(b""), 0).expect("mapped");
        assert_eq!(src.counts(0, 0).lf, 0);
        assert_eq!(Source::len(&src), 0);
    }

    #[test]
    fn a_file_shorter_than_its_size_is_an_error() {
        assert!(FileSource::open(file_of(b"abc"), 10).is_err());
    }

    #[test]
    fn a_long_copy_is_refused() {
        let data = vec![b'a'; MAX_COPY + 1];
        let src = FileSource::open(file_of(&data), data.len() as u64).expect("mapped");
        assert!(src.bytes(0, MAX_COPY + 1).is_empty());
        assert_eq!(src.error().map(|e| e.kind()), Some(io::ErrorKind::InvalidData));
    }
}
