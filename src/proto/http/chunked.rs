//! `Transfer-Encoding: chunked` request bodies (RFC 9112 §7.1), decoded without I/O.
//!
//! Owns the chunked wire format and its limits: the decoded body never grows past the caller's
//! limit (the server's `max_request_size`), a chunk-size line (with any extensions, which are
//! ignored) stays under [`MAX_SIZE_LINE`], and the trailer section (discarded) under
//! [`MAX_TRAILER_BYTES`]. Line ends must be CRLF: a bare LF is refused rather than guessed at,
//! since a proxy may guess differently. The decoder stops at the end of the body, so bytes of a
//! pipelined next request stay with the caller. It never reads a socket: the caller feeds bytes
//! as they arrive, split anywhere.

use std::fmt;

use super::head::MAX_HEAD_BYTES;

/// The longest chunk-size line accepted, extensions included, CRLF excluded.
pub const MAX_SIZE_LINE: usize = 1024;
/// The largest trailer section accepted (its fields are read and dropped).
pub const MAX_TRAILER_BYTES: usize = MAX_HEAD_BYTES;

/// Why a chunked body is refused. The connection is closed after the answer: where the body
/// ends is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChunkedError {
    /// A chunk size that is not hexadecimal digits (or overflows): 400.
    BadChunkSize,
    /// A line that does not end in CRLF, or chunk data not followed by CRLF: 400.
    BadLineEnding,
    /// A chunk-size line over [`MAX_SIZE_LINE`] or a trailer over [`MAX_TRAILER_BYTES`]: 400.
    LineTooLong,
    /// The decoded body would exceed `limit` bytes: 413.
    TooLarge {
        /// The body limit in bytes.
        limit: usize,
    },
}

impl ChunkedError {
    /// The HTTP status code this error is answered with.
    pub fn status(&self) -> u16 {
        match self {
            ChunkedError::TooLarge { .. } => 413,
            _ => 400,
        }
    }
}

impl fmt::Display for ChunkedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChunkedError::BadChunkSize => {
                f.write_str("chunked body: a chunk size is not a hexadecimal number")
            }
            ChunkedError::BadLineEnding => {
                f.write_str("chunked body: lines and chunk data must end with CRLF")
            }
            ChunkedError::LineTooLong => write!(
                f,
                "chunked body: a chunk-size line over {MAX_SIZE_LINE} bytes or trailers over \
                 {MAX_TRAILER_BYTES} bytes"
            ),
            ChunkedError::TooLarge { limit } => write!(
                f,
                "request body exceeds the {limit}-byte limit (REVERB_MAX_REQUEST_SIZE)"
            ),
        }
    }
}

impl std::error::Error for ChunkedError {}

/// Where the decoder is in the wire format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading a chunk-size line: the size so far, the line's length, and which part of it.
    Size {
        size: usize,
        line: usize,
        part: SizePart,
    },
    /// Got the CR ending a chunk-size line; LF must follow.
    SizeLf {
        size: usize,
    },
    /// Copying chunk data: this many bytes are left.
    Data {
        left: usize,
    },
    /// Chunk data ended; CR then LF must follow.
    DataCr,
    DataLf,
    /// Reading the trailer section: the current line's length so far.
    Trailer {
        line: usize,
    },
    /// Got the CR ending a trailer line of this length; LF must follow.
    TrailerLf {
        line: usize,
    },
    /// The body is complete.
    Done,
}

/// The parts of a chunk-size line: `1*HEXDIG [ BWS ";" extension text ]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SizePart {
    Digits,
    /// Whitespace after the digits: only more whitespace or `;` may follow.
    Space,
    /// After `;`: anything but CR and LF, ignored.
    Extension,
}

const NEW_SIZE_LINE: State = State::Size {
    size: 0,
    line: 0,
    part: SizePart::Digits,
};

/// Decodes one chunked body, fed in pieces.
#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    state: State,
    limit: usize,
    body_len: usize,
    trailer_len: usize,
}

impl ChunkedDecoder {
    /// A decoder for a body of at most `limit` decoded bytes.
    pub fn new(limit: usize) -> Self {
        ChunkedDecoder {
            state: NEW_SIZE_LINE,
            limit,
            body_len: 0,
            trailer_len: 0,
        }
    }

