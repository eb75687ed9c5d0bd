//! What one comparison means between two JSON values: ringcast's reading of PocketBase's
//! semantics, which are SQLite's over the record's columns.
//!
//! Decisions, where PocketBase leaves them to SQLite's storage classes:
//! - **Missing is null.** A path that does not resolve reads as `null`.
//! - **`=` / `!=`**: `null` and `""` are equal (PocketBase wraps both sides in
//!   `COALESCE(x, '')`). Booleans are the numbers 1 and 0 (SQLite stores them so, and
//!   PocketBase rewrites `true`/`false` to `1`/`0`), numbers compare as 64-bit floats, strings
//!   byte for byte (SQLite's BINARY collation, so case-sensitive). A string never equals a
//!   number: ringcast records have no column affinity to convert one into the other.
//!   Objects and nested arrays equal only an identical value. `!=` is exactly "not `=`".
//! - **`> >= < <=`**: numbers (and booleans) numerically, strings byte for byte (so ISO dates
//!   order correctly). Anything else, `null` included, is false, as SQL's `NULL > x` is.
//! - **`~` / `!~`** (see `like`): the left side must be a string or a number (its JSON text);
//!   `null`, booleans, objects and arrays make both `~` and `!~` false, as SQL's
//!   `NULL LIKE x` is.
//!
//! Multi-valued sides (arrays) are in `eval`. Nothing here allocates.

use std::cmp::Ordering;
use std::fmt::Write;

use serde_json::Value;

use super::ast::CmpOp;
use super::like::{like, LikePattern};

/// The right side of one scalar comparison.
#[derive(Clone, Copy)]
pub(crate) enum Rhs<'a> {
    /// A value (a constant or a field's value).
    Value(&'a Value),
    /// A precompiled constant LIKE pattern (only with `~` / `!~`).
    Pattern(&'a LikePattern),
}

/// `left op right` for two scalars. Inlined into the evaluator: a scanned filter is one or
/// two of these per change, and the call was a measurable part of evaluating one.
#[inline]
pub(crate) fn compare(left: &Value, op: CmpOp, right: Rhs<'_>) -> bool {
    match (op, right) {
        (CmpOp::Like | CmpOp::NotLike, _) => compare_like(left, op == CmpOp::NotLike, right),
        // A pattern only ever stands for a constant string on the right of `~`.
        (_, Rhs::Pattern(_)) => false,
        (CmpOp::Eq, Rhs::Value(r)) => equal(left, r),
        (CmpOp::Ne, Rhs::Value(r)) => !equal(left, r),
        (_, Rhs::Value(r)) => order(left, r).is_some_and(|o| match op {
            CmpOp::Gt => o == Ordering::Greater,
            CmpOp::Ge => o != Ordering::Less,
            CmpOp::Lt => o == Ordering::Less,
            _ => o != Ordering::Greater,
        }),
    }
}

/// `~` (or `!~` when `negate`), kept out of line: it formats numbers into stack buffers, and
/// inlined it would make every other comparison's code larger.
#[inline(never)]
fn compare_like(left: &Value, negate: bool, right: Rhs<'_>) -> bool {
    let mut buf = TextBuf::default();
    let Some(text) = like_text(left, &mut buf) else {
        return false;
    };
    let hit = match right {
        Rhs::Pattern(p) => p.matches(text),
        Rhs::Value(v) => {
            let mut rbuf = TextBuf::default();
            match like_text(v, &mut rbuf) {
                Some(pattern) => like(text, pattern, true),
                None => return false,
            }
        }
    };
    hit != negate
}

/// A number's value, with booleans as 1 and 0.
pub(crate) fn numeric(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        _ => None,
    }
}

/// `null` or `""`: the two values PocketBase's `=` does not tell apart.
pub(crate) fn is_blank(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        _ => false,
    }
}

/// The `=` of the module doc.
pub(crate) fn equal(a: &Value, b: &Value) -> bool {
    if let (Some(x), Some(y)) = (numeric(a), numeric(b)) {
        return x == y;
    }
    match (a, b) {
        _ if is_blank(a) && is_blank(b) => true,
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Array(_), Value::Array(_)) | (Value::Object(_), Value::Object(_)) => a == b,
        _ => false,
    }
}

