//! `--seed`, `--samples` and `--dtype` are settings compiled in over the file's (issue 20,
//! item 2): checked as a script's own `seed`, `samples` and `dtype` are, reported under the
//! command line when wrong (exit 2, nothing written), and a plan compiled with them is the
//! plan of the script with the setting written.

mod common;
use common::comp_in;
use std::path::Path;

/// The lines of a rendered diagnostic that do not say where it is: the message, the label,
/// the help and the note.
fn what(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .map(|l| l.trim_start_matches([' ', '│', '╰', '─', '┬']).trim_end())
        .filter(|l| {
            l.starts_with('[') || l.starts_with("Help:") || l.starts_with("Note:") || l.starts_with("not a") || l.starts_with("expected")
        })
        .map(str::to_string)
        .collect()
}

#[test]
fn an_invalid_override_is_the_scripts_diagnostic_at_the_command_line_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("toy.comp"), "model toy2d\nsample s = ring\n").unwrap();
    let cases: [(&[&str], &str, &str); 3] = [
        (&["--samples", "0"], "samples 0", "[E0114] Error: invalid value for `samples`: expected a whole number >= 1"),
        (
            &["--seed", "9007199254740992"],
            "seed 9007199254740992",
            "[E0114] Error: invalid value for `seed`: expected a whole number in 0..=2^53-1",
        ),
        (&["--dtype", "f16"], "dtype f16", "[E0102] Error: unknown setting `dtype`"),
    ];
    for (flags, setting, message) in cases {
        // The same setting written in the script: the diagnostic to match.
        std::fs::write(d.join("written.comp"), format!("model toy2d\n{setting}\nsample s = ring\n")).unwrap();
        let script = comp_in(d, &["check", "written.comp"], "");
        assert_eq!(script.code, 1, "{}", script.stderr);
        assert!(script.stderr.contains(message), "{}", script.stderr);
        assert_eq!(what(&script.stderr)[0], message, "{:?}", what(&script.stderr));
        for command in ["run", "plan"] {
            let mut args = vec![command, "toy.comp", "-q"];
            if command == "plan" {
                args = vec![command, "toy.comp", "--emit", "json"];
            }
            args.extend(["-o", "out"].iter().filter(|_| command == "run"));
            args.extend(flags);
            let r = comp_in(d, &args, "");
            assert_eq!(r.code, 2, "a bad flag is a usage error: {args:?}\n{}", r.stderr);
            assert!(r.stdout.is_empty(), "{}", r.stdout);
            assert!(r.stderr.contains(message), "{}", r.stderr);
            // It points at the flag, on the command line, not into the file.
            assert!(r.stderr.contains("<command line>:1:"), "{}", r.stderr);
            assert!(r.stderr.contains(&format!(" 1 │ {}", flags.join(" "))), "{}", r.stderr);
            assert!(!r.stderr.contains("toy.comp"), "{}", r.stderr);
            assert_eq!(what(&r.stderr), what(&script.stderr), "the script's diagnostic, word for word");
            assert!(!d.join("out").exists(), "nothing written: {args:?}");
        }
    }
    // `--dtype f16` on toy2d says why, as `dtype f16` in the script does.
    let r = comp_in(d, &["run", "toy.comp", "-q", "-o", "out", "--dtype", "f16"], "");
    assert!(r.stderr.contains("`toy2d` computes in f32 only"), "{}", r.stderr);
    // A JSON plan is not compiled; its overrides are checked against its model all the same.
    let plan = comp_in(d, &["plan", "toy.comp", "--emit", "json"], "").stdout;
    std::fs::write(d.join("toy.json"), plan).unwrap();
    let r = comp_in(d, &["run", "toy.json", "-q", "-o", "out", "--dtype", "f16"], "");
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("[E0102] Error: unknown setting `dtype`") && r.stderr.contains("<command line>:1:1"), "{}", r.stderr);
    let r = comp_in(d, &["run", "toy.json", "-q", "-o", "out", "--samples", "0"], "");
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("invalid value for `samples`"), "{}", r.stderr);
    assert!(!d.join("out").exists());
    // An error in the file and one in a flag: both reported; the flag's makes it a usage error.
    std::fs::write(d.join("bad.comp"), "model toy2d\nsample s = rnig\n").unwrap();
    let r = comp_in(d, &["plan", "bad.comp", "--samples", "0"], "");
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("`samples`") && r.stderr.contains("unknown name `rnig`"), "{}", r.stderr);
    // A flag that is fine and a file that is not: exit 1, as without the flag.
    assert_eq!(comp_in(d, &["plan", "bad.comp", "--samples", "3"], "").code, 1);
}

