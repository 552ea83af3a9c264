//! Deep nesting is E0003, never a stack overflow. Each test runs on a thread with the default
//! 2 MiB test stack, so passing proves the parser does not recurse per operator.

use comp_grammar::{parse, Diagnostic, Span};

/// Parses `source` on a thread with a 2 MiB stack.
fn parse_small_stack(source: String) -> Result<comp_grammar::ast::Program, Vec<Diagnostic>> {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || parse(&source))
        .unwrap()
        .join()
        .expect("the parser must not overflow its stack")
}

fn only_e0003(errors: Vec<Diagnostic>) -> Span {
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!((errors[0].code, errors[0].message.as_str()), ("E0003", "nesting too deep"));
    errors[0].span()
}

#[test]
fn hundred_thousand_parentheses() {
    let source = format!("sample s = {}a{}\n", "(".repeat(100_000), ")".repeat(100_000));
    // The 65th `(` is the offending one.
    let errors = parse_small_stack(source).unwrap_err();
    assert_eq!(errors[0].help.as_deref(), Some("split the expression into `let`s"));
    assert_eq!(only_e0003(errors), Span::new(11 + 64, 11 + 65));
}

#[test]
fn hundred_thousand_nots() {
    let source = format!("sample s = {}a\n", "NOT ".repeat(100_000));
    assert_eq!(only_e0003(parse_small_stack(source).unwrap_err()), Span::new(11 + 64 * 4, 11 + 64 * 4 + 3));
}

#[test]
fn hundred_thousand_weights_and_windows() {
    let source = format!("sample s = {}a\n", "2 * ".repeat(100_000));
    assert_eq!(only_e0003(parse_small_stack(source).unwrap_err()), Span::new(11 + 64 * 4, 11 + 64 * 4 + 3));
    let source = format!("sample s = a{}\n", " @ [0, 1]".repeat(100_000));
    let span = only_e0003(parse_small_stack(source).unwrap_err());
    assert_eq!(span.start as usize, 12 + 64 * 9 + 1);
}

#[test]
fn sixty_four_of_each_is_fine() {
    let deepest = format!("sample s = {}{}a{}{}\n", "(".repeat(64), "NOT 2 * ".repeat(32), " @ [0, 1]".repeat(64), ")".repeat(64));
    let program = parse_small_stack(deepest).unwrap();
    // Dropping and comparing the deep tree on the small stack is fine too.
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let copy = program.clone();
            assert_eq!(copy, program);
            drop(copy);
        })
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn total_depth_is_bounded() {
    // 64 parentheses, each with 60 prefix operators: no single chain is too long, but the tree
    // would be thousands of nodes deep.
    let source = format!("sample s = {}a{}\n", "(NOT 2 * ".repeat(64).replace("NOT 2 * ", &"NOT ".repeat(60)), ")".repeat(64));
    let errors = parse_small_stack(source).unwrap_err();
    only_e0003(errors);
}
