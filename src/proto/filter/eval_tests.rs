//! Evaluation tests through the public path (parse → compile → matches): every operator on
//! records, any-of over arrays, dotted paths, auth substitution, rule AND filter, and
//! compile-time folding. Test-only.

use serde_json::{json, Value};

use super::*;

fn compile_with(rule: Option<&str>, filter: Option<&str>, claims: &Value) -> CompiledFilter {
    let rule = rule.map(|r| parse(r).unwrap());
    let filter = filter.map(|f| parse(f).unwrap());
    CompiledFilter::new(rule.as_ref(), filter.as_ref(), claims)
}

fn matches(filter: &str, record: &Value) -> bool {
    compile_with(None, Some(filter), &Value::Null).matches(record)
}

#[test]
fn every_plain_operator_on_a_record() {
    let r = json!({"n": 5, "s": "Hello", "b": true, "none": null});
    let cases: [(&str, bool); 22] = [
        ("n = 5", true),
        ("n = 5.0", true),
        ("n = 6", false),
        ("n != 6", true),
        ("n != 5", false),
        ("n > 4", true),
        ("n > 5", false),
        ("n >= 5", true),
        ("n < 5", false),
        ("n <= 5", true),
        ("s ~ 'ell'", true),
        ("s ~ 'ELL'", true),
        ("s ~ 'xyz'", false),
        ("s !~ 'xyz'", true),
        ("s !~ 'ell'", false),
        ("s ~ 'H%o'", true),
        ("b = true", true),
        ("b = 1", true),
        ("none = null", true),
        ("none = ''", true),
        ("missing = null", true),
        ("missing != ''", false),
    ];
    for (src, want) in cases {
        assert_eq!(matches(src, &r), want, "{src}");
    }
}

#[test]
fn literals_may_stand_on_either_side() {
    let r = json!({"n": 5, "s": "abc"});
    assert!(matches("4 < n", &r));
    assert!(matches("'abc' = s", &r));
    assert!(
        matches("'xxabcxx' ~ s", &r),
        "a field on the right is a contains pattern"
    );
    assert!(!matches("'xxabxx' ~ s", &r));
}

#[test]
fn any_of_operators_over_arrays() {
    let r = json!({"tags": ["red", "green"], "scores": [3, 9], "empty": []});
    let cases: [(&str, bool); 16] = [
        ("tags ?= 'red'", true),
        ("tags ?= 'blue'", false),
        ("tags = 'red'", false),
        ("tags ?!= 'red'", true),
        ("tags != 'blue'", true),
        ("tags != 'red'", false),
        ("scores ?> 5", true),
        ("scores > 5", false),
        ("scores > 1", true),
        ("scores ?>= 9", true),
        ("scores ?< 3", false),
        ("scores ?<= 3", true),
        ("tags ?~ 'ree'", true),
        ("tags ?!~ 'ree'", true),
        ("tags !~ 'e'", false),
        ("empty = ''", true),
    ];
    for (src, want) in cases {
        assert_eq!(matches(src, &r), want, "{src}");
    }
    let same = json!({"tags": ["x", "x"]});
    assert!(
        matches("tags = 'x'", &same),
        "plain = holds when every element equals"
    );
    assert!(!matches("empty ?= 'x'", &r));
}

#[test]
fn dotted_paths_walk_objects_and_array_positions() {
    let r = json!({"meta": {"owner": {"id": "u1"}}, "items": [{"sku": "a"}, {"sku": "b"}]});
    assert!(matches("meta.owner.id = 'u1'", &r));
    assert!(matches("meta.owner.name = null", &r));
    assert!(matches("items.1.sku = 'b'", &r));
    assert!(matches("items.7.sku = null", &r));
    assert!(
        !matches("meta.owner = 'u1'", &r),
        "an object is not a string"
    );
    assert!(matches("meta.owner.id.deeper = null", &r));
}

#[test]
fn precedence_holds_at_evaluation() {
    let r = json!({"a": 1, "b": 0, "c": 0});
    assert!(matches("a = 1 || b = 1 && c = 1", &r));
    assert!(!matches("(a = 1 || b = 1) && c = 1", &r));
}