fn plan_json(dir: &Path, file: &str, flags: &[&str]) -> String {
    let mut args = vec!["plan", file, "--emit", "json"];
    args.extend(flags);
    let r = comp_in(dir, &args, "");
    assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
    r.stdout
}

#[test]
fn a_valid_override_compiles_as_the_setting_written_in_the_script() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A file that writes none of them, one that writes them (replaced), one with a `with`
    // (which the flag overrides too, as it always has).
    let bare = "model toy2d\nsample s = ring AND bar\n";
    std::fs::write(d.join("bare.comp"), bare).unwrap();
    std::fs::write(d.join("bare_written.comp"), "model toy2d\nseed 7\nsamples 30\nsample s = ring AND bar\n").unwrap();
    assert_eq!(plan_json(d, "bare.comp", &["--seed", "7", "--samples", "30"]), plan_json(d, "bare_written.comp", &[]));
    let product = std::fs::read_to_string(common::root().join("examples/product.comp")).unwrap();
    assert!(product.contains("\nseed 0\n") && product.contains("\nsamples 2000\n"));
    std::fs::write(d.join("product.comp"), &product).unwrap();
    std::fs::write(
        d.join("product_written.comp"),
        product.replace("\nseed 0\n", "\nseed 7\n").replace("\nsamples 2000\n", "\nsamples 30\n"),
    )
    .unwrap();
    assert_eq!(plan_json(d, "product.comp", &["--seed", "7", "--samples", "30"]), plan_json(d, "product_written.comp", &[]));
    std::fs::write(d.join("with.comp"), "model toy2d\nsample s = ring with seed 3, samples 9\n").unwrap();
    std::fs::write(d.join("with_written.comp"), "model toy2d\nsample s = ring with seed 7, samples 30\n").unwrap();
    assert_eq!(plan_json(d, "with.comp", &["--seed", "7", "--samples", "30"]), plan_json(d, "with_written.comp", &[]));
    // `--dtype` on a model that has it (no weights needed to compile).
    std::fs::write(d.join("sd.comp"), "model sd15\nsample s = \"a red cat\"\n").unwrap();
    std::fs::write(d.join("sd_written.comp"), "model sd15\ndtype bf16\nsample s = \"a red cat\"\n").unwrap();
    assert_eq!(plan_json(d, "sd.comp", &["--dtype", "bf16"]), plan_json(d, "sd_written.comp", &[]));

    // `comp run`: the same record, plan and samples as the script with the settings written;
    // a shard's plan hash too.
    let run = |file: &str, out: &str, flags: &[&str]| {
        let mut args = vec!["run", file, "-q", "-o", out];
        args.extend(flags);
        let r = comp_in(d, &args, "");
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
        let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(d.join(out).join("s/run.json")).unwrap()).unwrap();
        (json, std::fs::read(d.join(out).join("s/samples.npy")).unwrap())
    };
    let (flagged, flagged_npy) = run("bare.comp", "a", &["--seed", "7", "--samples", "30"]);
    let (written, written_npy) = run("bare_written.comp", "b", &[]);
    for field in ["plan", "settings", "seed", "samples", "model_calls", "steps", "models"] {
        assert_eq!(flagged[field], written[field], "{field}");
    }
    assert_eq!(flagged["samples"], 30);
    assert_eq!(flagged_npy, written_npy);
    let shard = |file: &str, out: &str, flags: &[&str]| {
        let mut args = vec!["run", file, "-q", "-o", out, "--shard", "0/2"];
        args.extend(flags);
        assert_eq!(comp_in(d, &args, "").code, 0);
        let text = std::fs::read_to_string(d.join(out).join("s/shards/shard-0-of-2/shard.json")).unwrap();
        serde_json::from_str::<serde_json::Value>(&text).unwrap()
    };
    let (a, b) = (shard("bare.comp", "sa", &["--seed", "7", "--samples", "30"]), shard("bare_written.comp", "sb", &[]));
    assert_eq!(a["plan_hash"], b["plan_hash"]);
    assert_eq!(a["indices"], serde_json::json!([0, 15]));
}
