//! The parsed filter tree and its canonical printing.
//!
//! The tree is what the parser produces and the compiler consumes; it still holds
//! `@request.auth.*` references (they are bound later, per connection). `&&` and `||` are
//! n-ary and flattened: `a && (b && c)` is one `And` of three, because grouping a conjunction
//! changes nothing. Printing emits the fewest parentheses that keep the same tree, so
//! `parse(print(t)) == t` (a property test holds this). Nothing here evaluates anything.

use std::fmt;

/// A comparison operator without its any-of flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CmpOp {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `~`: contains / LIKE, ASCII case-insensitive.
    Like,
    /// `!~`: does not contain / NOT LIKE.
    NotLike,
}

impl CmpOp {
    /// Every operator, for tests and generators.
    pub const ALL: [CmpOp; 8] = [
        CmpOp::Eq,
        CmpOp::Ne,
        CmpOp::Gt,
        CmpOp::Ge,
        CmpOp::Lt,
        CmpOp::Le,
        CmpOp::Like,
        CmpOp::NotLike,
    ];

    /// The operator as written, without the any-of `?`.
    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "!=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Like => "~",
            CmpOp::NotLike => "!~",
        }
    }

    /// Parses an operator as written, with or without the leading `?`; returns it and whether
    /// it is the any-of form.
    pub fn from_symbol(s: &str) -> Option<(CmpOp, bool)> {
        let (any, bare) = match s.strip_prefix('?') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        CmpOp::ALL
            .into_iter()
            .find(|op| op.symbol() == bare)
            .map(|op| (op, any))
    }
}

/// One side of a comparison, as written.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// A record field; a dotted path walks into objects (`meta.owner.id`) and, with a numeric
    /// segment, into arrays (`tags.0`).
    Field(String),
    /// `@request.auth.<path>`: a claim of the subscribing connection, bound at compile time.
    /// Holds the path after `@request.auth.`.
    Auth(String),
    /// A quoted string, unescaped.
    Str(String),
    /// A number (PocketBase reads every number as a 64-bit float).
    Num(f64),
    /// `true` or `false`.
    Bool(bool),
    /// `null`.
    Null,
}

/// `left op right`, with `any` for the `?`-forms.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// Left operand.
    pub left: Operand,
    /// The operator.
    pub op: CmpOp,
    /// `?op`: at least one element of a multi-valued side matches (plain: every element).
    pub any: bool,
    /// Right operand.
    pub right: Operand,
}

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// One comparison.
    Cmp(Comparison),
    /// Every child holds; at least two children, none of them an `And`.
    And(Vec<Expr>),
    /// Some child holds; at least two children, none of them an `Or`.
    Or(Vec<Expr>),
}

impl fmt::Display for Operand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operand::Field(path) => f.write_str(path),
            Operand::Auth(path) => write!(f, "@request.auth.{path}"),
            Operand::Str(s) => write_quoted(f, s),
            Operand::Num(n) => write!(f, "{n}"),
            Operand::Bool(b) => write!(f, "{b}"),
            Operand::Null => f.write_str("null"),
        }
    }
}

/// Single quotes, with the quote and the backslash escaped, so every string has a spelling.
fn write_quoted(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_str("'")?;
    for c in s.chars() {
        if c == '\'' || c == '\\' {
            f.write_str("\\")?;
        }
        fmt::Write::write_char(f, c)?;
    }
    f.write_str("'")
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let any = if self.any { "?" } else { "" };
        write!(f, "{} {any}{} {}", self.left, self.op.symbol(), self.right)
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Cmp(c) => write!(f, "{c}"),
            Expr::Or(children) => write_joined(f, children, " || ", false),
            // `&&` binds tighter than `||`, so only an `Or` inside an `And` needs parentheses.
            Expr::And(children) => write_joined(f, children, " && ", true),
        }
    }
}

fn write_joined(
    f: &mut fmt::Formatter<'_>,
    children: &[Expr],
    sep: &str,
    paren_or: bool,
) -> fmt::Result {
    for (i, child) in children.iter().enumerate() {
        if i > 0 {
            f.write_str(sep)?;
        }
        match child {
            Expr::Or(_) if paren_or => write!(f, "({child})")?,
            _ => write!(f, "{child}")?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(field: &str, op: CmpOp, right: Operand) -> Expr {
        Expr::Cmp(Comparison {
            left: Operand::Field(field.into()),
            op,
            any: false,
            right,
        })
    }

    #[test]
    fn operators_round_trip_through_their_symbols() {
        for op in CmpOp::ALL {
            assert_eq!(CmpOp::from_symbol(op.symbol()), Some((op, false)));
            let any = format!("?{}", op.symbol());
            assert_eq!(CmpOp::from_symbol(&any), Some((op, true)));
        }
        assert_eq!(CmpOp::from_symbol("=="), None);
        assert_eq!(CmpOp::from_symbol("??="), None);
    }

    #[test]
    fn printing_quotes_escapes_and_parenthesizes_only_or_inside_and() {
        let or = Expr::Or(vec![
            cmp("a", CmpOp::Eq, Operand::Num(1.0)),
            cmp("b", CmpOp::Ne, Operand::Str("it's \\ ok".into())),
        ]);
        let and = Expr::And(vec![or, cmp("c", CmpOp::Like, Operand::Null)]);
        assert_eq!(
            and.to_string(),
            r"(a = 1 || b != 'it\'s \\ ok') && c ~ null"
        );
        let any = Expr::Cmp(Comparison {
            left: Operand::Auth("id".into()),
            op: CmpOp::Ge,
            any: true,
            right: Operand::Bool(false),
        });
        assert_eq!(any.to_string(), "@request.auth.id ?>= false");
    }
}
