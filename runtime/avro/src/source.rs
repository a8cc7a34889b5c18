//! Where the decoder's bytes come from: a slice in memory ([`Slice`]), or a block
//! of a container file read piecewise ([`Window`] over a [`FileReader`]).
//!
//! ZTF alerts are ~96 % cutout bytes that T0 never looks at (1.4 kB of photometry,
//! 39 kB of gzipped FITS stamps in the `fink-2020-v3.3` files). Reading a whole
//! block into memory copies all of them; a [`Window`] reads only what the decoder
//! asks for and steps over skipped `bytes` with positional reads, so stamp bytes
//! are never copied out of the page cache.

use std::fs::File;
use std::os::unix::fs::FileExt;

/// Bytes for the [`Decoder`](crate::Decoder). `None` means the data ended first.
pub trait Source {
    /// The next byte.
    fn byte(&mut self) -> Option<u8>;
    /// The next `n` bytes.
    fn take(&mut self, n: usize) -> Option<&[u8]>;
    /// Step over `n` bytes without looking at them.
    fn skip(&mut self, n: usize) -> Option<()>;
    /// Bytes consumed so far.
    fn position(&self) -> usize;
    /// Bytes consumed plus bytes left.
    fn len(&self) -> usize;
    /// True when no byte is left.
    fn is_empty(&self) -> bool {
        self.position() >= self.len()
    }
    /// Bytes left.
    fn remaining(&self) -> usize {
        self.len().saturating_sub(self.position())
    }
}

/// A [`Source`] over a byte slice.
pub struct Slice<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Slice<'a> {
    /// The bytes of `buf`, from the first.
    pub fn new(buf: &'a [u8]) -> Self {
        Slice { buf, pos: 0 }
    }
}

impl Source for Slice<'_> {
    #[inline]
    fn byte(&mut self) -> Option<u8> {
        let b = *self.buf.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }

    #[inline]
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.buf.len())?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Some(s)
    }

    #[inline]
    fn skip(&mut self, n: usize) -> Option<()> {
        self.take(n).map(|_| ())
    }

    fn position(&self) -> usize {
        self.pos
    }

    fn len(&self) -> usize {
        self.buf.len()
    }
}

/// Smallest and largest read from the file. Reads start small after a skip (the
/// next value is usually short: a cutout's file name and length) and double while
/// the decoder keeps asking without skipping (a long light-curve history).
const MIN_READ: usize = 1 << 10;
const MAX_READ: usize = 1 << 16;

/// A file read with positional reads through a small buffer, able to step over
/// bytes without reading them.
pub struct FileReader {
    file: File,
    /// File length when opened (a skip past it is a truncation, noticed at once).
    file_len: u64,
    /// File offset of `buf[filled]`.
    offset: u64,
    buf: Vec<u8>,
    pos: usize,
    filled: usize,
    next_read: usize,
    /// A read error (not an end of file), kept for the caller to report.
    error: Option<std::io::Error>,
}

impl FileReader {
    /// Read `file` from its start.
    pub fn new(file: File) -> std::io::Result<Self> {
        let file_len = file.metadata()?.len();
        Ok(FileReader {
            file,
            file_len,
            offset: 0,
            buf: Vec::new(),
            pos: 0,
            filled: 0,
            next_read: MIN_READ,
            error: None,
        })
    }

    /// The read error that ended the data early, if any.
    pub fn take_error(&mut self) -> Option<std::io::Error> {
        self.error.take()
    }

    #[inline]
    fn buffered(&self) -> usize {
        self.filled - self.pos
    }

    /// Make at least `n` bytes buffered; false if the file ends first (or fails).
    /// Reads ahead by the current read size: bytes past a block are the next
    /// block's header and data.
    fn fill(&mut self, n: usize) -> bool {
        let have = self.buffered();
        if have >= n {
            return true;
        }
        let want = (n - have).max(self.next_read);
        self.next_read = (self.next_read * 2).min(MAX_READ);
        self.buf.copy_within(self.pos..self.filled, 0);
        if self.buf.len() < have + want {
            self.buf.resize(have + want, 0);
        }
        self.pos = 0;
        self.filled = have;
        while self.filled < n {
            match self
                .file
                .read_at(&mut self.buf[self.filled..have + want], self.offset)
            {
                Ok(0) => return false,
                Ok(k) => {
                    self.filled += k;
                    self.offset += k as u64;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.error = Some(e);
                    return false;
                }
            }
        }
        true
    }

    /// Step over `n` bytes; false if the file is shorter.
    fn skip_bytes(&mut self, n: usize) -> bool {
        let have = self.buffered();
        if have >= n {
            self.pos += n;
            return true;
        }
        let beyond = (n - have) as u64;
        self.pos = self.filled;
        self.next_read = MIN_READ;
        match self.offset.checked_add(beyond) {
            Some(end) if end <= self.file_len => {
                self.offset = end;
                true
            }
            _ => {
                self.offset = self.file_len;
                false
            }
        }
    }