fn order(a: &Value, b: &Value) -> Option<Ordering> {
    if let (Some(x), Some(y)) = (numeric(a), numeric(b)) {
        return x.partial_cmp(&y);
    }
    match (a, b) {
        (Value::String(x), Value::String(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
        _ => None,
    }
}

/// Room for any JSON number's text (serde_json prints at most ~24 bytes), on the stack.
struct TextBuf {
    bytes: [u8; 40],
    len: usize,
}

impl Default for TextBuf {
    fn default() -> Self {
        TextBuf {
            bytes: [0; 40],
            len: 0,
        }
    }
}

impl Write for TextBuf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        let slot = self.bytes.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        slot.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// The text `~` reads: a string as is, a number as its JSON text.
fn like_text<'a>(v: &'a Value, buf: &'a mut TextBuf) -> Option<&'a str> {
    match v {
        Value::String(s) => Some(s),
        Value::Number(n) => {
            write!(buf, "{n}").ok()?;
            std::str::from_utf8(&buf.bytes[..buf.len]).ok()
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn cmp(l: Value, op: CmpOp, r: Value) -> bool {
        compare(&l, op, Rhs::Value(&r))
    }

    #[test]
    fn equality_blurs_null_and_empty_and_reads_booleans_as_numbers() {
        assert!(cmp(json!(null), CmpOp::Eq, json!("")));
        assert!(cmp(json!(""), CmpOp::Eq, json!(null)));
        assert!(cmp(json!(true), CmpOp::Eq, json!(1)));
        assert!(cmp(json!(0.0), CmpOp::Eq, json!(false)));
        assert!(cmp(json!(2), CmpOp::Eq, json!(2.0)));
        assert!(
            !cmp(json!("1"), CmpOp::Eq, json!(1)),
            "no string/number affinity"
        );
        assert!(!cmp(json!("A"), CmpOp::Eq, json!("a")), "case-sensitive");
        assert!(cmp(json!({"a": 1}), CmpOp::Eq, json!({"a": 1})));
        assert!(!cmp(json!({"a": 1}), CmpOp::Eq, json!("x")));
        assert!(cmp(json!({"a": 1}), CmpOp::Ne, json!("x")));
        assert!(!cmp(json!(null), CmpOp::Ne, json!("")));
    }

    #[test]
    fn ordering_is_numeric_or_bytewise_and_false_across_types() {
        assert!(cmp(json!(10), CmpOp::Gt, json!(9.5)));
        assert!(cmp(json!(10), CmpOp::Ge, json!(10)));
        assert!(cmp(json!(true), CmpOp::Gt, json!(0)));
        assert!(cmp(json!("2024-02-01"), CmpOp::Gt, json!("2024-01-31")));
        assert!(
            cmp(json!("B"), CmpOp::Lt, json!("a")),
            "bytewise: upper before lower"
        );
        assert!(cmp(json!("a"), CmpOp::Le, json!("a")));
        for op in [CmpOp::Gt, CmpOp::Ge, CmpOp::Lt, CmpOp::Le] {
            assert!(!cmp(json!(null), op, json!(1)), "{op:?} null");
            assert!(!cmp(json!("5"), op, json!(5)), "{op:?} string vs number");
            assert!(!cmp(json!([1]), op, json!(1)), "{op:?} array");
        }
    }

    #[test]
    fn like_reads_strings_and_numbers_and_nothing_else() {
        assert!(cmp(json!("Hello"), CmpOp::Like, json!("ELL")));
        assert!(cmp(json!(12345), CmpOp::Like, json!("234")));
        assert!(
            cmp(json!("x12y"), CmpOp::Like, json!(12)),
            "a number pattern as text"
        );
        assert!(cmp(json!("Hello"), CmpOp::NotLike, json!("xyz")));
        for op in [CmpOp::Like, CmpOp::NotLike] {
            assert!(!cmp(json!(null), op, json!("a")), "{op:?} null");
            assert!(!cmp(json!(true), op, json!("t")), "{op:?} bool");
            assert!(!cmp(json!("a"), op, json!(null)), "{op:?} null pattern");
        }
        let p = LikePattern::from_constant("ell");
        assert!(compare(&json!("hello"), CmpOp::Like, Rhs::Pattern(&p)));
        assert!(!compare(&json!("hello"), CmpOp::NotLike, Rhs::Pattern(&p)));
        assert!(!compare(&json!("hello"), CmpOp::Eq, Rhs::Pattern(&p)));
    }

    #[test]
    fn number_text_fits_the_stack_buffer() {
        let mut buf = TextBuf::default();
        let v = json!(-1.2345678901234568e-300);
        assert_eq!(like_text(&v, &mut buf), Some("-1.2345678901234568e-300"));
        let mut buf = TextBuf::default();
        assert_eq!(
            like_text(&json!(u64::MAX), &mut buf),
            Some("18446744073709551615")
        );
    }
}