#[test]
fn auth_claims_are_bound_at_compile_time() {
    let claims = json!({"sub": "u7", "team": {"id": 3}, "roles": ["admin", "dev"]});
    let f = |src| compile_with(None, Some(src), &claims);
    assert!(
        f("owner = @request.auth.id").matches(&json!({"owner": "u7"})),
        "id is sub"
    );
    assert!(!f("owner = @request.auth.id").matches(&json!({"owner": "u8"})));
    assert!(f("team = @request.auth.team.id").matches(&json!({"team": 3})));
    assert_eq!(f("@request.auth.roles ?= 'admin'").constant(), Some(true));
    assert_eq!(f("@request.auth.roles ?= 'root'").constant(), Some(false));
    assert_eq!(f("@request.auth.id != ''").constant(), Some(true));

    let sanctum = json!({"id": 42, "sub": "ignored"});
    let g = compile_with(None, Some("author = @request.auth.id"), &sanctum);
    assert!(g.matches(&json!({"author": 42})));

    // Anonymous connections: every claim is null, which equals "".
    let anon = compile_with(None, Some("@request.auth.id != ''"), &Value::Null);
    assert_eq!(anon.constant(), Some(false));
    let owner = compile_with(None, Some("owner = @request.auth.id"), &Value::Null);
    assert!(!owner.matches(&json!({"owner": "u1"})));
}

#[test]
fn the_rule_and_the_filter_must_both_hold() {
    let claims = json!({"id": "u1"});
    let rule = Some("owner = @request.auth.id || public = true");
    let f = compile_with(rule, Some("status = 'active'"), &claims);
    let rec = |owner: &str, public: bool, status: &str| json!({"owner": owner, "public": public, "status": status});
    assert!(f.matches(&rec("u1", false, "active")));
    assert!(f.matches(&rec("u2", true, "active")));
    assert!(!f.matches(&rec("u2", false, "active")), "the rule refuses");
    assert!(!f.matches(&rec("u1", false, "draft")), "the filter refuses");

    let rule_only = compile_with(rule, None, &claims);
    assert!(rule_only.matches(&rec("u1", false, "draft")));
    assert_eq!(compile_with(None, None, &claims).constant(), Some(true));
}

#[test]
fn constant_comparisons_fold_and_decide_the_tree() {
    let f = |src| compile_with(None, Some(src), &Value::Null).constant();
    assert_eq!(f("1 = 1"), Some(true));
    assert_eq!(f("'a' = 'b'"), Some(false));
    assert_eq!(f("1 = 2 && a = 1"), Some(false));
    assert_eq!(f("1 = 1 || a = 1"), Some(true));
    assert_eq!(f("1 = 1 && a = 1"), None);
    assert_eq!(f("'abc' ~ 'B'"), Some(true));
    assert_eq!(f("null = ''"), Some(true));
    let folded = compile_with(None, Some("1 = 1 && a = 1"), &Value::Null);
    assert_eq!(folded, compile_with(None, Some("a = 1"), &Value::Null));
}

#[test]
fn like_with_numbers_reads_their_text() {
    assert!(matches("code ~ 12", &json!({"code": "A123"})));
    assert!(matches("n ~ 23", &json!({"n": 1234})));
    assert!(!matches("n ~ 5", &json!({"n": 1234})));
    assert!(
        !matches("n ~ 'x'", &json!({})),
        "missing is null: neither ~ nor !~"
    );
    assert!(!matches("n !~ 'x'", &json!({})));
}

fn number(n: i32, quarter: bool) -> Value {
    match quarter {
        true => json!(f64::from(n) / 4.0),
        false => json!(n),
    }
}

proptest::proptest! {
    /// A field holding a number against a constant number takes the evaluator's direct path;
    /// it decides what `compare` decides for the same two values, for every operator.
    #[test]
    fn numbers_against_a_constant_decide_as_compare_does(
        x in -20i32..20, xq in proptest::bool::ANY,
        dy in -1i32..=1, yq in proptest::bool::ANY,
        op in 0..6usize,
    ) {
        use super::compare::{compare, Rhs};
        // Bounds next to the value, equal to it a third of the time.
        let (value, bound) = (number(x, xq), number(x + dy, yq && xq));
        let ops = [CmpOp::Eq, CmpOp::Ne, CmpOp::Gt, CmpOp::Ge, CmpOp::Lt, CmpOp::Le];
        let filter = compile_with(None, Some(&format!("n {} {bound}", ops[op].symbol())), &Value::Null);
        let want = compare(&value, ops[op], Rhs::Value(&bound));
        proptest::prop_assert_eq!(filter.matches(&json!({"n": value})), want);
    }
}
