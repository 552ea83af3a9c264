//! `comp import` end to end: the binary's output, its diagnostics and exit codes, files.
//! (The coefficients of imported files are checked against A1111's formula in the unit
//! tests, `src/cmd/import/roundtrip.rs`.)

mod common;
use common::{comp, comp_in};

#[test]
fn a1111_prompt_to_stdout() {
    let run = comp(
        &[
            "import",
            "a1111",
            "a wooden cabin AND heavy snow :1.2 AND people :-0.5",
            "--negative",
            "blurry, \"low\" quality",
            "--scale",
            "7.5",
            "--steps",
            "25",
            "--sampler",
            "euler_a",
            "--size",
            "512x512",
            "--seed",
            "3",
        ],
        "",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stderr, "");
    assert_eq!(
        run.stdout,
        "# imported by `comp import a1111` from\n\
         #   prompt: a wooden cabin AND heavy snow :1.2 AND people :-0.5\n\
         #   negative prompt: blurry, \"low\" quality\n\
         model sd15\n\
         size 512x512\n\
         sampler euler_a(steps: 25)\n\
         scale 7.5\n\
         seed 3\n\
         base \"blurry, \\\"low\\\" quality\"\n\
         sample image = \"a wooden cabin\" AND 1.2 * \"heavy snow\" AND NOT 0.5 * \"people\"\n"
    );
}

#[test]
fn prompt_editing_becomes_step_windows_and_emphasis_warns() {
    let run = comp(&["import", "a1111", "a [cabin:castle:0.5] in (snow:1.3)", "--steps", "25", "--model", "sd21"], "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    // int(0.5 · 25) = 12: "cabin" through schedule step 12; model call k sees step max(k, 1),
    // so calls 0..=12 (13 of them): the window ends at 13/25 = 0.52.
    assert!(run.stdout.contains("model sd21\nsampler dpmpp2m(steps: 25)\nscale 7\nbase \"\"\n"), "{}", run.stdout);
    assert!(
        run.stdout.ends_with("sample image = \"a cabin in snow\" @ [0, 0.52] AND \"a castle in snow\" @ [0.52, 1]\n"),
        "{}",
        run.stdout
    );
    // The warning points at the emphasis, under the prompt.
    assert!(run.stderr.contains("[W0101(emphasis-dropped)] Warning: emphasis dropped"), "{}", run.stderr);
    assert!(run.stderr.contains("prompt:1:25"), "{}", run.stderr);
    assert!(run.stderr.contains("scales these words' embeddings by 1.3"), "{}", run.stderr);
}

#[test]
fn composable_pipeline_prompt_with_weights() {
    let run = comp(&["import", "composable", "a red car | a blue sky | people", "--weights", "7.5 | 3.75 | -7.5"], "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.ends_with("scale 7.5\nbase \"\"\nsample image = \"a red car\" AND 0.5 * \"a blue sky\" AND NOT \"people\"\n"),
        "{}",
        run.stdout
    );
    // Weights that do not divide the scale: absolute weights at scale 1.
    let run = comp(&["import", "composable", "a | b", "--weights", "5 | -2"], "");
    assert!(run.stdout.ends_with("scale 1\nbase \"\"\nsample image = 5 * \"a\" AND NOT 2 * \"b\"\n"), "{}", run.stdout);
}

