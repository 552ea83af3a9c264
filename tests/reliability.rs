//! Bad input refused up front, no silent garbage, no lost or mixed output (issue 12), end to
//! end through the binary.

mod common;
use common::{comp, comp_env, comp_in};
use std::path::Path;

fn write(dir: &Path, name: &str, text: &str) -> String {
    std::fs::write(dir.join(name), text).unwrap();
    name.to_string()
}

#[test]
fn base_none_weights_summing_to_zero_are_a_check_error() {
    let r = comp(&["check", "-"], "model toy2d\nsample s = ring AND NOT bar\n");
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("E0123") && r.stderr.contains("`base null`") && r.stderr.contains("1.3 * ring AND NOT 0.3 * bar"),
        "{}",
        r.stderr
    );
    // `comp run` writes nothing for it.
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "s.comp", "model toy2d\nsample s = ring AND NOT bar\n");
    assert_eq!(comp_in(dir.path(), &["run", &f, "-q"], "").code, 1);
    assert!(!dir.path().join("out/s").exists());
}

#[test]
fn constants_folding_to_infinity_never_reach_a_plan() {
    for src in ["model toy2d\nsample s = 1e308 : ring OR 1e308 : bar\n", "model toy2d\nsample s = 1e308 * 1e308 * ring\n"] {
        let r = comp(&["plan", "-", "--emit", "json"], src);
        assert_eq!(r.code, 1, "{src}");
        assert!(r.stderr.contains("E0004"), "{}", r.stderr);
        assert!(!r.stdout.contains("null"), "no plan with null coefficients: {}", r.stdout);
    }
}

#[test]
fn runs_report_non_finite_and_out_of_picture_counts() {
    let dir = tempfile::tempdir().unwrap();
    // Reverse diffusion of the product leaves some samples far out; all are finite.
    let f = write(dir.path(), "p.comp", "model toy2d\nsampler ddpm(steps: 20)\nsamples 200\nsample p = ring AND bar\n");
    let r = comp_in(dir.path(), &["run", &f, "-o", "o"], "");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let record: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("o/p/run.json")).unwrap()).unwrap();
    assert_eq!(record["non_finite"], 0);
    let outside = record["outside_picture"].as_u64().expect("a count");
    assert!(r.stderr.contains(&format!("p: 200 samples (0 non-finite, {outside} outside the picture)")), "{}", r.stderr);
}

#[test]
fn memory_is_checked_before_allocating() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "s.comp", "model toy2d\nsample s = ring AND bar\n");
    let limit = [("COMP_MEMORY_LIMIT", "1G")];
    let r = comp_env(dir.path(), &["run", &f, "--samples", "1000000000000", "-q"], "", &limit);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("1000000000000 samples need about")
            && r.stderr.contains("over the limit of 1.0 GiB (set by COMP_MEMORY_LIMIT=1G)"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("samples fit"), "{}", r.stderr);
    // The `samples` setting too, whatever the machine (1e15 samples are petabytes).
    let g = write(dir.path(), "g.comp", "model toy2d\nsamples 1e15\nsample s = ring AND bar\n");
    let r = comp_in(dir.path(), &["run", &g, "-q"], "");
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("need about"), "{}", r.stderr);
    assert!(!dir.path().join("out/s").exists());
    // And the REPL says so and goes on.
    let r = comp_env(dir.path(), &["repl"], "ring AND bar\n:run 1000000000000\n:run 10\n", &limit);
    assert!(r.stdout.contains("need about") && r.stdout.contains("10 samples of `ring AND bar`"), "{}", r.stdout);
}

#[test]
fn input_size_is_capped() {
    if !Path::new("/dev/zero").exists() {
        return;
    }
    for cmd in [&["check", "/dev/zero"][..], &["run", "/dev/zero"], &["fmt", "/dev/zero"]] {
        let r = comp(cmd, "");
        assert_eq!(r.code, 2, "{cmd:?}: {}", r.stderr);
        assert!(r.stderr.contains("`/dev/zero` is larger than 8 MiB"), "{}", r.stderr);
    }
}