    /// True once the last chunk and the trailer section have been read.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Decodes what it can of `input`, appending body bytes to `out`, and returns how many
    /// bytes of `input` it consumed. It consumes everything until the body is done, then
    /// nothing more: what is left of `input` belongs to the next request.
    pub fn decode(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<usize, ChunkedError> {
        let mut used = 0;
        while used < input.len() && self.state != State::Done {
            if let State::Data { left } = self.state {
                let take = left.min(input.len() - used);
                out.extend_from_slice(&input[used..used + take]);
                used += take;
                self.state = match left - take {
                    0 => State::DataCr,
                    left => State::Data { left },
                };
                continue;
            }
            self.state = self.step(input[used])?;
            used += 1;
        }
        Ok(used)
    }

    /// The state after one byte outside chunk data.
    fn step(&mut self, byte: u8) -> Result<State, ChunkedError> {
        Ok(match (self.state, byte) {
            (State::Size { size, line, part }, _) => return size_line(size, line, part, byte),
            (State::SizeLf { size }, b'\n') => self.start_chunk(size)?,
            (State::DataCr, b'\r') => State::DataLf,
            (State::DataLf, b'\n') => NEW_SIZE_LINE,
            (State::Trailer { .. }, b'\n') => return Err(ChunkedError::BadLineEnding),
            (State::Trailer { line }, b'\r') => State::TrailerLf { line },
            (State::Trailer { line }, _) => {
                self.trailer_len += 1;
                if self.trailer_len > MAX_TRAILER_BYTES {
                    return Err(ChunkedError::LineTooLong);
                }
                State::Trailer { line: line + 1 }
            }
            (State::TrailerLf { line: 0 }, b'\n') => State::Done,
            (State::TrailerLf { .. }, b'\n') => State::Trailer { line: 0 },
            (State::SizeLf { .. } | State::DataCr | State::DataLf | State::TrailerLf { .. }, _) => {
                return Err(ChunkedError::BadLineEnding)
            }
            (State::Data { .. } | State::Done, _) => self.state,
        })
    }

    /// After a chunk-size line: the chunk's data, or the trailer section after the last chunk.
    fn start_chunk(&mut self, size: usize) -> Result<State, ChunkedError> {
        if size == 0 {
            return Ok(State::Trailer { line: 0 });
        }
        self.body_len = self
            .body_len
            .checked_add(size)
            .filter(|&n| n <= self.limit)
            .ok_or(ChunkedError::TooLarge { limit: self.limit })?;
        Ok(State::Data { left: size })
    }
}

/// The state after one byte of a chunk-size line.
fn size_line(size: usize, line: usize, part: SizePart, byte: u8) -> Result<State, ChunkedError> {
    let next = |size, part| {
        if line >= MAX_SIZE_LINE {
            return Err(ChunkedError::LineTooLong);
        }
        Ok(State::Size {
            size,
            line: line + 1,
            part,
        })
    };
    match (part, byte) {
        (_, b'\n') => Err(ChunkedError::BadLineEnding),
        (SizePart::Digits, b'\r') if line > 0 => Ok(State::SizeLf { size }),
        (SizePart::Extension, b'\r') => Ok(State::SizeLf { size }),
        (SizePart::Digits, _) if byte.is_ascii_hexdigit() => {
            let digit = (byte as char).to_digit(16).unwrap_or(0) as usize;
            let size = size
                .checked_mul(16)
                .and_then(|s| s.checked_add(digit))
                .ok_or(ChunkedError::BadChunkSize)?;
            next(size, SizePart::Digits)
        }
        (SizePart::Digits, b' ' | b'\t') if line > 0 => next(size, SizePart::Space),
        (SizePart::Space, b' ' | b'\t') => next(size, SizePart::Space),
        (SizePart::Digits, b';') if line > 0 => next(size, SizePart::Extension),
        (SizePart::Space, b';') => next(size, SizePart::Extension),
        (SizePart::Extension, _) => next(size, SizePart::Extension),
        _ => Err(ChunkedError::BadChunkSize),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes `wire` in one piece; the body and the bytes consumed.
    fn decode_all(wire: &[u8], limit: usize) -> Result<(Vec<u8>, usize), ChunkedError> {
        let mut d = ChunkedDecoder::new(limit);
        let mut body = Vec::new();
        let used = d.decode(wire, &mut body)?;
        assert!(d.is_done(), "incomplete: {:?}", d.state);
        Ok((body, used))
    }

    #[test]
    fn decodes_chunks_extensions_and_trailers_and_stops_at_the_end() {
        let wire =
            b"5;name=value\r\nhello\r\n7 ; x\r\n, world\r\n0\r\nX-Sum: 1\r\n\r\nGET / HTTP/1.1";
        let (body, used) = decode_all(wire, 100).unwrap();
        assert_eq!(body, b"hello, world");
        assert_eq!(&wire[used..], b"GET / HTTP/1.1");
    }

    #[test]
    fn hex_sizes_and_leading_zeros() {
        let (body, _) = decode_all(b"0A\r\n0123456789\r\n000\r\n\r\n", 100).unwrap();
        assert_eq!(body, b"0123456789");
    }

    #[test]
    fn malformed_sizes_are_400() {
        for wire in [
            &b"\r\n"[..],
            b"g\r\n",
            b"+5\r\nhello\r\n0\r\n\r\n",
            b" 5\r\nhello\r\n0\r\n\r\n",
            b"5 5\r\n",
            b"-1\r\n",
            b"10000000000000000\r\n",
        ] {
            let err = decode_all(wire, usize::MAX).unwrap_err();
            assert_eq!(err, ChunkedError::BadChunkSize, "{wire:?}");
            assert_eq!(err.status(), 400);
        }
    }

    #[test]
    fn bare_lf_and_missing_crlf_after_data_are_400() {
        for wire in [
            &b"5\nhello\r\n0\r\n\r\n"[..],
            b"5\r\nhelloX\r\n0\r\n\r\n",
            b"5\r\nhello\n0\r\n\r\n",
            b"0\r\nX: 1\n\r\n",
            b"0\r\n\n",
        ] {
            let err = decode_all(wire, 100).unwrap_err();
            assert_eq!(err, ChunkedError::BadLineEnding, "{wire:?}");
        }
    }

    #[test]
    fn over_the_limit_is_413_before_the_data_arrives() {
        let mut d = ChunkedDecoder::new(10);
        let mut body = Vec::new();
        assert_eq!(d.decode(b"5\r\nhello\r\n", &mut body), Ok(10));
        let err = d.decode(b"6\r\n", &mut body).unwrap_err();
        assert_eq!(err, ChunkedError::TooLarge { limit: 10 });
        assert_eq!(err.status(), 413);
        assert!(decode_all(b"5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n", 10).is_ok());
    }

    #[test]
    fn long_extension_or_trailer_is_refused() {
        let mut line = b"1;".to_vec();
        line.resize(MAX_SIZE_LINE + 1, b'x');
        line.extend_from_slice(b"\r\na\r\n0\r\n\r\n");
        assert_eq!(decode_all(&line, 10), Err(ChunkedError::LineTooLong));
        let mut trailer = b"0\r\nX: ".to_vec();
        trailer.resize(MAX_TRAILER_BYTES + 10, b'y');
        trailer.extend_from_slice(b"\r\n\r\n");
        assert_eq!(decode_all(&trailer, 10), Err(ChunkedError::LineTooLong));
    }
}

#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    /// The chunked encoding of `chunks` (empty ones skipped: a 0 size ends the body), with an
    /// extension on every other size line and `trailers` before the final CRLF.
    fn encode(chunks: &[Vec<u8>], trailers: &[String]) -> Vec<u8> {
        let mut wire = Vec::new();
        for (i, c) in chunks.iter().filter(|c| !c.is_empty()).enumerate() {
            let ext = if i % 2 == 1 { ";ext=\"v\"" } else { "" };
            wire.extend_from_slice(format!("{:x}{ext}\r\n", c.len()).as_bytes());
            wire.extend_from_slice(c);
            wire.extend_from_slice(b"\r\n");
        }
        wire.extend_from_slice(b"0\r\n");
        for t in trailers {
            wire.extend_from_slice(format!("X-{t}: {t}\r\n").as_bytes());
        }
        wire.extend_from_slice(b"\r\n");
        wire
    }

    fn chunks() -> impl Strategy<Value = Vec<Vec<u8>>> {
        proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 0..6)
    }

