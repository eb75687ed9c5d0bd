//! The UTF-8 test vectors of cases 6.5–6.23, grouped as Autobahn numbers them. They follow
//! Markus Kuhn's UTF-8 decoder stress test: boundary code points, overlong forms, surrogates,
//! lonely and missing bytes, non-characters. Each vector says whether it is valid UTF-8.

/// A group of vectors: its title and `(valid, bytes)` in case order.
pub type Group = (&'static str, Vec<(bool, Vec<u8>)>);

/// "κόσμε", the multi-byte string many vectors are built from.
pub const KOSME: &[u8] = b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5";

fn v(bytes: &[u8]) -> (bool, Vec<u8>) {
    (true, bytes.to_vec())
}

fn x(bytes: &[u8]) -> (bool, Vec<u8>) {
    (false, bytes.to_vec())
}

/// Sequences whose last continuation byte is missing (6.14.x), also concatenated in 6.15.1.
const MISSING_LAST: [&[u8]; 10] = [
    b"\xc0",
    b"\xe0\x80",
    b"\xf0\x80\x80",
    b"\xf8\x80\x80\x80",
    b"\xfc\x80\x80\x80\x80",
    b"\xdf",
    b"\xef\xbf",
    b"\xf7\xbf\xbf",
    b"\xfb\xbf\xbf\xbf",
    b"\xfd\xbf\xbf\xbf\xbf",
];

/// Groups 6.5 .. 6.23, in order.
pub fn groups() -> Vec<Group> {
    vec![
        (
            "Some valid UTF-8 sequences",
            vec![
                v(b"hello\x24world"),
                v(b"hello\xc2\xa2world"),
                v(b"hello\xe2\x82\xacworld"),
                v(b"hello\xf0\xa4\xad\xa2world"),
                v(KOSME),
            ],
        ),
        (
            "All prefixes of a valid UTF-8 string that contains multi-byte code points",
            // A prefix is valid exactly when it ends on a code point boundary.
            (1..=KOSME.len())
                .map(|n| (matches!(n, 2 | 5 | 7 | 9 | 11), KOSME[..n].to_vec()))
                .collect(),
        ),
        (
            "First possible sequence of a certain length",
            vec![
                v(b"\x00"),
                v(b"\xc2\x80"),
                v(b"\xe0\xa0\x80"),
                v(b"\xf0\x90\x80\x80"),
            ],
        ),
        (
            "First possible sequence length 5/6 (invalid codepoints)",
            vec![x(b"\xf8\x88\x80\x80\x80"), x(b"\xfc\x84\x80\x80\x80\x80")],
        ),
        (
            "Last possible sequence of a certain length",
            vec![
                v(b"\x7f"),
                v(b"\xdf\xbf"),
                v(b"\xef\xbf\xbf"),
                v(b"\xf4\x8f\xbf\xbf"),
            ],
        ),
        (
            "Last possible sequence length 4/5/6 (invalid codepoints)",
            vec![
                x(b"\xf7\xbf\xbf\xbf"),
                x(b"\xfb\xbf\xbf\xbf\xbf"),
                x(b"\xfd\xbf\xbf\xbf\xbf\xbf"),
            ],
        ),
        (
            "Other boundary conditions",
            vec![
                v(b"\xed\x9f\xbf"),
                v(b"\xee\x80\x80"),
                v(b"\xef\xbf\xbd"),
                v(b"\xf4\x8f\xbf\xbf"),
                x(b"\xf4\x90\x80\x80"),
            ],
        ),
        (
            "Unexpected continuation bytes",
            vec![
                x(b"\x80"),
                x(b"\xbf"),
                x(b"\x80\xbf"),
                x(b"\x80\xbf\x80"),
                x(b"\x80\xbf\x80\xbf"),
                x(b"\x80\xbf\x80\xbf\x80"),
                x(b"\x80\xbf\x80\xbf\x80\xbf"),
                // Autobahn's "all continuation bytes" runs 0x80..0xBE (end exclusive).
                (false, (0x80..0xbf).collect()),
            ],
        ),
        (
            "Lonely start characters",
            [
                (0xc0u8, 0xdfu8),
                (0xe0, 0xef),
                (0xf0, 0xf7),
                (0xf8, 0xfb),
                (0xfc, 0xfd),
            ]
            .iter()
            .map(|&(lo, hi)| (false, (lo..hi).flat_map(|b| [b, 0x20]).collect()))
            .collect(),
        ),
        (
            "Sequences with last continuation byte missing",
            MISSING_LAST.iter().map(|s| x(s)).collect(),
        ),
        (
            "Concatenation of incomplete sequences",
            vec![(false, MISSING_LAST.concat())],
        ),
        (
            "Impossible bytes",
            vec![x(b"\xfe"), x(b"\xff"), x(b"\xfe\xfe\xff\xff")],
        ),
        (
            "Examples of an overlong ASCII character",
            vec![
                x(b"\xc0\xaf"),
                x(b"\xe0\x80\xaf"),
                x(b"\xf0\x80\x80\xaf"),
                x(b"\xf8\x80\x80\x80\xaf"),
                x(b"\xfc\x80\x80\x80\x80\xaf"),
            ],
        ),
        (
            "Maximum overlong sequences",
            vec![
                x(b"\xc1\xbf"),
                x(b"\xe0\x9f\xbf"),
                x(b"\xf0\x8f\xbf\xbf"),
                x(b"\xf8\x87\xbf\xbf\xbf"),
                x(b"\xfc\x83\xbf\xbf\xbf\xbf"),
            ],
        ),
        (
            "Overlong representation of the NUL character",
            vec![
                x(b"\xc0\x80"),
                x(b"\xe0\x80\x80"),
                x(b"\xf0\x80\x80\x80"),
                x(b"\xf8\x80\x80\x80\x80"),
                x(b"\xfc\x80\x80\x80\x80\x80"),
            ],
        ),
        (
            "Single UTF-16 surrogates",
            [
                b"\xed\xa0\x80",
                b"\xed\xad\xbf",
                b"\xed\xae\x80",
                b"\xed\xaf\xbf",
                b"\xed\xb0\x80",
                b"\xed\xbe\x80",
                b"\xed\xbf\xbf",
            ]
            .iter()
            .map(|s| x(&s[..]))
            .collect(),
        ),
        (
            "Paired UTF-16 surrogates",
            [
                (b"\xed\xa0\x80", b"\xed\xb0\x80"),
                (b"\xed\xa0\x80", b"\xed\xbf\xbf"),
                (b"\xed\xad\xbf", b"\xed\xb0\x80"),
                (b"\xed\xad\xbf", b"\xed\xbf\xbf"),
                (b"\xed\xae\x80", b"\xed\xb0\x80"),
                (b"\xed\xae\x80", b"\xed\xbf\xbf"),
                (b"\xed\xaf\xbf", b"\xed\xb0\x80"),
                (b"\xed\xaf\xbf", b"\xed\xbf\xbf"),
            ]
            .iter()
            .map(|(hi, lo)| (false, [&hi[..], &lo[..]].concat()))
            .collect(),
        ),
        ("Non-character code points (valid UTF-8)", non_characters()),
        (
            "Unicode specials (i.e. replacement char)",
            (0xb9u8..=0xbf)
                .map(|last| (true, vec![0xef, 0xbf, last]))
                .collect(),
        ),
    ]
}

/// U+FFFE, U+FFFF, then U+nFFFE and U+nFFFF for planes 1–16, in Autobahn's order.
fn non_characters() -> Vec<(bool, Vec<u8>)> {
    let mut out = vec![v(b"\xef\xbf\xbe"), v(b"\xef\xbf\xbf")];
    for first in [0xf0u8, 0xf1, 0xf2, 0xf3, 0xf4] {
        for second in [0x8fu8, 0x9f, 0xaf, 0xbf] {
            // F4 only reaches plane 16 with 8F; F0 8F is overlong (plane 0).
            if (first == 0xf4 && second != 0x8f) || (first == 0xf0 && second == 0x8f) {
                continue;
            }
            for last in [0xbeu8, 0xbf] {
                out.push((true, vec![first, second, 0xbf, last]));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hand-written validity flags agree with the standard library's strict decoder.
    #[test]
    fn flags_agree_with_std() {
        for (title, vectors) in groups() {
            for (valid, bytes) in vectors {
                assert_eq!(
                    std::str::from_utf8(&bytes).is_ok(),
                    valid,
                    "{title}: {bytes:02x?}"
                );
            }
        }
    }

    #[test]
    fn group_sizes_match_autobahn() {
        let sizes: Vec<usize> = groups().iter().map(|(_, v)| v.len()).collect();
        assert_eq!(
            sizes,
            [5, 11, 4, 2, 4, 3, 5, 8, 5, 10, 1, 3, 5, 5, 5, 7, 8, 34, 7]
        );
    }
}