#[test]
fn json_plans_are_validated() {
    let dir = tempfile::tempdir().unwrap();
    let plan = comp(&["plan", "examples/product_hmc.comp", "--emit", "json"], "").stdout;
    let mut json: serde_json::Value = serde_json::from_str(&plan).unwrap();
    json["samples"][0]["settings"]["mcmc"]["leapfrog"] = 0.into();
    json["samples"][0]["segments"][0]["active"] = serde_json::json!([0, 0]);
    let f = write(dir.path(), "bad.json", &json.to_string());
    let r = comp_in(dir.path(), &["run", &f, "-q"], "");
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("`bad.json` is not a valid plan:"), "{}", r.stderr);
    assert!(r.stderr.contains("MCMC `leapfrog` must be in 1..=1000, found 0"), "{}", r.stderr);
    assert!(r.stderr.contains("segment 0 lists condition 0 twice in `active`"), "{}", r.stderr);
    // An empty plan says so instead of exiting 0 without output.
    let f = write(dir.path(), "empty.json", r#"{"version": 2, "samples": []}"#);
    let r = comp_in(dir.path(), &["run", &f, "-q"], "");
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("`samples` is empty: nothing to run"), "{}", r.stderr);
    let f = write(dir.path(), "extra.json", &plan.replacen("\"version\": 2", "\"version\": 2, \"temperature\": 3", 1));
    let r = comp_in(dir.path(), &["run", &f, "-q"], "");
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("unknown field `temperature`"), "{}", r.stderr);
    assert!(!dir.path().join("out").join("product").exists());
}

#[test]
fn output_naming_a_file_is_a_clear_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "R", "not a folder");
    let r = comp_in(dir.path(), &["run", &format!("{}/examples/product.comp", common::root().display()), "-o", "R", "-q"], "");
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("`-o R` names a file; `-o` takes a folder"), "{}", r.stderr);
}

#[test]
fn a_folder_in_use_is_refused_and_concurrent_runs_never_mix() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "race.comp", "model toy2d\nsampler ddpm(steps: 20)\nsamples 300\nsample s = ring AND bar\n");
    // A lock held by a live process (this test) refuses the run, naming the folder.
    std::fs::create_dir_all(dir.path().join("R")).unwrap();
    std::fs::write(dir.path().join("R/.comp-run.lock"), format!("{}\n", std::process::id())).unwrap();
    let r = comp_in(dir.path(), &["run", &f, "-o", "R", "-q"], "");
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains(&format!("another `comp run` (process {}) is writing into `R`", std::process::id())), "{}", r.stderr);
    std::fs::remove_file(dir.path().join("R/.comp-run.lock")).unwrap();
    // Reference outputs of each seed, run alone.
    let reference = |seed: &str| {
        let out = format!("ref{seed}");
        assert_eq!(comp_in(dir.path(), &["run", &f, "-o", &out, "--seed", seed, "-q"], "").code, 0);
        std::fs::read(dir.path().join(out).join("s/samples.npy")).unwrap()
    };
    let (one, two) = (reference("1"), reference("2"));
    // Two runs at once into one folder: each either lands whole or is refused; the folder
    // always holds one run, its run.json matching its samples.
    let exe = env!("CARGO_BIN_EXE_comp");
    for _ in 0..3 {
        let spawn = |seed: &str| {
            std::process::Command::new(exe)
                .args(["run", &f, "-o", "R", "-q", "--seed", seed])
                .current_dir(dir.path())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (a, b) = (spawn("1"), spawn("2"));
        let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
        for o in [&a, &b] {
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(o.status.success() || err.contains("is writing into `R`"), "{err}");
        }
        assert!(a.status.success() || b.status.success());
        let record: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("R/s/run.json")).unwrap()).unwrap();
        let samples = std::fs::read(dir.path().join("R/s/samples.npy")).unwrap();
        let want = if record["seed"] == 1 { &one } else { &two };
        assert_eq!(&samples, want, "samples.npy is from the run that wrote run.json");
        assert!(!dir.path().join("R/.comp-run.lock").exists(), "the lock is released");
    }
}

