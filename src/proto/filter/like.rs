//! The `~` operator: SQLite's `LIKE … ESCAPE '\'`, the way PocketBase builds it.
//!
//! PocketBase turns `field ~ 'text'` into a LIKE pattern: if the text has an unescaped `%` it
//! is the pattern as written; otherwise `\`, `%` and `_` are escaped and the text is wrapped in
//! `%…%`, so it means "contains". With a field on the right it is `'%' || field || '%'`,
//! unescaped. Matching follows SQLite: `%` is any run of characters, `_` is one character,
//! `\x` is `x` itself, and letters compare ASCII case-insensitively (SQLite folds ASCII only).
//! The matcher works on the pattern text directly and never allocates.

/// A compiled right-hand side of `~`: the LIKE pattern text, and whether it is wrapped in
/// `%…%` (kept as a flag so that no copy of a field's value is needed at delivery time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LikePattern {
    pattern: Box<str>,
    wrapped: bool,
}

impl LikePattern {
    /// The pattern for a constant right-hand side (PocketBase's auto-wrapping rule).
    pub fn from_constant(text: &str) -> Self {
        if has_unescaped_percent(text) {
            return LikePattern {
                pattern: text.into(),
                wrapped: false,
            };
        }
        let mut pattern = String::with_capacity(text.len() + 4);
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                // `\\`, `\%` and `\_` are escapes already written; any other backslash is a
                // literal one and gets escaped, as PocketBase does.
                '\\' => match chars.peek() {
                    Some(&next @ ('\\' | '%' | '_')) => {
                        pattern.push('\\');
                        pattern.push(next);
                        chars.next();
                    }
                    _ => pattern.push_str("\\\\"),
                },
                '%' | '_' => {
                    pattern.push('\\');
                    pattern.push(c);
                }
                c => pattern.push(c),
            }
        }
        LikePattern {
            pattern: pattern.into(),
            wrapped: true,
        }
    }

    /// Whether `text` matches.
    pub fn matches(&self, text: &str) -> bool {
        like(text, &self.pattern, self.wrapped)
    }
}

fn has_unescaped_percent(text: &str) -> bool {
    let mut escaped = false;
    for c in text.chars() {
        match c {
            '%' if !escaped => return true,
            '\\' => escaped = !escaped,
            _ => escaped = false,
        }
    }
    false
}

/// One pattern element and the byte length it takes in the pattern.
enum Elem {
    AnyRun,
    AnyOne,
    Lit(char),
}

fn elem_at(pattern: &str, at: usize) -> (Elem, usize) {
    let mut chars = pattern[at..].chars();
    match chars.next() {
        Some('%') => (Elem::AnyRun, 1),
        Some('_') => (Elem::AnyOne, 1),
        Some('\\') => match chars.next() {
            Some(c) => (Elem::Lit(c), 1 + c.len_utf8()),
            None => (Elem::Lit('\\'), 1),
        },
        Some(c) => (Elem::Lit(c), c.len_utf8()),
        None => (Elem::AnyRun, 0),
    }
}

fn char_len_at(text: &str, at: usize) -> Option<usize> {
    text[at..].chars().next().map(char::len_utf8)
}

/// Matches `text` against a LIKE pattern; `wrapped` means an implicit `%` at both ends.
///
/// The classic wildcard walk: on a mismatch, go back to the last `%` and let it swallow one
/// more character. It is O(text × pattern) at worst, bounded by the filter and record sizes.
pub fn like(text: &str, pattern: &str, wrapped: bool) -> bool {
    let (mut t, mut p) = (0, 0);
    // (pattern position after the last `%`, text position that `%` resumes from)
    let mut star = wrapped.then_some((0, 0));
    loop {
        if p < pattern.len() {
            let (elem, len) = elem_at(pattern, p);
            match elem {
                Elem::AnyRun => {
                    p += len;
                    star = Some((p, t));
                    continue;
                }
                Elem::AnyOne => {
                    if let Some(n) = char_len_at(text, t) {
                        t += n;
                        p += len;
                        continue;
                    }
                }
                Elem::Lit(c) => {
                    if let Some(tc) = text[t..].chars().next() {
                        if tc == c || (tc.is_ascii() && tc.eq_ignore_ascii_case(&c)) {
                            t += tc.len_utf8();
                            p += len;
                            continue;
                        }
                    }
                }
            }
        } else if t == text.len() || wrapped {
            // Both exhausted, or the implicit trailing `%` takes whatever text is left.
            return true;
        }
        match star {
            Some((sp, st)) => match char_len_at(text, st) {
                Some(n) => {
                    star = Some((sp, st + n));
                    p = sp;
                    t = st + n;
                }
                None => return false,
            },
            None => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contains(text: &str, needle: &str) -> bool {
        LikePattern::from_constant(needle).matches(text)
    }

    #[test]
    fn a_constant_without_percent_means_contains_ascii_case_insensitively() {
        assert!(contains("Hello World", "lo wo"));
        assert!(contains("Hello", ""));
        assert!(contains("abc", "ABC"));
        assert!(!contains("abc", "abd"));
        assert!(!contains("ab", "abc"));
        // Non-ASCII letters compare exactly, as in SQLite.
        assert!(contains("ÉCOLE", "ÉCO"));
        assert!(!contains("école", "ÉCO"));
    }

    #[test]
    fn underscores_and_backslashes_are_literal_in_the_contains_form() {
        assert!(contains("a_b", "a_b"));
        assert!(!contains("axb", "a_b"));
        assert!(contains(r"C:\dir", r"C:\dir"));
        assert!(contains("50%", r"50\%"), "an escaped % stays a literal %");
        assert!(!contains("50x", r"50\%"));
        assert!(contains(r"end\", r"end\"));
    }

    #[test]
    fn a_constant_with_percent_is_a_pattern() {
        assert!(contains("hello", "he%"));
        assert!(!contains("ohello", "he%"));
        assert!(contains("hello", "%LLO"));
        assert!(contains("hello", "h_l%"));
        assert!(!contains("hlo", "h_l%o"));
        assert!(
            contains("h€llo", "h_llo%"),
            "_ is one character, not one byte"
        );
        assert!(
            contains("abcbcd", "a%bcd"),
            "backtracking past a false start"
        );
        assert!(!contains("abcbce", "a%bcd"));
        assert!(contains("", "%"));
    }

    #[test]
    fn a_field_on_the_right_is_wrapped_unescaped() {
        assert!(like("xx_ay", "_a", true));
        assert!(like("anything", "", true));
        assert!(!like("abc", "x", true));
        assert!(like("ABC", "b", true));
    }
}
