//! JSON Lines input in blocks of bytes: the reading thread only finds line ends; the
//! workers check and parse the lines in place, so no line is copied into a string of
//! its own.

use std::io::Read;

/// Bytes read per block (a line longer than this makes its block longer).
const BLOCK: usize = 4 << 20;

/// The start of a line entry in [`Block::lines`] for a line longer than the limit:
/// its end is then the line's length in bytes (its text is not kept).
pub(super) const TOO_LONG: usize = usize::MAX;

/// Whole lines of the input, with where each record line lies.
#[derive(Debug, Default)]
pub(super) struct Block {
    /// The bytes, ending at a line end (or the end of the input).
    pub(super) text: Vec<u8>,
    /// Per record line: its 1-based line number, start and end (without the line end);
    /// or, for a line over the limit, [`TOO_LONG`] and its length.
    pub(super) lines: Vec<(u64, usize, usize)>,
    /// Lines with nothing but white space: not records, but counted.
    pub(super) blank: u64,
}

/// Cuts a reader into blocks of whole lines.
pub(super) struct BlockReader<R> {
    reader: R,
    /// Bytes after the last line end of the previous block.
    carry: Vec<u8>,
    /// Lines seen so far.
    line: u64,
    eof: bool,
    /// The longest line kept, in bytes; a longer one is skipped as it is read.
    max_line: usize,
    /// In the block being built: where a line over the limit was (an empty line stands
    /// there), and its length.
    long: Vec<(usize, usize)>,
}

impl<R: Read> BlockReader<R> {
    /// A reader of `reader` keeping lines of at most `max_line` bytes.
    pub(super) fn new(reader: R, max_line: usize) -> Self {
        BlockReader {
            reader,
            carry: vec![],
            line: 0,
            eof: false,
            max_line: max_line.max(1),
            long: vec![],
        }
    }

    /// Reads on to the end of the line under way (the next `\n`), keeping nothing of
    /// it: its bytes read, and the bytes after its end.
    fn skip_line(&mut self) -> std::io::Result<(usize, Vec<u8>)> {
        let mut buf = vec![0u8; 1 << 16];
        let mut skipped = 0usize;
        loop {
            let n = match self.reader.read(&mut buf) {
                Ok(0) => {
                    self.eof = true;
                    return Ok((skipped, vec![]));
                }
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            let read = buf.get(..n).unwrap_or(&buf);
            match memchr::memchr(b'\n', read) {
                Some(p) => return Ok((skipped + p, read.get(p..).unwrap_or_default().to_vec())),
                None => skipped += read.len(),
            }
        }
    }

    /// The next block, `None` at the end of the input; `spare` is a block done with,
    /// whose buffers are reused (fresh 4 MiB buffers cost page faults).
    pub(super) fn next_block(&mut self, spare: Option<Block>) -> std::io::Result<Option<Block>> {
        let (mut text, mut lines) = match spare {
            Some(b) => (b.text, b.lines),
            None => (Vec::with_capacity(BLOCK + BLOCK / 4), vec![]),
        };
        text.clear();
        lines.clear();
        self.long.clear();
        text.extend_from_slice(&self.carry);
        self.carry.clear();
        // Read until the block holds BLOCK bytes and a line end, or the input ends; the
        // block ends at its last line end, the rest waits for the next block.
        let cut = loop {
            if self.eof {
                break text.len();
            }
            if text.len() >= BLOCK {
                if let Some(pos) = memchr::memrchr(b'\n', &text) {
                    break pos + 1;
                }
            }
            // A line over the limit is dropped as it is read: an empty line stands in
            // its place, its length noted, and the input is read on to its end.
            let line_start = memchr::memrchr(b'\n', &text).map_or(0, |p| p + 1);
            if text.len() - line_start > self.max_line {
                let kept = text.len() - line_start;
                text.truncate(line_start);
                let (skipped, rest) = self.skip_line()?;
                self.long.push((text.len(), kept + skipped));
                if rest.is_empty() {
                    text.push(b'\n');
                } else {
                    text.extend_from_slice(&rest);
                }
                continue;
            }
            // A line longer than a block makes the block grow by half each time.
            let start = text.len();
            text.resize(start + (BLOCK / 4).max(start / 2), 0);
            let mut filled = start;
            while let Some(room) = text.get_mut(filled..).filter(|r| !r.is_empty()) {
                match self.reader.read(room) {
                    Ok(0) => {
                        self.eof = true;
                        break;
                    }
                    Ok(n) => filled += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            text.truncate(filled);
        };
        self.carry
            .extend_from_slice(text.get(cut..).unwrap_or_default());
        text.truncate(cut);
        if text.is_empty() {
            return Ok(None);
        }
        // The line ends, and the end of a last line without one.
        let unended = (text.last() != Some(&b'\n')).then_some(text.len());
        let mut start = 0;
        let mut blank = 0;
        for end in memchr::memchr_iter(b'\n', &text).chain(unended) {
            self.line += 1;
            let mut line = text.get(start..end).unwrap_or_default();
            while let [rest @ .., b'\r'] = line {
                line = rest;
            }
            if let Some(&(_, len)) = self.long.iter().find(|(at, _)| *at == start) {
                lines.push((self.line, TOO_LONG, len));
            } else if !line.iter().all(u8::is_ascii_whitespace) {
                lines.push((self.line, start, start + line.len()));
            } else {
                // Blank lines are not records; they count in line numbers and in the
                // summary.
                blank += 1;
            }
            start = end + 1;
        }
        Ok(Some(Block { text, lines, blank }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocks(input: &[u8]) -> Vec<(u64, String)> {
        let mut r = BlockReader::new(input, 1 << 30);
        let mut out = vec![];
        let mut spare = None;
        while let Some(b) = r.next_block(spare.take()).unwrap() {
            for &(n, s, e) in &b.lines {
                out.push((n, String::from_utf8_lossy(&b.text[s..e]).into_owned()));
            }
            spare = Some(b);
        }
        out
    }

    #[test]
    fn lines_keep_their_numbers_and_lose_their_ends() {
        let got = blocks(b"{\"a\":1}\r\n\n  \n{\"b\":2}\n{\"c\":3}");
        assert_eq!(
            got,
            vec![
                (1, "{\"a\":1}".to_string()),
                (4, "{\"b\":2}".to_string()),
                (5, "{\"c\":3}".to_string())
            ]
        );
        assert!(blocks(b"").is_empty());
    }

    #[test]
    fn a_line_longer_than_a_block_stays_whole() {
        let long = "x".repeat(BLOCK * 2 + 17);
        let input = format!("a\n{long}\nb\n");
        let got = blocks(input.as_bytes());
        assert_eq!(got.len(), 3);
        assert_eq!(got[1].1.len(), long.len());
        assert_eq!(got[2], (3, "b".to_string()));
    }
}