#[test]
fn check_json_reports_unreadable_files_as_diagnostics() {
    let r = comp(&["check", "--format", "json", "no/such/file.comp"], "");
    assert_eq!(r.code, 2);
    let ds: Vec<serde_json::Value> = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(ds.len(), 1, "{}", r.stdout);
    assert_eq!(ds[0]["code"], "E0005");
    assert_eq!(ds[0]["file"], "no/such/file.comp");
    assert_eq!(ds[0]["message"], "cannot read `no/such/file.comp`: no such file");
}

#[test]
fn plan_emit_ast_has_no_duplicate_keys() {
    let r = comp(&["plan", "examples/product_hmc.comp", "--emit", "ast"], "");
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("\"kind\": \"expr\",\n") && r.stdout.contains("\"value\": {"), "{}", r.stdout);
}

#[test]
fn diagnostics_stay_bounded() {
    // `with` + 2,000 × `scale 1`: 1,999 duplicate settings, on one 18 KB line.
    let src = format!("model toy2d\nsample s = ring with {}\n", vec!["scale 1"; 2000].join(", "));
    let r = comp(&["check", "-"], &src);
    assert_eq!(r.code, 1);
    assert!(r.stderr.len() < 20_000, "{} bytes of diagnostics", r.stderr.len());
    assert!(r.stderr.contains("… and 1,989 more like this (E0116)"), "{}", &r.stderr[r.stderr.len().saturating_sub(500)..]);
    // A 2 MB one-line script with an error at its end prints a few lines.
    let src = format!("model toy2d\nsample s = ring AND {}rnig\n", "bar AND ".repeat(250_000));
    let r = comp(&["check", "-"], &src);
    assert_eq!(r.code, 1);
    assert!(r.stderr.len() < 5_000, "{} bytes", r.stderr.len());
    assert!(r.stderr.contains("E0103") && r.stderr.contains("only the part around the problem is shown"), "{}", r.stderr);
}

#[test]
fn lone_carriage_returns_are_named() {
    let r = comp(&["check", "-"], "model toy2d\rsample s = ring AND bar\r");
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("a line ends with a carriage return alone"), "{}", r.stderr);
}

#[cfg(unix)]
#[test]
fn fmt_in_place_keeps_symlinks_hard_links_and_mode() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    let messy = "model   toy2d\nsample s=ring AND bar\n";
    // A symlink: the target is rewritten, the link stays a link.
    write(p, "real.comp", messy);
    std::os::unix::fs::symlink("real.comp", p.join("link.comp")).unwrap();
    std::fs::set_permissions(p.join("real.comp"), std::fs::Permissions::from_mode(0o640)).unwrap();
    assert_eq!(comp_in(p, &["fmt", "link.comp"], "").code, 0);
    assert!(std::fs::symlink_metadata(p.join("link.comp")).unwrap().file_type().is_symlink());
    let formatted = std::fs::read_to_string(p.join("real.comp")).unwrap();
    assert_eq!(formatted, "model toy2d\nsample s = ring AND bar\n");
    assert_eq!(std::fs::metadata(p.join("real.comp")).unwrap().permissions().mode() & 0o777, 0o640);
    // A hard link: both names see the new text and stay one file.
    write(p, "a.comp", messy);
    std::fs::hard_link(p.join("a.comp"), p.join("b.comp")).unwrap();
    assert_eq!(comp_in(p, &["fmt", "a.comp"], "").code, 0);
    assert_eq!(std::fs::read_to_string(p.join("b.comp")).unwrap(), formatted);
    assert_eq!(std::fs::metadata(p.join("a.comp")).unwrap().ino(), std::fs::metadata(p.join("b.comp")).unwrap().ino());
}

