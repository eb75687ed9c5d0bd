//! Splits filter text into tokens, each with the byte offset it starts at.
//!
//! The token classes are PocketBase's (its `fexpr` scanner): identifiers start with a letter,
//! `_`, `@` or `#` and go on with letters, digits, `_ . : @ #`; numbers are an optional `-`,
//! digits and an optional fraction; strings are single- or double-quoted, where a backslash
//! before the opening quote character stands for that quote. ringcast also reads `\\` as one
//! backslash (PocketBase keeps both), so that every string, even one ending in a backslash, has
//! a spelling; any other backslash is kept as written, which leaves LIKE escapes such as `\%`
//! intact. Operators are maximal runs of `= ? ! > < ~` and of `& |`, checked against the
//! operator table. This file only classifies text; it never decides what an identifier means.

use super::ast::CmpOp;
use super::error::{clip, FilterError};

/// What a token is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok<'a> {
    /// An identifier as written (a field path, `@request.auth.*`, `true`, …).
    Ident(&'a str),
    /// A quoted string, unescaped.
    Str(String),
    /// A number.
    Num(f64),
    /// A comparison operator and whether it is the `?` form.
    Cmp(CmpOp, bool),
    /// `&&`
    And,
    /// `||`
    Or,
    /// `(`
    Open,
    /// `)`
    Close,
    /// The end of the text.
    End,
}

/// A token and the byte offset where it starts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token<'a> {
    pub tok: Tok<'a>,
    pub at: usize,
}

impl Tok<'_> {
    /// How the token is named in an error's "found …".
    pub fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("'{}'", clip(s)),
            Tok::Str(s) => format!("string '{}'", clip(s)),
            Tok::Num(n) => format!("number {n}"),
            Tok::Cmp(op, any) => format!("'{}{}'", if *any { "?" } else { "" }, op.symbol()),
            Tok::And => "'&&'".into(),
            Tok::Or => "'||'".into(),
            Tok::Open => "'('".into(),
            Tok::Close => "')'".into(),
            Tok::End => "end of filter".into(),
        }
    }
}

/// The tokenizer over one filter text.
pub(crate) struct Lexer<'a> {
    src: &'a str,
    pos: usize,
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || matches!(b, b'_' | b'@' | b'#')
}

fn is_ident_cont(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'@' | b'#')
}

fn is_sign(b: u8) -> bool {
    matches!(b, b'=' | b'?' | b'!' | b'>' | b'<' | b'~')
}

impl<'a> Lexer<'a> {
    pub fn new(src: &'a str) -> Self {
        Lexer { src, pos: 0 }
    }

    fn bytes(&self) -> &'a [u8] {
        self.src.as_bytes()
    }

    /// Advances over bytes while `keep` holds; returns where the run started.
    fn run(&mut self, keep: impl Fn(u8) -> bool) -> usize {
        let start = self.pos;
        while self.pos < self.src.len() && keep(self.bytes()[self.pos]) {
            self.pos += 1;
        }
        start
    }

    /// The next token, or why the text at the current position is not one.
    pub fn next_token(&mut self) -> Result<Token<'a>, FilterError> {
        self.run(|b| b.is_ascii_whitespace());
        let at = self.pos;
        let Some(&b) = self.bytes().get(at) else {
            return Ok(Token { tok: Tok::End, at });
        };
        let tok = match b {
            b'(' | b')' => {
                self.pos += 1;
                if b == b'(' {
                    Tok::Open
                } else {
                    Tok::Close
                }
            }
            b'\'' | b'"' => Tok::Str(self.string(b)?),
            b'-' | b'0'..=b'9' => Tok::Num(self.number()?),
            b if is_ident_start(b) => {
                let start = self.run(is_ident_cont);
                Tok::Ident(&self.src[start..self.pos])
            }
            b if is_sign(b) => {
                let start = self.run(is_sign);
                let op = &self.src[start..self.pos];
                let (op, any) = CmpOp::from_symbol(op).ok_or_else(|| unknown(at, op))?;
                Tok::Cmp(op, any)
            }
            b'&' | b'|' => {
                let start = self.run(|b| b == b'&' || b == b'|');
                match &self.src[start..self.pos] {
                    "&&" => Tok::And,
                    "||" => Tok::Or,
                    op => return Err(unknown(at, op)),
                }
            }
            _ => {
                let c = self.src[at..].chars().next().unwrap_or_default();
                return Err(FilterError::Expected {
                    at,
                    expected: "a field, a value, an operator, '(' or ')'",
                    found: format!("'{c}'"),
                });
            }
        };
        Ok(Token { tok, at })
    }

    /// A quoted string starting at the current position with quote `q`; see the module doc.
    fn string(&mut self, q: u8) -> Result<String, FilterError> {
        let open = self.pos;
        let mut out = String::new();
        let mut rest = &self.src[open + 1..];
        loop {
            let Some(i) = rest.find(['\\', q as char]) else {
                return Err(FilterError::UnterminatedString { at: open });
            };
            out.push_str(&rest[..i]);
            if rest.as_bytes()[i] == q {
                self.pos = self.src.len() - rest.len() + i + 1;
                return Ok(out);
            }
            match rest.as_bytes().get(i + 1) {
                Some(&next) if next == q || next == b'\\' => out.push(next as char),
                // Any other escape stays as written (LIKE reads `\%` and `\_` itself).
                _ => {
                    out.push('\\');
                    rest = &rest[i + 1..];
                    continue;
                }
            }
            rest = &rest[i + 2..];
        }
    }

    /// `-?[0-9]+(\.[0-9]+)?`, read as a 64-bit float as PocketBase does.
    fn number(&mut self) -> Result<f64, FilterError> {
        let start = self.pos;
        if self.bytes()[start] == b'-' {
            self.pos += 1;
        }
        let digits = |lexer: &mut Self| {
            let from = lexer.run(|b| b.is_ascii_digit());
            lexer.pos > from
        };
        let mut ok = digits(self);
        if ok && self.bytes().get(self.pos) == Some(&b'.') {
            self.pos += 1;
            ok = digits(self);
        }
        if !ok {
            let found = match self.src[self.pos..].chars().next() {
                Some(c) => format!("'{c}'"),
                None => "end of filter".into(),
            };
            return Err(FilterError::Expected {
                at: self.pos,
                expected: "a digit",
                found,
            });
        }
        // Digits with at most one '.' always parse, but may overflow to infinity.
        let text = &self.src[start..self.pos];
        match text.parse::<f64>() {
            Ok(n) if n.is_finite() => Ok(n),
            _ => Err(FilterError::Expected {
                at: start,
                expected: "a number within the range of a 64-bit float",
                found: clip(text),
            }),
        }
    }
}

