//! `comp repl` end to end: scripted sessions through stdin, and a real terminal (a pty) for
//! Tab completion and Ctrl-D.

mod common;
use common::{comp, comp_in};

#[test]
fn scripted_session_covers_the_commands() {
    let dir = tempfile::tempdir().unwrap();
    let script = "\
:help
:models
ring AND bar
:plan
:ast
:json
let stripe = bar
scale 1
:set seed 4
sample product = ring AND stripe
:plan product
:run product 64
:run 32
:session
:save saved.comp
:quit
";
    let run = comp_in(dir.path(), &["repl"], script);
    assert_eq!(run.code, 0, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    let out = &run.stdout;
    assert!(out.contains(":run"), "help lists commands");
    assert!(out.contains("box_large"), ":models lists concepts");
    assert!(out.contains("simplified:"), "an expression shows its simplified form:\n{out}");
    assert!(out.contains("\"kind\": \"and\""), ":ast shows the tree:\n{out}");
    assert!(out.contains("\"coeffs\""), ":json shows the plan:\n{out}");
    assert!(out.contains("64 samples of `product`"), "{out}");
    assert!(out.contains("32 samples of `ring AND bar`"), "{out}");
    assert!(out.contains("100 model calls"), "{out}");
    assert!(out.contains("+------"), "a terminal scatter is drawn:\n{out}");
    assert!(!out.contains("comp>"), "no prompt when stdin is not a terminal");
    assert!(!out.contains('\x1b'), "no colour when stdin is not a terminal");

    // `:save` wrote a file that `comp check` accepts, with the session's statements.
    let saved = std::fs::read_to_string(dir.path().join("saved.comp")).unwrap();
    assert!(saved.contains("let stripe = bar") && saved.contains("sample product = ring AND stripe"), "{saved}");
    assert!(saved.contains("seed 4"), "{saved}");
    let check = comp_in(dir.path(), &["check", "saved.comp"], "");
    assert_eq!(check.code, 0, "{}", check.stderr);

    // And `:load` brings it back.
    let again = comp_in(dir.path(), &["repl"], ":load saved.comp\n:plan product\n");
    assert_eq!(again.code, 0, "{}", again.stdout);
    assert!(again.stdout.contains("loaded 5 statements"), "{}", again.stdout);
}

#[test]
fn errors_mid_session_are_reported_and_the_session_goes_on() {
    let script = "\
let stripe = bar
ring AND strpe
ring AND
:frobnicate
samples 0
:run nosuch
ring AND stripe
";
    let run = comp(&["repl"], script);
    assert_eq!(run.code, 1, "a scripted session with errors exits 1");
    let out = &run.stdout;
    assert!(out.contains("E0103") && out.contains("stripe"), "did-you-mean for the typo:\n{out}");
    assert!(out.contains("<input>:1:10"), "the error points into the line typed:\n{out}");
    assert!(out.contains("E0001"), "syntax error:\n{out}");
    assert!(out.contains("unknown command `:frobnicate`"), "{out}");
    assert!(out.contains("E0114"), "the bad setting is refused:\n{out}");
    assert!(out.contains("no sample named `nosuch`"), "{out}");
    // The last line still works: the session survived the errors, and its plan is printed
    // in full (the let's name resolved), last.
    let last = &out[out.find("no sample named `nosuch`").unwrap()..];
    assert!(last.contains("simplified: _ = 1 * ring AND 1 * bar"), "{out}");
    assert!(out.trim_end().ends_with("model calls: 100 (all in the reverse steps)"), "{out}");
}

#[test]
fn multi_line_input_and_model_switch() {
    let run = comp(&["repl"], "(ring\n AND bar)\n:model nosuch\n:model toy2d\n");
    // The two lines are one expression; the unknown model is an error (exit 1 at the end of a
    // scripted session), and the session goes on to switch to a known one.
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.starts_with("simplified: _ = 1 * ring AND 1 * bar\n"), "{}", run.stdout);
    assert!(run.stdout.contains("[E0101] Error: unknown model `nosuch`"), "unknown model:\n{}", run.stdout);
    assert!(run.stdout.trim_end().ends_with("model toy2d"), "{}", run.stdout);
}

#[test]
fn repl_file_starts_from_the_file() {
    // `comp repl FILE` loads the file first (as `:load FILE`): its sample can be planned and
    // run at once.
    let run = comp(&["repl", "examples/product.comp"], ":plan product\n:run product 16\n");
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.starts_with("loaded 8 statements from examples/product.comp\n"), "{}", run.stdout);
    assert!(
        run.stdout.contains("sample product (model toy2d)\n  settings: sampler ddpm(steps: 100), mcmc none, scale 1, seed 0, samples 2000"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("16 samples of `product`"), "{}", run.stdout);
    assert!(run.stdout.contains("100 model calls"), "{}", run.stdout);
    let missing = comp(&["repl", "examples/nosuch.comp"], "");
    assert_eq!(missing.code, 1, "a missing file is an error: {}", missing.stdout);
    let said = format!("{}{}", missing.stdout, missing.stderr);
    assert!(said.contains("cannot read `examples/nosuch.comp`: no such file"), "{said}");
}

