//! Parser tests: every operator, precedence, quoting, errors with positions, the limits, and
//! the print → parse round trip as a property. Test-only.

use proptest::prelude::*;

use super::*;

fn field(name: &str) -> Operand {
    Operand::Field(name.into())
}

fn cmp(left: Operand, op: CmpOp, any: bool, right: Operand) -> Expr {
    Expr::Cmp(Comparison {
        left,
        op,
        any,
        right,
    })
}

fn eq(name: &str, n: f64) -> Expr {
    cmp(field(name), CmpOp::Eq, false, Operand::Num(n))
}

#[test]
fn every_operator_and_its_any_of_form_parses() {
    for op in CmpOp::ALL {
        for any in [false, true] {
            let q = if any { "?" } else { "" };
            let src = format!("a {q}{} 1", op.symbol());
            let want = cmp(field("a"), op, any, Operand::Num(1.0));
            assert_eq!(parse(&src).unwrap(), want, "{src}");
            // Without spaces too: operators end where the operand starts.
            assert_eq!(parse(&src.replace(' ', "")).unwrap(), want, "{src}");
        }
    }
}

#[test]
fn operands_of_every_kind() {
    let e = parse("meta.owner.id = @request.auth.id && 'x' != -2.5 && true = FALSE && null = b")
        .unwrap();
    let Expr::And(parts) = e else { panic!("{e:?}") };
    assert_eq!(
        parts,
        vec![
            cmp(
                field("meta.owner.id"),
                CmpOp::Eq,
                false,
                Operand::Auth("id".into())
            ),
            cmp(
                Operand::Str("x".into()),
                CmpOp::Ne,
                false,
                Operand::Num(-2.5)
            ),
            cmp(Operand::Bool(true), CmpOp::Eq, false, Operand::Bool(false)),
            cmp(Operand::Null, CmpOp::Eq, false, field("b")),
        ]
    );
}

#[test]
fn and_binds_tighter_than_or_and_groups_override_it() {
    let (a, b, c) = (eq("a", 1.0), eq("b", 2.0), eq("c", 3.0));
    assert_eq!(
        parse("a = 1 || b = 2 && c = 3").unwrap(),
        Expr::Or(vec![a.clone(), Expr::And(vec![b.clone(), c.clone()])])
    );
    assert_eq!(
        parse("a = 1 && b = 2 || c = 3").unwrap(),
        Expr::Or(vec![Expr::And(vec![a.clone(), b.clone()]), c.clone()])
    );
    assert_eq!(
        parse("(a = 1 || b = 2) && c = 3").unwrap(),
        Expr::And(vec![Expr::Or(vec![a.clone(), b.clone()]), c.clone()])
    );
    // Grouping a conjunction changes nothing, so it is flattened.
    assert_eq!(
        parse("a = 1 && (b = 2 && c = 3)").unwrap(),
        Expr::And(vec![a.clone(), b, c])
    );
    assert_eq!(parse("((a = 1))").unwrap(), a);
}