#[test]
fn models_show_weights_and_an_explicit_folder_wins() {
    let r = comp(&["models"], "");
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("weights: none needed (exact, built in)"), "{}", r.stdout);
    assert!(r.stdout.contains("toy2d-mlp") && r.stdout.contains("models/toy2d-mlp"), "{}", r.stdout);
    let json: Vec<serde_json::Value> = serde_json::from_str(&comp(&["models", "--json"], "").stdout).unwrap();
    let toy = json.iter().find(|m| m["name"] == "toy2d").unwrap();
    assert_eq!(toy["weights"]["status"], "built-in");
    let mlp = json.iter().find(|m| m["name"] == "toy2d-mlp").unwrap();
    assert_eq!(mlp["weights"]["status"], "found");
    // COMP_MODELS pointing at an empty folder with a `toy2d-mlp/` inside wins over the shipped
    // weights: the model then has none, and the error lists that folder first.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("toy2d-mlp")).unwrap();
    let env = [("COMP_MODELS", dir.path().to_str().unwrap())];
    let f = write(dir.path(), "m.comp", "model toy2d-mlp\nsamples 4\nsampler ddpm(steps: 2)\nsample s = ring\n");
    let r = comp_env(dir.path(), &["run", &f, "-q"], "", &env);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let first = format!("searched, in order:\n  {}", dir.path().join("toy2d-mlp").display());
    assert!(r.stderr.contains(&first) && r.stderr.contains("set COMP_MODELS"), "{}", r.stderr);
}

#[test]
fn train_refuses_to_overwrite_weights_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m");
    let train = |extra: &[&str]| {
        let mut args = vec!["train", "toy2d", "--steps", "1", "--batch", "8", "--out", out.to_str().unwrap(), "-q"];
        args.extend_from_slice(extra);
        comp_in(dir.path(), &args, "")
    };
    assert_eq!(train(&[]).code, 0);
    let before = std::fs::read(out.join("model.safetensors")).unwrap();
    let r = train(&["--seed", "9"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("already holds weights") && r.stderr.contains("--force"), "{}", r.stderr);
    assert_eq!(std::fs::read(out.join("model.safetensors")).unwrap(), before, "untouched");
    assert_eq!(train(&["--seed", "9", "--force"]).code, 0);
    assert_ne!(std::fs::read(out.join("model.safetensors")).unwrap(), before);
}

#[test]
fn memory_limit_spellings_are_read_or_refused() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "s.comp", "model toy2d\nsample s = ring AND bar\n");
    // The usual spellings are read (issue 26: `8GB` and `1KiB` were silently ignored).
    for (spelling, shown) in [("8GB", "8.0 GiB"), ("1KiB", "1.0 KiB"), ("1.5 gib", "1.5 GiB")] {
        let r = comp_env(dir.path(), &["run", &f, "--samples", "1000000000000", "-q"], "", &[("COMP_MEMORY_LIMIT", spelling)]);
        assert_eq!(r.code, 1, "{}", r.stderr);
        assert!(r.stderr.contains(&format!("over the limit of {shown} (set by COMP_MEMORY_LIMIT={spelling})")), "{spelling}: {}", r.stderr);
    }
    // Anything else is an error naming the variable, even for a run that would fit.
    for bad in ["abc", "-1", "8GX", "1e9"] {
        let r = comp_env(dir.path(), &["run", &f, "--samples", "10", "-q", "-o", "out"], "", &[("COMP_MEMORY_LIMIT", bad)]);
        assert_eq!(r.code, 1, "{bad}: {}", r.stderr);
        assert!(r.stderr.contains(&format!("COMP_MEMORY_LIMIT=\"{bad}\" is not a size")), "{bad}: {}", r.stderr);
        assert!(!dir.path().join("out/s").exists());
    }
}