#[test]
fn tab_completes_and_ctrl_d_exits_in_a_terminal() {
    let home = tempfile::tempdir().unwrap();
    // The pty starts with a 0×0 window, which line editors cannot draw in: give it a size.
    let mut cmd = std::process::Command::new("sh");
    cmd.arg("-c")
        .arg(format!("stty cols 100 rows 30 && exec '{}' repl", env!("CARGO_BIN_EXE_comp")))
        .env("XDG_CACHE_HOME", home.path())
        .env("HOME", home.path())
        .env("TERM", "xterm")
        .env_remove("NO_COLOR"); // the keyword highlighting is waited for below
    let mut p = rexpect::session::spawn_command(cmd, Some(20_000)).expect("spawn in a pty");
    let type_keys = |p: &mut rexpect::session::PtySession, keys: &str| {
        p.send(keys).unwrap();
        p.flush().unwrap();
    };
    p.exp_string("comp> ").expect("prompt");
    // `box_l` + Tab completes to `box_large`.
    type_keys(&mut p, "ring AND box_l");
    type_keys(&mut p, "\t");
    p.exp_string("box_large").expect("Tab completed box_large");
    type_keys(&mut p, "\r");
    p.exp_string("model calls per step").expect("the plan is shown");
    p.exp_string("comp> ").expect("prompt again");
    // Ctrl-C clears the line: what was typed before it is gone.
    type_keys(&mut p, "box_small AND");
    // Ctrl-C only once the line editor has the whole text (echoed, `AND` highlighted as a
    // keyword): sent earlier, it can be read before the typed bytes, and the test races the
    // editor (seen failing under load).
    p.exp_string("box_small \u{1b}[34mAND").expect("the typed text echoed");
    p.send_control('c').unwrap();
    p.exp_string("comp> ").expect("a fresh prompt after Ctrl-C");
    type_keys(&mut p, "bar\r");
    p.exp_string("simplified: _ = 1 * bar").expect("only what was typed after Ctrl-C");
    p.exp_string("comp> ").expect("prompt again");
    p.send_control('d').unwrap();
    p.exp_eof().expect("Ctrl-D exits");
    // History is kept in the user's cache directory.
    let history = std::fs::read_to_string(home.path().join("comp/history.txt")).expect("history written");
    assert!(history.contains("ring AND box_large"), "{history}");
}

#[test]
fn errors_after_a_model_switch_point_at_the_session_line_they_are_in() {
    // The sample is in line 2 of the session; `:model` replaces line 1. `ring` is not a
    // concept of clevr-pos: the error is drawn against the session's line 2, not the input.
    let run = comp(&["repl"], "sample s = ring AND bar\n:model clevr-pos\n");
    let out = &run.stdout;
    assert!(out.contains("<session>:2:12"), "{out}");
    assert!(!out.contains("<input>"), "{out}");
}

#[test]
fn run_underscore_names_the_last_expression() {
    let run = comp(&["repl"], "ring AND bar\n:run _ 20\n");
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(run.stdout.contains("20 samples of `ring AND bar`"), "{}", run.stdout);
}

#[test]
fn continuation_prompt_and_ctrl_c_stops_a_long_run_in_a_terminal() {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new("sh");
    cmd.arg("-c")
        .arg(format!("stty cols 100 rows 30 && exec '{}' repl", env!("CARGO_BIN_EXE_comp")))
        .env("XDG_CACHE_HOME", home.path())
        .env("HOME", home.path())
        .env("TERM", "xterm");
    let mut p = rexpect::session::spawn_command(cmd, Some(30_000)).expect("spawn in a pty");
    let type_keys = |p: &mut rexpect::session::PtySession, keys: &str| {
        p.send(keys).unwrap();
        p.flush().unwrap();
    };
    p.exp_string("comp> ").expect("prompt");
    type_keys(&mut p, "(ring\r");
    p.exp_string("  ... ").expect("a continuation prompt while a parenthesis is open");
    type_keys(&mut p, " AND bar)\r");
    p.exp_string("simplified: _ = 1 * ring AND 1 * bar").expect("the two lines are one input");
    p.exp_string("comp> ").expect("prompt");
    // A run of many minutes: 1,000 HMC steps × 100 leapfrog steps at each of 99 levels.
    type_keys(&mut p, "mcmc hmc(steps: 1000, leapfrog: 100)\r");
    p.exp_string("comp> ").expect("prompt");
    type_keys(&mut p, ":run 2000\r");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    p.send_control('c').unwrap();
    p.exp_string("interrupted").expect("Ctrl-C stops the run, even inside a level of HMC");
    p.exp_string("comp> ").expect("and the session goes on");
    p.send_control('d').unwrap();
    p.exp_eof().expect("Ctrl-D exits");
}

#[test]
fn a_session_composes_a_second_model() {
    let dir = tempfile::tempdir().unwrap();
    // The session starts with `model toy2d` (so its terms are also `toy2d.NAME`); `:model m =`
    // adds the learned model, loaded once for both runs.
    let script = "\
:model m = toy2d-mlp
toy2d.ring AND m.bar
base none
toy2d.ring AND m.bar
:run 16
:run 16
:session
:quit
";
    let run = comp_in(dir.path(), &["repl"], script);
    // The line before `base none` is an error (E0129), and a scripted session says so on exit.
    assert_eq!(run.code, 1, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    let out = &run.stdout;
    assert!(out.contains("model m = toy2d-mlp"), "{out}");
    assert!(run.stdout.contains("E0129") || run.stderr.contains("E0129"), "no base yet: {out}\n{}", run.stderr);
    assert!(out.contains("model calls per step: 2 (toy2d (toy2d): batch of 1 condition; m (toy2d-mlp): batch of 1 condition)"), "{out}");
    assert_eq!(out.matches("16 samples of `toy2d.ring AND m.bar`").count(), 2, "{out}");
    assert!(out.contains("200 model calls"), "{out}");
}