fn unknown(at: usize, op: &str) -> FilterError {
    FilterError::UnknownOperator { at, op: clip(op) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(src: &str) -> Result<Vec<(Tok<'_>, usize)>, FilterError> {
        let mut lexer = Lexer::new(src);
        let mut out = Vec::new();
        loop {
            let t = lexer.next_token()?;
            if t.tok == Tok::End {
                return Ok(out);
            }
            out.push((t.tok, t.at));
        }
    }

    #[test]
    fn every_token_class_with_its_offset() {
        let got = tokens("a.b_1 ?!= -1.5&&(x||'s')").unwrap();
        assert_eq!(
            got,
            vec![
                (Tok::Ident("a.b_1"), 0),
                (Tok::Cmp(CmpOp::Ne, true), 6),
                (Tok::Num(-1.5), 10),
                (Tok::And, 14),
                (Tok::Open, 16),
                (Tok::Ident("x"), 17),
                (Tok::Or, 18),
                (Tok::Str("s".into()), 20),
                (Tok::Close, 23),
            ]
        );
    }

    #[test]
    fn strings_unescape_their_own_quote_and_backslash_only() {
        let s = |src| match tokens(src).unwrap().remove(0).0 {
            Tok::Str(s) => s,
            other => panic!("{other:?}"),
        };
        assert_eq!(s(r#"'it\'s'"#), "it's");
        assert_eq!(s(r#""say \"hi\"""#), r#"say "hi""#);
        assert_eq!(s(r#""mixed 'quotes'""#), "mixed 'quotes'");
        assert_eq!(s(r"'a\\'"), r"a\");
        assert_eq!(s(r"'50\%'"), r"50\%");
        assert_eq!(s(r#"'\"'"#), r#"\""#);
        assert_eq!(s("'héllo'"), "héllo");
    }

    #[test]
    fn malformed_tokens_name_their_offset() {
        assert_eq!(
            tokens("a = 'open").unwrap_err(),
            FilterError::UnterminatedString { at: 4 }
        );
        assert_eq!(
            tokens(r"a = 'x\'").unwrap_err(),
            FilterError::UnterminatedString { at: 4 }
        );
        assert!(matches!(
            tokens("a == 1").unwrap_err(),
            FilterError::UnknownOperator { at: 2, ref op } if op == "=="
        ));
        assert!(matches!(
            tokens("a = 1 & b").unwrap_err(),
            FilterError::UnknownOperator { at: 6, .. }
        ));
        assert!(matches!(
            tokens("a = 1.").unwrap_err(),
            FilterError::Expected {
                at: 6,
                expected: "a digit",
                ..
            }
        ));
        assert!(matches!(
            tokens("a = -x").unwrap_err(),
            FilterError::Expected { at: 5, .. }
        ));
        assert!(matches!(
            tokens("a = $").unwrap_err(),
            FilterError::Expected { at: 4, ref found, .. } if found == "'$'"
        ));
    }
}