/// A command whose reader is gone before it writes ends quietly (SIGPIPE, as `cat` does), never
/// with a panic (issue 26: "failed printing to stdout").
#[cfg(unix)]
#[test]
fn a_closed_pipe_ends_every_command_quietly() {
    use std::os::unix::process::ExitStatusExt;
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "s.comp", "model toy2d\nsample s = ring AND bar\n");
    let cases: [(&[&str], &str); 7] = [
        (&["models"], ""),
        (&["models", "--json"], ""),
        (&["plan", &f, "--emit", "json"], ""),
        (&["check", "--format", "json", &f], ""),
        (&["fmt", "-"], "model toy2d\nsample s = ring\n"),
        (&["import", "composable", "a red cat | a dog"], ""),
        (&["repl"], ":help\n:models\n"),
    ];
    for (args, stdin) in cases {
        let mut child = Command::new(env!("CARGO_BIN_EXE_comp"))
            .args(args)
            .current_dir(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Close the reading end before comp writes anything: its first write meets a broken pipe.
        drop(child.stdout.take());
        use std::io::Write;
        let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
        let o = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(
            !stderr.contains("panicked") && !stderr.contains("internal error") && !stderr.contains("failed printing"),
            "{args:?}: {stderr}"
        );
        assert!(o.status.success() || o.status.signal() == Some(13), "{args:?}: {:?} {stderr}", o.status);
    }
}

#[cfg(unix)]
#[test]
fn outputs_never_replace_devices_or_links() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let null = d.join("null");
    std::os::unix::fs::symlink("/dev/null", &null).unwrap();
    let is_link = |p: &Path| std::fs::symlink_metadata(p).unwrap().file_type().is_symlink();
    // `-o LINK --force` writes what the link leads to (here the device, in place).
    let r = comp_in(d, &["import", "composable", "a red cat", "-o", "null", "--force"], "");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(is_link(&null), "the link was replaced by a regular file");
    assert!(!std::fs::metadata("/dev/null").unwrap().is_file());
    // A dangling link is there: refused without --force, its target written with it.
    std::os::unix::fs::symlink("made.comp", d.join("dangling")).unwrap();
    let r = comp_in(d, &["import", "composable", "a red cat", "-o", "dangling"], "");
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("give --force"), "{}", r.stderr);
    assert!(!d.join("made.comp").exists());
    let r = comp_in(d, &["import", "composable", "a red cat", "-o", "dangling", "--force"], "");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(is_link(&d.join("dangling")) && std::fs::read_to_string(d.join("made.comp")).unwrap().contains("a red cat"));
    // `comp eval toy2d --json LINK`: the same.
    let r = comp_in(d, &["eval", "toy2d", "--samples", "16", "--steps", "2", "-o", "ev", "--json", "null", "-q"], "");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(is_link(&null));
    assert!(!std::fs::metadata("/dev/null").unwrap().is_file());
}

#[test]
fn a_killed_runs_leftovers_are_cleaned_by_the_next_run_into_the_folder() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let f = write(d, "s.comp", "model toy2d\nsampler ddpm(steps: 5)\nsample s = ring\n");
    // What a SIGKILLed run leaves: its staging folder and temporary files, named by its pid
    // (2147483632: no such process). A live process's (this test's) are left alone.
    let gone = 2_147_483_632u32;
    let live = std::process::id();
    let out = d.join("out");
    std::fs::create_dir_all(out.join(format!(".s.partial-{gone}"))).unwrap();
    std::fs::write(out.join(format!(".s.partial-{gone}/.samples.npy.tmp-{gone}-0")), b"half").unwrap();
    std::fs::write(out.join(format!(".run.json.tmp-{gone}-3")), b"half").unwrap();
    std::fs::write(out.join(format!(".run.json.tmp-{live}-3")), b"mine").unwrap();
    let shard = out.join("s/shards/shard-0-of-1");
    std::fs::create_dir_all(&shard).unwrap();
    std::fs::write(shard.join(format!(".samples.npy.tmp-{gone}-0")), b"half").unwrap();
    let r = comp_in(d, &["run", &f, "-o", "out", "--samples", "4", "-q"], "");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = comp_in(d, &["run", &f, "-o", "out", "--samples", "4", "-q", "--shard", "0/1"], "");
    assert_eq!(r.code, 0, "{}", r.stderr);
    if Path::new("/proc/self").exists() {
        assert!(!out.join(format!(".s.partial-{gone}")).exists());
        assert!(!out.join(format!(".run.json.tmp-{gone}-3")).exists());
        assert!(!shard.join(format!(".samples.npy.tmp-{gone}-0")).exists());
    }
    assert!(out.join(format!(".run.json.tmp-{live}-3")).exists(), "a live process's file is kept");
}