#[test]
fn bad_input_is_an_error_with_a_span_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let deep = format!("{}a{}", "(".repeat(201), ")".repeat(201));
    let cases: [(&[&str], &str, &str); 5] = [
        (&["a1111", &deep], "E0201", "prompt:1:201"),
        // A1111 itself stops on these: Python's float("1.2.3") and int(inf) raise.
        (&["a1111", "a (cat:1.2.3) dog"], "E0202", "prompt:1:8"),
        (&["a1111", "a [cat:dog:1e999]"], "E0203", "prompt:1:12"),
        (&["a1111", "a [cat:dog:12]"], "E0204", "prompt:1:12"),
        (&["composable", "a | b", "--weights", "7.5 | lots"], "E0202", "--weights:1:7"),
    ];
    for (args, code, at) in cases {
        let mut all = vec!["import"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["-o", "out.comp"]);
        let run = comp_in(dir.path(), &all, "");
        assert_eq!(run.code, 1, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(&format!("[{code}] Error")), "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(at), "{args:?} should point at {at}: {}", run.stderr);
        assert_eq!(run.stdout, "");
        assert!(!dir.path().join("out.comp").exists(), "{args:?} wrote a file");
    }
    // A bracket split by AND is text, and the warning says why.
    let run = comp(&["import", "a1111", "[a AND b:0.5]"], "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("[W0109(read-as-text)]") && run.stderr.contains("A1111 splits the prompt at each AND before it reads brackets"),
        "{}",
        run.stderr
    );
    let run = comp(&["import", "a1111", "(a AND b"], "");
    assert!(!run.stderr.contains("splits the prompt at each AND"), "the AND is not the cause: {}", run.stderr);
    // Warnings denied: exit 1, nothing written.
    let run = comp_in(dir.path(), &["import", "a1111", "(a)", "--deny", "warnings", "-o", "out.comp"], "");
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("W0101") && run.stderr.contains("denied"), "{}", run.stderr);
    assert!(!dir.path().join("out.comp").exists());
    // Usage errors: exit 2.
    assert_eq!(comp(&["import", "a1111", "a", "--weights", "1"], "").code, 2);
    assert_eq!(comp(&["import", "a1111", "a", "--size", "500x512"], "").code, 2);
    assert_eq!(comp(&["import", "a1111", "a", "--sampler", "LMS"], "").code, 2);
    assert_eq!(comp(&["import", "a1111", "a", "--name", "2x"], "").code, 2);
}

#[test]
fn what_a1111_samples_is_imported_not_refused() {
    // Each prompt was refused before (issue 27); A1111 samples it, and the import writes what
    // A1111's sampler conditions on, with a warning where the syntax is read as text.
    let cases: &[(&[&str], &str, &str)] = &[
        // A1111's own doctest: stray brackets are text, `[d:3]` applies; 10 steps: schedule
        // (3, …), (10, … d), call k sees step max(k, 1): calls 0..=3 then 4..=9.
        (&["((a][:b:c [d:3]", "--steps", "10"], "sample image = \"a] :b:c\" @ [0, 0.4] AND \"a] :b:c d\" @ [0.4, 1]\n", "W0109"),
        // parse_prompt_attention's doctest (one `(` never closed).
        (&["a (((house:1.3)) [on] a (hill:0.5), sun, (((sky)))."], "sample image = \"a house on a hill , sun, sky .\"\n", "W0101"),
        // `[b:c]` without a number beside a real edit; int(0.5·10) = 5: calls 0..=5.
        (&["[b:c] [x:y:0.5]", "--steps", "10"], "sample image = \"b:c x\" @ [0, 0.6] AND \"b:c y\" @ [0.6, 1]\n", "W0109"),
        (&["a AND b :1e-3"], "sample image = \"a\" AND \"b :1e-3\"\n", "W0109"),
        (&["a AND b :1.2.3"], "sample image = \"a\" AND \"b :1.2.3\"\n", "W0109"),
        (&["(a:+)"], "sample image = \"a:+\"\n", "W0101"),
        // Every weight 0: the negative prompt alone.
        (&["a :0 AND b :0", "--negative", "blurry"], "base none\nsample image = \"blurry\"\n", "W0105"),
        // A `|` outside square brackets: A1111 reads the part as written, edits included.
        (&["a | [b:c:0.5]", "--steps", "10"], "sample image = \"a | b:c:0.5\"\n", "W0109"),
        // The hash-seed-dependent parse: the edit applies, with a warning.
        (&["[a:b:5]:y", "--steps", "10"], "sample image = \"a:y\" @ [0, 0.6] AND \"b:y\" @ [0.6, 1]\n", "W0110"),
    ];
    for (args, tail, code) in cases {
        let mut all = vec!["import", "a1111"];
        all.extend_from_slice(args);
        let run = comp(&all, "");
        assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
        assert!(run.stdout.ends_with(tail), "{args:?}: {}", run.stdout);
        assert!(run.stderr.contains(&format!("[{code}(")), "{args:?}: {}", run.stderr);
    }
}

