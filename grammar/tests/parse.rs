//! Every construct parses to the right tree, with the right spans.

mod common;

use common::{expr, shape};
use comp_grammar::ast::{ExprKind, Item, SettingValue};
use comp_grammar::{parse, Span};

#[test]
fn statements() {
    let source = "model toy2d\nscale 7.5\nlet stripe = bar\nsample product = ring AND stripe\n";
    assert_eq!(shape(source), ["model toy2d", "scale #7.5", "let stripe = bar", "sample product = (and ring stripe)"]);
}

#[test]
fn setting_values_number_or_expression() {
    let source = "scale 7.5\nseed -3\nbase 0.5 * ring\nmodel clevr-pos\nsampler ddim(steps: 50, eta: 0)\nbase none\n";
    assert_eq!(
        shape(source),
        ["scale #7.5", "seed #-3", "base (* 0.5 ring)", "model clevr-pos", "sampler ddim(steps=50,eta=0)", "base none"]
    );
    let p = parse("scale 7.5\n").unwrap();
    let Item::Setting(s) = &p.items[0] else { panic!() };
    let SettingValue::Number(n) = &s.value else { panic!() };
    assert_eq!((n.value, n.span, s.span), (7.5, Span::new(6, 9), Span::new(0, 9)));
}

#[test]
fn sample_with_overrides() {
    assert_eq!(
        shape("sample strong = ring AND bar with scale 2, seed 3, sampler ddim(steps: 50, eta: 0)\n"),
        ["sample strong = (and ring bar) with scale #2, seed #3, sampler ddim(steps=50,eta=0)"]
    );
    assert_eq!(shape("sample s = ring with base box_large, scale 2"), ["sample s = ring with base box_large, scale #2"]);
}

#[test]
fn precedence() {
    assert_eq!(expr("NOT 0.3 * a @ [0, 0.5] AND b OR c"), "(or (and (not (* 0.3 (@ a 0 0.5))) b) c)");
    assert_eq!(expr("a OR b AND c"), "(or a (and b c))");
    assert_eq!(expr("a AND b AND c OR d OR e"), "(or (and a b c) d e)");
    assert_eq!(expr("2 * 3 * a"), "(* 2 (* 3 a))");
    assert_eq!(expr("NOT NOT a"), "(not (not a))");
    assert_eq!(expr("2 * NOT a"), "(* 2 (not a))");
    assert_eq!(expr("a @ [0, 0.5] @ [0.1, 1]"), "(@ (@ a 0 0.5) 0.1 1)");
    assert_eq!(expr("(a OR b) @ [0, 1]"), "(@ [(or a b)] 0 1)");
    assert_eq!(expr("NOT (a AND b)"), "(not [(and a b)])");
}

#[test]
fn mixture_weights() {
    assert_eq!(expr("0.7 : a OR 0.3 : b AND c"), "(or 0.7:a 0.3:(and b c))");
    assert_eq!(expr("3 : a OR b"), "(or 3:a b)");
    assert_eq!(expr("0.5 * a OR 2 : 0.5 * b"), "(or (* 0.5 a) 2:(* 0.5 b))");
}

#[test]
fn atoms() {
    assert_eq!(expr("pos(0.25, 0.5)"), "pos(0.25,0.5)");
    assert_eq!(expr("pos(0.25, y: 0.5)"), "pos(0.25,y=0.5)");
    assert_eq!(expr("f()"), "f()");
    assert_eq!(expr("f(\"a b\", flag: true)"), "f(\"a b\",flag=true)");
    assert_eq!(expr("\"a \\\"red\\\" cube\\n\\t\\\\\""), "\"a \\\"red\\\" cube\\n\\t\\\\\"");
    assert_eq!(expr("_x-1 AND null AND ANDroid AND lets"), "(and _x-1 null ANDroid lets)");
}

#[test]
fn numbers() {
    for (text, value) in [("-0.3", -0.3), (".5", 0.5), ("1e-3", 1e-3), ("+2", 2.0), ("2.5E+2", 250.0), ("3", 3.0)] {
        let p = parse(&format!("scale {text}\n")).unwrap();
        let Item::Setting(s) = &p.items[0] else { panic!() };
        let SettingValue::Number(n) = &s.value else { panic!() };
        assert_eq!((n.text.as_str(), n.value), (text, value));
    }
}

