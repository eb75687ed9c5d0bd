//! Parses filter text (PocketBase's grammar) into an [`Expr`], enforcing the size limits.
//!
//! ```text
//! filter     := or END
//! or         := and ( "||" and )*
//! and        := primary ( "&&" primary )*
//! primary    := "(" or ")" | comparison
//! comparison := operand OP operand          OP: = != > >= < <= ~ !~ and their ?-forms
//! operand    := field | @request.auth.path | 'text' | "text" | number | true | false | null
//! ```
//!
//! `&&` binds tighter than `||`, as in the SQL PocketBase compiles a filter to. `true`, `false`
//! and `null` are keywords in any letter case, like PocketBase's fallback for them. The limits
//! ([`MAX_FILTER_LEN`], [`MAX_FILTER_NODES`]) are checked while parsing, so an oversized filter
//! costs no more than the limit. This file knows nothing about records or connections.

use super::ast::{Comparison, Expr, Operand};
use super::error::{clip, FilterError, MAX_FILTER_LEN, MAX_FILTER_NODES};
use super::lexer::{Lexer, Tok, Token};

const OPERAND: &str =
    "a field, a quoted string, a number, true, false, null or @request.auth.<claim>";
const OPERATOR: &str = "a comparison operator (= != > >= < <= ~ !~, or one of them after ?)";
const AUTH_PREFIX: &str = "@request.auth.";

/// Parses one filter (or list rule).
pub fn parse(src: &str) -> Result<Expr, FilterError> {
    // Bytes bound characters from above, so most filters skip the count.
    if src.len() > MAX_FILTER_LEN {
        let len = src.chars().count();
        if len > MAX_FILTER_LEN {
            return Err(FilterError::TooLong {
                len,
                max: MAX_FILTER_LEN,
            });
        }
    }
    let mut lexer = Lexer::new(src);
    let tok = lexer.next_token()?;
    let mut parser = Parser {
        lexer,
        tok,
        nodes: 0,
    };
    let expr = parser.or()?;
    match parser.tok.tok {
        Tok::End => Ok(expr),
        _ => Err(parser.expected("'&&', '||' or the end of the filter")),
    }
}

struct Parser<'a> {
    lexer: Lexer<'a>,
    /// The current (not yet consumed) token.
    tok: Token<'a>,
    nodes: usize,
}

impl<'a> Parser<'a> {
    fn advance(&mut self) -> Result<Token<'a>, FilterError> {
        let next = self.lexer.next_token()?;
        Ok(std::mem::replace(&mut self.tok, next))
    }

    fn expected(&self, expected: &'static str) -> FilterError {
        FilterError::Expected {
            at: self.tok.at,
            expected,
            found: self.tok.tok.describe(),
        }
    }

    /// Counts one node starting at `at` against the limit.
    fn node(&mut self, at: usize) -> Result<(), FilterError> {
        self.nodes += 1;
        if self.nodes > MAX_FILTER_NODES {
            return Err(FilterError::TooManyNodes {
                at,
                max: MAX_FILTER_NODES,
            });
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Expr, FilterError> {
        let first = self.and()?;
        self.join(first, Tok::Or, Self::and, Expr::Or)
    }

    fn and(&mut self) -> Result<Expr, FilterError> {
        let first = self.primary()?;
        self.join(first, Tok::And, Self::primary, Expr::And)
    }

    /// `first (sep next)*`, flattened: a child of the same kind (from parentheses) is spliced.
    fn join(
        &mut self,
        first: Expr,
        sep: Tok<'static>,
        next: fn(&mut Self) -> Result<Expr, FilterError>,
        make: fn(Vec<Expr>) -> Expr,
    ) -> Result<Expr, FilterError> {
        if self.tok.tok != sep {
            return Ok(first);
        }
        let mut items = Vec::new();
        let mut push = |e: Expr| match e {
            Expr::And(v) if sep == Tok::And => items.extend(v),
            Expr::Or(v) if sep == Tok::Or => items.extend(v),
            e => items.push(e),
        };
        push(first);
        while self.tok.tok == sep {
            let op = self.advance()?;
            self.node(op.at)?;
            push(next(self)?);
        }
        Ok(make(items))
    }

    fn primary(&mut self) -> Result<Expr, FilterError> {
        if self.tok.tok != Tok::Open {
            return self.comparison();
        }
        let open = self.advance()?;
        self.node(open.at)?;
        let inner = self.or()?;
        if self.tok.tok != Tok::Close {
            return Err(self.expected("')' to close the group, '&&' or '||'"));
        }
        self.advance()?;
        Ok(inner)
    }

    fn comparison(&mut self) -> Result<Expr, FilterError> {
        let at = self.tok.at;
        let left = self.operand()?;
        self.node(at)?;
        let Tok::Cmp(op, any) = self.tok.tok else {
            return Err(self.expected(OPERATOR));
        };
        self.advance()?;
        let right = self.operand()?;
        Ok(Expr::Cmp(Comparison {
            left,
            op,
            any,
            right,
        }))
    }

    fn operand(&mut self) -> Result<Operand, FilterError> {
        let operand = match &self.tok.tok {
            Tok::Ident(text) => identifier(self.tok.at, text)?,
            Tok::Str(s) => Operand::Str(s.clone()),
            Tok::Num(n) => Operand::Num(*n),
            _ => return Err(self.expected(OPERAND)),
        };
        self.advance()?;
        Ok(operand)
    }
}

/// What an identifier token means: a keyword, an auth claim or a field path.
fn identifier(at: usize, text: &str) -> Result<Operand, FilterError> {
    for (word, operand) in [
        ("true", Operand::Bool(true)),
        ("false", Operand::Bool(false)),
        ("null", Operand::Null),
    ] {
        if text.eq_ignore_ascii_case(word) {
            return Ok(operand);
        }
    }
    let unsupported = |why| FilterError::Unsupported {
        at,
        what: clip(text),
        why,
    };
    if text.contains(':') {
        return Err(unsupported(
            "identifier modifiers (:lower, :length, :each, …) are not available on \
             subscriptions; compare the field itself",
        ));
    }
    if let Some(path) = text.strip_prefix(AUTH_PREFIX) {
        check_path(at + AUTH_PREFIX.len(), path)?;
        return Ok(Operand::Auth(path.to_owned()));
    }
    if text.starts_with('@') || text.starts_with('#') {
        return Err(unsupported(
            "a subscription filter can read the record's fields and @request.auth.<claim> only",
        ));
    }
    check_path(at, text)?;
    Ok(Operand::Field(text.to_owned()))
}

/// A dotted path: non-empty segments of letters, digits and `_`.
fn check_path(at: usize, path: &str) -> Result<(), FilterError> {
    let mut offset = at;
    for segment in path.split('.') {
        if let Some((i, c)) = segment
            .char_indices()
            .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '_'))
        {
            return Err(FilterError::Expected {
                at: offset + i,
                expected: "a letter, a digit or '_' in a field name",
                found: format!("'{c}'"),
            });
        }
        if segment.is_empty() {
            return Err(FilterError::Expected {
                at: offset,
                expected: "a field name (dotted paths have no empty segments)",
                found: clip(path),
            });
        }
        offset += segment.len() + 1;
    }
    Ok(())
}