#[test]
fn a1111s_sampler_step_rule_and_extra_networks() {
    // Issue 27's reproducers. `a [cat:dog:3]`, 10 steps: calls 0..=3 "a cat" (steps 1, 1, 2, 3).
    let run = comp(&["import", "a1111", "a [cat:dog:3]", "--steps", "10"], "");
    assert!(run.stdout.ends_with("sample image = \"a cat\" @ [0, 0.4] AND \"a dog\" @ [0.4, 1]\n"), "{}", run.stdout);
    // `[cat|dog]`, 4 steps: calls 0..=3 see steps 1, 1, 2, 3: cat, cat, dog, cat.
    let run = comp(&["import", "a1111", "[cat|dog]", "--steps", "4"], "");
    assert!(
        run.stdout.ends_with("sample image = \"cat\" @ [0, 0.5] AND \"dog\" @ [0.5, 0.75] AND \"cat\" @ [0.75, 1]\n"),
        "{}",
        run.stdout
    );
    // `a [b:c:0.99]`, 50 steps: int(49.5) = 49, and call 49 sees step 49: never "a c".
    let run = comp(&["import", "a1111", "a [b:c:0.99]", "--steps", "50"], "");
    assert!(run.stdout.ends_with("sample image = \"a b\"\n"), "{}", run.stdout);
    // Tags go before the weights are read; the negative prompt keeps its tag as text.
    let run = comp(&["import", "a1111", "a AND smoke:-0.5 <lora:detail:0.7>", "--negative", "bad <lora:x:1>"], "");
    assert!(run.stdout.ends_with("base \"bad <lora:x:1>\"\nsample image = \"a\" AND NOT 0.5 * \"smoke\"\n"), "{}", run.stdout);
    assert!(run.stderr.contains("[W0103(") && run.stderr.contains("[W0109("), "{}", run.stderr);
    // BREAK: a chunk break only as a bare word; inside emphasis, or glued to an edit, a word.
    let run = comp(&["import", "a1111", "(a BREAK b) AND x BREAK[c:d:0.5]", "--steps", "10"], "");
    assert!(
        run.stdout.ends_with("sample image = \"a BREAK b\" AND \"x BREAKc\" @ [0, 0.6] AND \"x BREAKd\" @ [0.6, 1]\n"),
        "{}",
        run.stdout
    );
    assert!(!run.stderr.contains("W0102"), "{}", run.stderr);
}

#[test]
fn the_written_file_passes_comp_check_or_nothing_is_written() {
    // Issue 26, item 9: each of these was written with exit 0 and then refused by `comp check`.
    let dir = tempfile::tempdir().unwrap();
    let overflow = format!("a :{}", "9".repeat(400));
    let parts = (0..10_001).map(|i| format!("x{i}")).collect::<Vec<_>>().join(" AND ");
    let cases: Vec<Vec<&str>> = vec![
        vec!["a1111", "a fox", "--seed", "18446744073709551615"],
        vec!["a1111", "a fox", "--size", "8x8"],
        vec!["a1111", "a fox", "--size", "2048x4096"],
        vec!["a1111", "--infotext", "a fox\nSteps: 20, Sampler: Euler a, Size: 8x8"],
        vec!["a1111", "a fox", "--steps", "5000"],
        vec!["a1111", "a fox", "--model", "toy2d"],
        vec!["a1111", "a fox", "--model", "nosuch"],
        vec!["a1111", &overflow],
        vec!["a1111", &parts],
    ];
    for args in cases {
        let mut all = vec!["import"];
        all.extend_from_slice(&args);
        all.extend_from_slice(&["-o", "out.comp"]);
        let run = comp_in(dir.path(), &all, "");
        let shown: Vec<&str> = args.iter().map(|a| if a.len() > 40 { &a[..40] } else { a }).collect();
        assert_eq!(run.code, 1, "{shown:?}: {}", run.stderr);
        assert!(run.stderr.contains("`comp check` refuses the imported file"), "{shown:?}: {}", run.stderr);
        assert!(run.stderr.contains("out.comp"), "the checker's diagnostic under the file: {shown:?}: {}", run.stderr);
        assert!(!dir.path().join("out.comp").exists(), "{shown:?} wrote a file");
    }
}

#[test]
fn output_file_is_written_once_and_replaced_only_with_force() {
    let dir = tempfile::tempdir().unwrap();
    let run = comp_in(dir.path(), &["import", "a1111", "a fox", "-o", "fox.comp"], "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "");
    let first = std::fs::read_to_string(dir.path().join("fox.comp")).unwrap();
    assert!(first.ends_with("sample image = \"a fox\"\n"), "{first}");
    let run = comp_in(dir.path(), &["import", "a1111", "a cat", "-o", "fox.comp"], "");
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("exists: give --force"), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(dir.path().join("fox.comp")).unwrap(), first);
    let run = comp_in(dir.path(), &["import", "a1111", "a cat", "-o", "fox.comp", "--force"], "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(std::fs::read_to_string(dir.path().join("fox.comp")).unwrap().ends_with("sample image = \"a cat\"\n"));
}

