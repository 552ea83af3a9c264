//! Finding things in the syntax tree: what is under the cursor, where a `let` is used.

use comp_grammar::ast::{Expr, ExprKind, Ident, Item, Let, Program, Sample, Setting, SettingValue};
use comp_grammar::Span;

/// What the cursor is on.
#[derive(Clone, Copy, Debug)]
pub enum Target<'a> {
    /// A setting's name: `scale` in `scale 3` or in `with scale 3`.
    SettingName(&'a Setting),
    /// The model's name in `model toy2d`.
    ModelName(&'a Ident),
    /// The name a `let` defines.
    LetName(&'a Let),
    /// The name a `sample` defines.
    SampleName(&'a Sample),
    /// A name in an expression: a concept, a `let`, `null`.
    Name(&'a Ident, &'a Expr),
    /// The callee of a constructor call, `pos` in `pos(0.2, 0.5)`, with the whole call.
    Callee(&'a Ident, &'a Expr),
    /// A text prompt.
    Text(&'a Expr),
}

/// What is at byte `offset` (a cursor just after a name is on it), and the statement it is in.
pub fn locate(program: &Program, offset: usize) -> Option<(Target<'_>, &Item)> {
    let at = |span: Span| span.start as usize <= offset && offset <= span.end as usize;
    let item = program.items.iter().find(|i| at(i.span()))?;
    let target = match item {
        Item::Setting(s) => in_setting(s, &at),
        Item::Let(l) if at(l.name.span) => Some(Target::LetName(l)),
        Item::Let(l) => in_expr(&l.expr, &at),
        Item::Sample(s) if at(s.name.span) => Some(Target::SampleName(s)),
        Item::Sample(s) => in_expr(&s.expr, &at).or_else(|| s.overrides.iter().find(|o| at(o.span)).and_then(|o| in_setting(o, &at))),
        Item::Model(m) if at(m.model.span) => Some(Target::ModelName(&m.model)),
        Item::Model(_) => None,
    }?;
    Some((target, item))
}

fn in_setting<'a>(s: &'a Setting, at: &dyn Fn(Span) -> bool) -> Option<Target<'a>> {
    if at(s.name.span) {
        return Some(Target::SettingName(s));
    }
    let SettingValue::Expr(e) = &s.value else { return Some(Target::SettingName(s)) };
    match (&e.kind, s.name.name.as_str()) {
        (ExprKind::Name(id), "model") if at(id.span) => Some(Target::ModelName(id)),
        // `base EXPR` is an expression of concepts and lets; other values (`ddpm(...)`,
        // `none`) are the setting's own words.
        (_, "base") => in_expr(e, at).or(Some(Target::SettingName(s))),
        _ => Some(Target::SettingName(s)),
    }
}

/// The innermost name, callee or text under the cursor.
fn in_expr<'a>(root: &'a Expr, at: &dyn Fn(Span) -> bool) -> Option<Target<'a>> {
    let mut found = None;
    walk(root, &mut |e| match &e.kind {
        ExprKind::Name(id) if at(id.span) => found = Some(Target::Name(id, e)),
        ExprKind::Call { name, .. } if at(name.span) => found = Some(Target::Callee(name, e)),
        ExprKind::Text(_) if at(e.span) => found = Some(Target::Text(e)),
        _ => {}
    });
    found
}

/// Calls `f` on `root` and every expression inside it (iteratively: deep nesting is allowed).
pub fn walk<'a>(root: &'a Expr, f: &mut impl FnMut(&'a Expr)) {
    let mut stack = vec![root];
    while let Some(e) = stack.pop() {
        f(e);
        match &e.kind {
            ExprKind::Or(branches) => stack.extend(branches.iter().rev().map(|b| &b.expr)),
            ExprKind::And(terms) => stack.extend(terms.iter().rev()),
            ExprKind::Not(inner) | ExprKind::Paren(inner) | ExprKind::Qualified { expr: inner, .. } => stack.push(inner),
            ExprKind::Weight { expr, .. } | ExprKind::Window { expr, .. } => stack.push(expr),
            ExprKind::Name(_) | ExprKind::Call { .. } | ExprKind::Text(_) => {}
        }
    }
}

/// The expressions of the file where names refer to lets and concepts: lets, samples, and the
/// `base` settings (top level and in `with`).
pub fn expressions(program: &Program) -> impl Iterator<Item = &Expr> {
    fn base(s: &Setting) -> Option<&Expr> {
        match &s.value {
            SettingValue::Expr(e) if s.name.name == "base" => Some(e),
            _ => None,
        }
    }
    program.items.iter().flat_map(|item| -> Vec<&Expr> {
        match item {
            Item::Setting(s) => base(s).into_iter().collect(),
            Item::Let(l) => vec![&l.expr],
            Item::Sample(s) => std::iter::once(&s.expr).chain(s.overrides.iter().filter_map(base)).collect(),
            Item::Model(_) => vec![],
        }
    })
}

/// The `let` named `name`, if the file defines one (the first, when it is defined twice).
pub fn find_let<'a>(program: &'a Program, name: &str) -> Option<&'a Let> {
    program.items.iter().find_map(|i| match i {
        Item::Let(l) if l.name.name == name => Some(l),
        _ => None,
    })
}

/// Every use of the name `name` in an expression (a `let` shadows a concept of the same name,
/// so when `name` is a let these are all its uses).
pub fn uses(program: &Program, name: &str) -> Vec<Span> {
    let mut out = Vec::new();
    for root in expressions(program) {
        walk(root, &mut |e| {
            if let ExprKind::Name(id) = &e.kind {
                if id.name == name {
                    out.push(id.span);
                }
            }
        });
    }
    out.sort_by_key(|s| s.start);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_innermost_name_and_every_use() {
        let text = "model toy2d\nlet s = bar\nsample p = ring AND (0.5 * s @ [0, 1]) with base s, scale 2\n";
        let program = comp_grammar::parse(text).unwrap();
        let at = |needle: &str, nth: usize| text.match_indices(needle).nth(nth).unwrap().0;
        assert!(matches!(locate(&program, at("toy2d", 0)), Some((Target::ModelName(id), _)) if id.name == "toy2d"));
        assert!(matches!(locate(&program, at("s =", 0)), Some((Target::LetName(l), _)) if l.name.name == "s"));
        assert!(matches!(locate(&program, at("ring", 0) + 2), Some((Target::Name(id, _), _)) if id.name == "ring"));
        assert!(matches!(locate(&program, at("s @", 0)), Some((Target::Name(id, _), _)) if id.name == "s"));
        assert!(matches!(locate(&program, at("scale", 0)), Some((Target::SettingName(s), _)) if s.name.name == "scale"));
        assert!(matches!(locate(&program, at("base s", 0) + 5), Some((Target::Name(id, _), _)) if id.name == "s"));
        let uses: Vec<usize> = uses(&program, "s").iter().map(|s| s.start as usize).collect();
        assert_eq!(uses, vec![at("s @", 0), at("base s", 0) + 5]);
    }
}