    fn trailers() -> impl Strategy<Value = Vec<String>> {
        proptest::collection::vec("[a-z]{1,8}", 0..3)
    }

    proptest! {
        /// Decoding the encoding gives the body back, in one piece or split at any offset, and
        /// leaves the bytes that follow the body untouched.
        #[test]
        fn round_trip_split_at_every_offset(chunks in chunks(), trailers in trailers()) {
            let body: Vec<u8> = chunks.concat();
            let mut wire = encode(&chunks, &trailers);
            let end = wire.len();
            wire.extend_from_slice(b"NEXT");
            for split in 0..=end {
                let mut d = ChunkedDecoder::new(body.len());
                let mut out = Vec::new();
                let first = d.decode(&wire[..split], &mut out).unwrap();
                prop_assert_eq!(first, split);
                let second = d.decode(&wire[split..], &mut out).unwrap();
                prop_assert!(d.is_done());
                prop_assert_eq!(first + second, end);
                prop_assert_eq!(&out, &body);
            }
        }

        /// Byte by byte gives the same result as in one piece.
        #[test]
        fn byte_at_a_time(chunks in chunks(), trailers in trailers()) {
            let wire = encode(&chunks, &trailers);
            let mut d = ChunkedDecoder::new(usize::MAX);
            let mut out = Vec::new();
            for b in &wire {
                prop_assert_eq!(d.decode(std::slice::from_ref(b), &mut out).unwrap(), 1);
            }
            prop_assert!(d.is_done());
            prop_assert_eq!(out, chunks.concat());
        }

        /// A limit below the body's length is always refused with 413, never exceeded.
        #[test]
        fn a_smaller_limit_is_413(chunks in chunks(), cut in 1usize..40) {
            let body_len = chunks.iter().map(Vec::len).sum::<usize>();
            prop_assume!(body_len >= cut);
            let limit = body_len - cut;
            let mut d = ChunkedDecoder::new(limit);
            let mut out = Vec::new();
            let err = d.decode(&encode(&chunks, &[]), &mut out).unwrap_err();
            prop_assert_eq!(err, ChunkedError::TooLarge { limit });
            prop_assert!(out.len() <= limit);
        }

        /// Arbitrary bytes never panic, and a consumed count never exceeds the input.
        #[test]
        fn arbitrary_bytes(wire in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut d = ChunkedDecoder::new(64);
            let mut out = Vec::new();
            if let Ok(used) = d.decode(&wire, &mut out) {
                prop_assert!(used <= wire.len());
                prop_assert!(out.len() <= 64);
            }
        }
    }
}