#[test]
fn prompt_from_stdin() {
    let run = comp(&["import", "a1111", "-", "--negative", "ugly"], "a fox\nin the snow AND night :0.5\n");
    assert_eq!(run.code, 0, "{}", run.stderr);
    // The line break is white space to CLIP, as it is to A1111.
    assert!(run.stdout.contains("#   prompt: a fox\n#           in the snow AND night :0.5\n"), "{}", run.stdout);
    assert!(run.stdout.ends_with("base \"ugly\"\nsample image = \"a fox in the snow\" AND 0.5 * \"night\"\n"), "{}", run.stdout);
}

#[test]
fn every_documented_import_code_has_a_case() {
    let deep = format!("{}a{}", "(".repeat(201), ")".repeat(201));
    let cases: &[&[&str]] = &[
        &["a1111", &deep],
        &["a1111", "(a:1.2.3)"],
        &["a1111", "[a:b:1e999]"],
        &["a1111", "[a|b]"],
        &["composable", "a | b", "--weights", "0 | 0"],
        &["composable", "a | b | c", "--weights", "1"],
        &["a1111", "((a)) BREAK <lora:x:1> [b:c:0.5] AND d:0", "--sampler", "DPM++ 2M"],
        &["composable", "a | b", "--weights", "1 | 2 | 3", "--scale", "1"],
        &["a1111", "--infotext", "a\nSteps: 20, Sampler: Euler a, CFG scale: 7, Clip skip: 2"],
        &["a1111", "[a:b] [c:d:5]:y", "--steps", "10"],
    ];
    let mut seen = std::collections::BTreeSet::new();
    for args in cases {
        let mut all = vec!["import"];
        all.extend_from_slice(args);
        let run = comp(&all, "");
        for code in run.stderr.split(['[', ']', '(']).filter(|w| w.len() == 5 && (w.starts_with("E0") || w.starts_with("W0"))) {
            seen.insert(code.to_string());
        }
    }
    let doc = std::fs::read_to_string(common::root().join("docs/import.md")).expect("docs/import.md");
    let documented: std::collections::BTreeSet<String> = doc
        .lines()
        .filter_map(|l| l.strip_prefix("| "))
        .filter(|l| l.starts_with("E02") || l.starts_with("W01"))
        .map(|l| l[..5].to_string())
        .collect();
    assert_eq!(documented.len(), 16, "{documented:?}");
    let missing: Vec<_> = documented.difference(&seen).collect();
    assert!(missing.is_empty(), "documented codes no case produces: {missing:?} (seen {seen:?})");
}

#[test]
fn a1111_infotext_with_flags_on_top() {
    // What A1111 writes under an image (and into the PNG): prompt, negative, parameters.
    let infotext = "a wooden cabin AND heavy snow :1.2\n\
                    Negative prompt: blurry\n\
                    Steps: 25, Sampler: Euler a, CFG scale: 7.5, Seed: 3, Size: 512x768, Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Clip skip: 2\n";
    let run = comp(&["import", "a1111", "--infotext", "-"], infotext);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "# imported by `comp import a1111 --infotext` from\n\
         #   prompt: a wooden cabin AND heavy snow :1.2\n\
         #   negative prompt: blurry\n\
         #   A1111 checkpoint: v1-5-pruned-emaonly [6ce0161689]\n\
         model sd15\n\
         size 512x768\n\
         sampler euler_a(steps: 25)\n\
         scale 7.5\n\
         seed 3\n\
         base \"blurry\"\n\
         sample image = \"a wooden cabin\" AND 1.2 * \"heavy snow\"\n"
    );
    assert!(run.stderr.contains("[W0108(infotext-ignored)]") && run.stderr.contains("Clip skip: 2"), "{}", run.stderr);
    // Flags override the infotext.
    let run = comp(&["import", "a1111", "--infotext", "-", "--steps", "10", "--scale", "5", "--negative", "dark"], infotext);
    assert!(run.stdout.contains("sampler euler_a(steps: 10)\nscale 5\nseed 3\nbase \"dark\"\n"), "{}", run.stdout);
    // A sampler comp does not have is a usage error that says what to do.
    let run = comp(&["import", "a1111", "--infotext", "-"], "a fox\nSteps: 20, Sampler: Heun, CFG scale: 7\n");
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("no comp sampler for `Heun`"), "{}", run.stderr);
}
