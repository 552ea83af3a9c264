//! Helpers shared by the parser tests: a compact, span-free picture of an AST.

#![allow(dead_code)]

use comp_grammar::ast::{ArgValue, Expr, ExprKind, Item, Program, SettingValue};

/// `(or (and (not (* 0.3 (@ a 0 0.5))) b) c)`: an expression's shape, without spans.
pub fn sexpr(e: &Expr) -> String {
    match &e.kind {
        ExprKind::Or(branches) => {
            let parts: Vec<String> = branches
                .iter()
                .map(|b| match &b.weight {
                    Some(w) => format!("{}:{}", w.text, sexpr(&b.expr)),
                    None => sexpr(&b.expr),
                })
                .collect();
            format!("(or {})", parts.join(" "))
        }
        ExprKind::And(terms) => format!("(and {})", terms.iter().map(sexpr).collect::<Vec<_>>().join(" ")),
        ExprKind::Not(e) => format!("(not {})", sexpr(e)),
        ExprKind::Weight { weight, expr } => format!("(* {} {})", weight.text, sexpr(expr)),
        ExprKind::Window { expr, from, to } => format!("(@ {} {} {})", sexpr(expr), from.text, to.text),
        ExprKind::Name(i) => i.name.clone(),
        ExprKind::Call { name, args } => {
            let args: Vec<String> = args
                .iter()
                .map(|a| {
                    let v = match &a.value {
                        ArgValue::Number(n) => n.text.clone(),
                        ArgValue::Name(i) => i.name.clone(),
                        ArgValue::Text { value, .. } => format!("{value:?}"),
                    };
                    match &a.name {
                        Some(n) => format!("{}={v}", n.name),
                        None => v,
                    }
                })
                .collect();
            format!("{}({})", name.name, args.join(","))
        }
        ExprKind::Text(t) => format!("{t:?}"),
        ExprKind::Paren(e) => format!("[{}]", sexpr(e)),
        ExprKind::Qualified { model, expr } => format!("{}.{}", model.name, sexpr(expr)),
    }
}

fn setting(s: &comp_grammar::ast::Setting) -> String {
    match &s.value {
        SettingValue::Number(n) => format!("{} #{}", s.name.name, n.text),
        SettingValue::Expr(e) => format!("{} {}", s.name.name, sexpr(e)),
        SettingValue::Dimensions(d) => format!("{} {:?}x{:?}", s.name.name, d.width, d.height),
    }
}

/// One line per statement: `let x = ...`, `sample s = ... with scale #2`, `scale #7.5`.
pub fn items(p: &Program) -> Vec<String> {
    p.items
        .iter()
        .map(|item| match item {
            Item::Setting(s) => setting(s),
            Item::Let(l) => format!("let {} = {}", l.name.name, sexpr(&l.expr)),
            Item::Sample(s) if s.overrides.is_empty() => format!("sample {} = {}", s.name.name, sexpr(&s.expr)),
            Item::Sample(s) => {
                let with: Vec<String> = s.overrides.iter().map(setting).collect();
                format!("sample {} = {} with {}", s.name.name, sexpr(&s.expr), with.join(", "))
            }
            Item::Model(m) => format!("model {} = {}", m.alias.name, m.model.name),
        })
        .collect()
}

/// Parses and pictures, panicking with the diagnostics on failure.
pub fn shape(source: &str) -> Vec<String> {
    match comp_grammar::parse(source) {
        Ok(p) => items(&p),
        Err(d) => panic!("{source:?} did not parse: {d:#?}"),
    }
}

/// The picture of the one expression in `sample s = EXPR`.
pub fn expr(source_expr: &str) -> String {
    let lines = shape(&format!("sample s = {source_expr}\n"));
    lines[0].strip_prefix("sample s = ").unwrap().to_string()
}