#[test]
fn spans() {
    //          0         1         2         3         4
    //          0123456789012345678901234567890123456789012345
    let src = "sample s = NOT 0.3 * a @ [0, 0.5] AND b OR c\n";
    let p = parse(src).unwrap();
    let Item::Sample(s) = &p.items[0] else { panic!() };
    assert_eq!(s.span, Span::new(0, 44));
    assert_eq!(s.name.span, Span::new(7, 8));
    let ExprKind::Or(branches) = &s.expr.kind else { panic!() };
    assert_eq!(s.expr.span, Span::new(11, 44));
    assert_eq!(branches[0].span, Span::new(11, 39));
    let ExprKind::And(terms) = &branches[0].expr.kind else { panic!() };
    assert_eq!(terms[0].span, Span::new(11, 33)); // NOT ...
    let ExprKind::Not(w) = &terms[0].kind else { panic!() };
    assert_eq!(w.span, Span::new(15, 33)); // 0.3 * a @ [0, 0.5]
    let ExprKind::Weight { weight, expr } = &w.kind else { panic!() };
    assert_eq!((weight.span, expr.span), (Span::new(15, 18), Span::new(21, 33)));
    let ExprKind::Window { expr: a, from, to } = &expr.kind else { panic!() };
    assert_eq!((a.span, from.span, to.span), (Span::new(21, 22), Span::new(26, 27), Span::new(29, 32)));
    assert_eq!(branches[1].span, Span::new(43, 44));

    let p = parse("let x = pos(x: 0.25, \"t\")").unwrap();
    let Item::Let(l) = &p.items[0] else { panic!() };
    let ExprKind::Call { name, args } = &l.expr.kind else { panic!() };
    assert_eq!((l.span, l.expr.span, name.span), (Span::new(0, 25), Span::new(8, 25), Span::new(8, 11)));
    assert_eq!((args[0].span, args[0].name.as_ref().unwrap().span), (Span::new(12, 19), Span::new(12, 13)));
    assert_eq!((args[1].span, args[1].value.span()), (Span::new(21, 24), Span::new(21, 24)));
}

#[test]
fn comments_collected() {
    let src = "# head\nmodel toy2d  # trailing\n\n  # indented\r\nsample s = ring # \"quoted\" (\n";
    let p = parse(src).unwrap();
    let got: Vec<(&str, Span)> = p.comments.iter().map(|c| (c.text.as_str(), c.span)).collect();
    assert_eq!(
        got,
        [
            ("# head", Span::new(0, 6)),
            ("# trailing", Span::new(20, 30)),
            ("# indented", Span::new(34, 44)),
            ("# \"quoted\" (", Span::new(62, 74)),
        ]
    );
    assert_eq!(shape(src), ["model toy2d", "sample s = ring"]);
    assert_eq!(shape("sample s = \"# not a comment\"\n"), ["sample s = \"# not a comment\""]);
}

#[test]
fn multi_line_parentheses() {
    let src = "sample s = (ring   # the ring\n            AND bar)\nsample t = f(1,\n  2)\n";
    assert_eq!(shape(src), ["sample s = [(and ring bar)]", "sample t = f(1,2)"]);
    let p = parse(src).unwrap();
    let Item::Sample(s) = &p.items[0] else { panic!() };
    assert_eq!(s.expr.span, Span::new(11, 50));
    assert_eq!(p.comments[0].span, Span::new(19, 29));
}

#[test]
fn blank_lines_whitespace_and_line_ends() {
    assert_eq!(shape(""), Vec::<String>::new());
    assert_eq!(shape("\n\n  \n"), Vec::<String>::new());
    assert_eq!(shape("\n\nscale 1\r\n\t\n  seed\t2  \n\n"), ["scale #1", "seed #2"]);
    assert_eq!(shape("\u{feff}scale 1\n"), ["scale #1"]);
}

#[test]
fn examples_parse() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "comp") {
            let text = std::fs::read_to_string(&path).unwrap();
            if let Err(d) = parse(&text) {
                panic!("{} does not parse: {d:#?}", path.display());
            }
            n += 1;
        }
    }
    assert!(n > 0);
}

#[test]
fn named_models_and_their_terms() {
    assert_eq!(
        common::shape("model exact = toy2d\nmodel toy2d-mlp\nsample s = exact.ring AND 0.5 * m.pos(0.2, y: 0.3) AND NOT sd.\"a cat\" AND a.null @ [0, 0.5]\n"),
        [
            "model exact = toy2d",
            "model toy2d-mlp",
            "sample s = (and exact.ring (* 0.5 m.pos(0.2,y=0.3)) (not sd.\"a cat\") (@ a.null 0 0.5))",
        ]
    );
    // The alias's span is the name before the dot; the term's span covers both.
    let p = comp_grammar::parse("sample s = ab.ring\n").unwrap();
    let comp_grammar::ast::Item::Sample(s) = &p.items[0] else { panic!() };
    let comp_grammar::ast::ExprKind::Qualified { model, expr } = &s.expr.kind else { panic!("{:?}", s.expr) };
    assert_eq!((model.span.start, model.span.end), (11, 13));
    assert_eq!((expr.span.start, expr.span.end), (14, 18));
    assert_eq!((s.expr.span.start, s.expr.span.end), (11, 18));
    // No space around the dot; `model a =` needs a name.
    for bad in ["sample s = a .ring\n", "sample s = a. ring\n", "model a =\n", "model a = 3\n"] {
        assert!(comp_grammar::parse(bad).is_err(), "{bad:?} parsed");
    }
}
