//! `comp import` end to end: the binary's output, its diagnostics and exit codes, files.
//! (The coefficients of imported files are checked against A1111's formula in the unit
//! tests, `src/cmd/import/roundtrip.rs`.)

mod common;
use common::{comp, comp_in};

#[test]
fn a1111_prompt_to_stdout() {
    let run = comp(
        &["import", "a1111", "a wooden cabin AND heavy snow :1.2 AND people :-0.5", "--negative", "blurry, \"low\" quality", "--scale", "7.5", "--steps", "25", "--sampler", "euler_a", "--size", "512x512", "--seed", "3"],
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
    // int(0.5 · 25) = 12 steps of "cabin": the window ends at 12/25 = 0.48.
    assert!(run.stdout.contains("model sd21\nsampler dpmpp2m(steps: 25)\nscale 7\nbase \"\"\n"), "{}", run.stdout);
    assert!(run.stdout.ends_with("sample image = \"a cabin in snow\" @ [0, 0.48] AND \"a castle in snow\" @ [0.48, 1]\n"), "{}", run.stdout);
    // The warning points at the emphasis, under the prompt.
    assert!(run.stderr.contains("[W0101(emphasis-dropped)] Warning: emphasis dropped"), "{}", run.stderr);
    assert!(run.stderr.contains("prompt:1:25"), "{}", run.stderr);
    assert!(run.stderr.contains("scales these words' embeddings by 1.3"), "{}", run.stderr);
}

#[test]
fn composable_pipeline_prompt_with_weights() {
    let run = comp(&["import", "composable", "a red car | a blue sky | people", "--weights", "7.5 | 3.75 | -7.5"], "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.ends_with("scale 7.5\nbase \"\"\nsample image = \"a red car\" AND 0.5 * \"a blue sky\" AND NOT \"people\"\n"), "{}", run.stdout);
    // Weights that do not divide the scale: absolute weights at scale 1.
    let run = comp(&["import", "composable", "a | b", "--weights", "5 | -2"], "");
    assert!(run.stdout.ends_with("scale 1\nbase \"\"\nsample image = 5 * \"a\" AND NOT 2 * \"b\"\n"), "{}", run.stdout);
}

#[test]
fn bad_input_is_an_error_with_a_span_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&[&str], &str, &str); 6] = [
        (&["a1111", "a (cat AND dog)"], "E0201", "prompt:1:3"),
        (&["a1111", "a cat] dog"], "E0201", "prompt:1:6"),
        (&["a1111", "a cat AND dog :1.2.3"], "E0202", "prompt:1:16"),
        (&["a1111", "a [cat:dog] x"], "E0203", "prompt:1:8"),
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
    // A bracket split by AND says why.
    let run = comp(&["import", "a1111", "[a AND b:0.5]"], "");
    assert!(run.stderr.contains("A1111 splits the prompt at each AND before it reads brackets"), "{}", run.stderr);
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
    let cases: &[&[&str]] = &[
        &["a1111", "a (b"],
        &["a1111", "a :1.2.3"],
        &["a1111", "[a:b]"],
        &["a1111", "[a|b]"],
        &["a1111", "a :0"],
        &["a1111", "a | b [c:d:0.5]"],
        &["composable", "a | b | c", "--weights", "1"],
        &["a1111", "((a)) BREAK <lora:x:1> [b:c:0.5] AND d:0", "--sampler", "DPM++ 2M"],
        &["composable", "a | b", "--weights", "1 | 2 | 3", "--scale", "1"],
        &["a1111", "--infotext", "a\nSteps: 20, Sampler: Euler a, CFG scale: 7, Clip skip: 2"],
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
    let documented: std::collections::BTreeSet<String> =
        doc.lines().filter_map(|l| l.strip_prefix("| ")).filter(|l| l.starts_with("E02") || l.starts_with("W01")).map(|l| l[..5].to_string()).collect();
    assert_eq!(documented.len(), 15, "{documented:?}");
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