    /// The next `n` bytes, copied into `out` (for compressed blocks, which are
    /// read whole); buffered bytes first, the rest straight from the file.
    pub fn read_block(&mut self, n: usize, out: &mut Vec<u8>) -> std::io::Result<()> {
        out.clear();
        let k = n.min(self.buffered());
        out.extend_from_slice(&self.buf[self.pos..self.pos + k]);
        self.pos += k;
        out.resize(n, 0);
        let mut at = k;
        while at < n {
            match self.file.read_at(&mut out[at..], self.offset) {
                Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
                Ok(r) => {
                    at += r;
                    self.offset += r as u64;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// The next `n` bytes of the file, as a [`Window`] the decoder reads from.
    pub fn window(&mut self, n: usize) -> Window<'_> {
        Window {
            reader: self,
            len: n,
            pos: 0,
            short: false,
        }
    }
}

impl std::io::Read for FileReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.buffered() == 0 && !self.fill(1) {
            return match self.error.take() {
                Some(e) => Err(e),
                None => Ok(0),
            };
        }
        let k = out.len().min(self.buffered());
        out[..k].copy_from_slice(&self.buf[self.pos..self.pos + k]);
        self.pos += k;
        Ok(k)
    }
}

/// The next `len` bytes of a [`FileReader`] (one container block), as a [`Source`].
pub struct Window<'r> {
    reader: &'r mut FileReader,
    len: usize,
    pos: usize,
    /// The file ended (or failed) inside the window.
    short: bool,
}

impl Window<'_> {
    /// True if the file ended or failed inside the window.
    pub fn short(&self) -> bool {
        self.short
    }

    /// The read error that ended the window early, if it was not the end of the file.
    pub fn take_error(&mut self) -> Option<std::io::Error> {
        self.reader.take_error()
    }

    /// Step over what the decoder left of the window; false if the file ends first.
    pub fn finish(&mut self) -> bool {
        let rest = self.len - self.pos;
        self.skip(rest).is_some()
    }

    fn got(&mut self, ok: bool, n: usize) -> Option<()> {
        if ok {
            self.pos += n;
            Some(())
        } else {
            self.short = true;
            None
        }
    }
}

impl Source for Window<'_> {
    #[inline]
    fn byte(&mut self) -> Option<u8> {
        let r = &mut *self.reader;
        if r.pos < r.filled && self.pos < self.len {
            let b = r.buf[r.pos];
            r.pos += 1;
            self.pos += 1;
            return Some(b);
        }
        self.take(1).map(|b| b[0])
    }

    #[inline]
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        if n > self.len - self.pos {
            return None;
        }
        let ok = self.reader.buffered() >= n || self.reader.fill(n);
        self.got(ok, n)?;
        let r = &mut *self.reader;
        let s = &r.buf[r.pos..r.pos + n];
        r.pos += n;
        Some(s)
    }

    fn skip(&mut self, n: usize) -> Option<()> {
        if n > self.len - self.pos {
            return None;
        }
        let ok = self.reader.skip_bytes(n);
        self.got(ok, n)
    }

    fn position(&self) -> usize {
        self.pos
    }

    fn len(&self) -> usize {
        self.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn file(bytes: &[u8]) -> (tempfile::NamedTempFile, FileReader) {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(bytes).unwrap();
        let r = FileReader::new(File::open(f.path()).unwrap()).unwrap();
        (f, r)
    }

    #[test]
    fn a_window_reads_takes_and_skips_like_a_slice() {
        let bytes: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let (_f, mut r) = file(&bytes);
        let mut head = [0u8; 3];
        r.read_exact(&mut head).unwrap();
        assert_eq!(head, [0, 1, 2]);
        let mut w = r.window(9_000);
        let mut s = Slice::new(&bytes[3..9_003]);
        for step in 0..200usize {
            match step % 4 {
                0 => assert_eq!(w.byte(), s.byte()),
                1 => assert_eq!(
                    w.take(step * 3).map(<[u8]>::to_vec),
                    s.take(step * 3).map(<[u8]>::to_vec)
                ),
                _ => assert_eq!(w.skip(step * 7), s.skip(step * 7)),
            }
            assert_eq!(w.position(), s.position());
        }
        assert!(w.finish() && !w.short());
        let mut tail = Vec::new();
        r.read_to_end(&mut tail).unwrap();
        assert_eq!(tail, &bytes[9_003..]);
    }

    #[test]
    fn a_window_past_the_end_of_the_file_is_short() {
        let (_f, mut r) = file(&[7; 100]);
        let mut w = r.window(150);
        assert!(w.skip(90).is_some());
        assert_eq!(w.take(20), None);
        assert!(w.short());
        let (_f, mut r) = file(&[7; 100]);
        let mut w = r.window(150);
        assert!(w.take(10).is_some());
        assert_eq!(w.skip(120), None, "a skip past the end is noticed at once");
        assert!(w.short());
        assert_eq!(w.take(200), None, "nothing past the window");
    }
}