#[test]
fn quoting_in_both_styles() {
    let s = |src: &str| match parse(src).unwrap() {
        Expr::Cmp(Comparison {
            right: Operand::Str(s),
            ..
        }) => s,
        other => panic!("{other:?}"),
    };
    assert_eq!(s(r"a = 'it\'s'"), "it's");
    assert_eq!(s(r#"a = "say \"hi\"""#), r#"say "hi""#);
    assert_eq!(s(r#"a = "it's""#), "it's");
    assert_eq!(s(r"a = 'a && b || (c)'"), "a && b || (c)");
    assert_eq!(s(r"a = 'back\\'"), r"back\");
}

fn err(src: &str) -> FilterError {
    parse(src).unwrap_err()
}

#[test]
fn syntax_errors_name_the_offset_and_what_was_expected() {
    let cases: [(&str, usize, &str); 8] = [
        ("", 0, "a field"),
        ("a", 1, "a comparison operator"),
        ("a =", 3, "a field"),
        ("a = 1 &&", 8, "a field"),
        ("a = 1 b = 2", 6, "'&&', '||' or the end"),
        ("(a = 1", 6, "')' to close"),
        ("a = 1)", 5, "'&&', '||' or the end"),
        ("a = = 1", 4, "a field"),
    ];
    for (src, at, expected) in cases {
        match err(src) {
            FilterError::Expected {
                at: got,
                expected: e,
                ..
            } => {
                assert_eq!(got, at, "{src}");
                assert!(e.starts_with(expected), "{src}: {e}");
            }
            other => panic!("{src}: {other:?}"),
        }
    }
    assert!(err("a = 1 &&").to_string().contains("found end of filter"));
    assert_eq!(err("x = 'abc"), FilterError::UnterminatedString { at: 4 });
    assert!(matches!(
        err("x => 1"),
        FilterError::UnknownOperator { at: 2, .. }
    ));
    assert!(matches!(
        err("a..b = 1"),
        FilterError::Expected { at: 2, .. }
    ));
}

#[test]
fn unsupported_pocketbase_identifiers_are_refused_by_name() {
    for (src, at) in [
        ("name:lower = 'x'", 0),
        ("created > @now", 10),
        ("@collection.users.id = 1", 0),
        ("@request.query.x = 1", 0),
        ("a = #x", 4),
        ("@request.auth.id:lower = 'x'", 0),
    ] {
        match err(src) {
            FilterError::Unsupported { at: got, .. } => assert_eq!(got, at, "{src}"),
            other => panic!("{src}: {other:?}"),
        }
    }
    assert!(matches!(
        err("a = @request.auth."),
        FilterError::Expected { at: 18, .. }
    ));
}

#[test]
fn the_length_limit_counts_characters() {
    let pad = |n: usize, c: &str| format!("a = '{}'", c.repeat(n - 6));
    assert!(parse(&pad(MAX_FILTER_LEN, "x")).is_ok());
    assert!(
        parse(&pad(MAX_FILTER_LEN, "é")).is_ok(),
        "2-byte characters count once"
    );
    assert_eq!(
        err(&pad(MAX_FILTER_LEN + 1, "é")),
        FilterError::TooLong {
            len: MAX_FILTER_LEN + 1,
            max: MAX_FILTER_LEN
        }
    );
}

#[test]
fn the_node_limit_counts_comparisons_operators_and_groups() {
    // n comparisons joined by n - 1 operators: 2n - 1 nodes.
    let chain = |n: usize| vec!["a = 1"; n].join(" && ");
    assert!(parse(&chain(32)).is_ok(), "63 nodes");
    assert_eq!(
        err(&chain(33)),
        FilterError::TooManyNodes {
            at: 32 * 9,
            max: MAX_FILTER_NODES
        }
    );
    let nested = |n: usize| format!("{}a = 1{}", "(".repeat(n), ")".repeat(n));
    assert!(parse(&nested(63)).is_ok(), "63 groups and one comparison");
    assert!(matches!(
        err(&nested(64)),
        FilterError::TooManyNodes { at: 64, .. }
    ));
}

fn operand() -> impl Strategy<Value = Operand> {
    prop_oneof![
        "[a-z_][a-z0-9_]{0,6}(\\.[a-z0-9_]{1,4}){0,2}"
            .prop_filter("keywords", |s| !["true", "false", "null"]
                .contains(&s.as_str()))
            .prop_map(Operand::Field),
        "[a-z_]{1,5}(\\.[a-z]{1,3})?".prop_map(Operand::Auth),
        any::<String>().prop_map(Operand::Str),
        (-1e9f64..1e9).prop_map(Operand::Num),
        any::<i32>().prop_map(|n| Operand::Num(n.into())),
        any::<bool>().prop_map(Operand::Bool),
        Just(Operand::Null),
    ]
}

fn comparison() -> impl Strategy<Value = Expr> {
    (
        operand(),
        proptest::sample::select(CmpOp::ALL.to_vec()),
        any::<bool>(),
        operand(),
    )
        .prop_map(|(l, op, any, r)| cmp(l, op, any, r))
}

/// Trees in the parser's normal form: n-ary, flattened, at least two children per join.
fn tree() -> impl Strategy<Value = Expr> {
    comparison().prop_recursive(3, 12, 3, |inner| {
        let kids = proptest::collection::vec(inner, 2..4);
        prop_oneof![
            kids.clone().prop_map(|v| flatten(v, true)),
            kids.prop_map(|v| flatten(v, false)),
        ]
    })
}

fn flatten(children: Vec<Expr>, and: bool) -> Expr {
    let mut out = Vec::new();
    for c in children {
        match c {
            Expr::And(v) if and => out.extend(v),
            Expr::Or(v) if !and => out.extend(v),
            c => out.push(c),
        }
    }
    if and {
        Expr::And(out)
    } else {
        Expr::Or(out)
    }
}

proptest! {
    #[test]
    fn printing_then_parsing_gives_the_same_tree(t in tree()) {
        let printed = t.to_string();
        prop_assume!(printed.len() <= MAX_FILTER_LEN);
        let parsed = parse(&printed);
        prop_assert_eq!(parsed.as_ref(), Ok(&t), "printed: {}", printed);
    }

    #[test]
    fn parse_never_panics(s in any::<String>()) {
        let _ = parse(&s);
    }

    #[test]
    fn parse_never_panics_on_filter_like_text(s in "[a-c .()'\"\\\\=!<>~?&|@0-9-]{0,40}") {
        if let Err(e) = parse(&s) {
            prop_assert!(e.at() <= s.len());
        }
    }
}
