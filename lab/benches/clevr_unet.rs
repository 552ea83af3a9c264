//! Speed of the clevr-pos UNet on this machine, beside candle's own matrix product in the same
//! run: one training step (forward, backward, AdamW) and one sampling forward of the shipped
//! configuration, with the CPU kernels (`models::clevr::{conv, norm}`) and with candle's own
//! ops (`with_reference_ops`, what a GPU runs), plus single convolution layers.
//!
//! `cargo bench -p comp-lab --bench clevr_unet` (add `-- quick` for fewer repetitions; `--
//! profile` or `-- profile-sampling` runs only training steps or sampling forwards, for `perf`).
//!
//! `COMP_PEER_PYTHON=/path/to/venv/bin/python cargo bench -p comp-lab --bench clevr_unet -- peer`
//! measures only comp's training step (batch 32) and sampling forward (32 rows) against the
//! same network in PyTorch (`bench/peer/clevr_unet.py --serve`, same batch, rows and threads),
//! interleaved call by call (15 pairs of each, or `pairs=N`), and prints both sides' medians and
//! the median of the pairs' ratios (comp / PyTorch speed; ≥ 1 is comp as fast or faster).
//!
//! A table, not criterion: the point is the ratios in one process on a shared machine (the
//! load average is printed before and after), and a training step takes a good fraction of a
//! second. Each line is the median of several timed repetitions after a warm-up.
//! GFLOP/s counts 2 per multiply-add of the convolutions only (a training step = 3 forward
//! passes' worth), so it is a lower bound on the arithmetic rate.

use std::time::Instant;

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{Optimizer, VarBuilder, VarMap};
use comp_lab::clevr::train::{loss, Trainee};
use comp_models::clevr::conv::Conv3;
use comp_models::clevr::{card, with_reference_ops, Config, Unet};
use comp_runtime::Schedule;

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg").map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" ")).unwrap_or_default()
}

/// Median seconds of `reps` runs of `f` after `warm` untimed ones.
fn time(warm: usize, reps: usize, mut f: impl FnMut()) -> f64 {
    for _ in 0..warm {
        f();
    }
    let mut t: Vec<f64> = (0..reps)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64()
        })
        .collect();
    t.sort_by(|a, b| a.partial_cmp(b).unwrap());
    t[reps / 2]
}

/// The trainee's network with its weights as constants, as a loaded model samples
/// (`Clevr::load`: no autograd, each convolution's weight matrix made once).
fn inference(tr: &Trainee, cfg: &Config, dev: &Device) -> Unet {
    Unet::new(cfg, VarBuilder::from_tensors(card::snapshot(&tr.varmap).unwrap(), DType::F32, dev)).unwrap()
}

fn main() {
    // As `comp` runs: one thread for candle's elementwise ops (its pool busy-waits), freed
    // memory kept in the heap.
    if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
        std::env::set_var("CANDLE_NUM_THREADS", "1");
    }
    comp_runtime::tune_cpu_process();
    let quick = std::env::args().any(|a| a == "quick");
    let reps = if quick { 3 } else { 7 };
    let dev = Device::Cpu;
    if std::env::args().any(|a| a == "profile-sampling") {
        // Only sampling forwards of 32 rows with the kernels, for `perf record`.
        let tr = Trainee::new(&Config::default(), 0, DType::F32, &dev).unwrap();
        let net = inference(&tr, &Config::default(), &dev);
        let x = Tensor::randn(0f32, 1.0, (32, 3, 32, 32), &dev).unwrap();
        let (t, xy, mask) = (
            Tensor::full(500f32, 32, &dev).unwrap(),
            Tensor::full(0.5f32, (32, 2), &dev).unwrap(),
            Tensor::ones(32, DType::F32, &dev).unwrap(),
        );
        for _ in 0..40 {
            net.forward(&x, &t, &xy, &mask).unwrap();
        }
        return;
    }
    if std::env::args().any(|a| a == "profile") {
        // Only training steps with the kernels, for `perf record`.
        let cfg = Config::default();
        let sched = Schedule::cosine(cfg.native_steps, 0.008).unwrap();
        let tr = Trainee::new(&cfg, 0, DType::F32, &dev).unwrap();
        let mut opt = candle_nn::AdamW::new_lr(tr.varmap.all_vars(), 1e-4).unwrap();
        for step in 0..12 {
            let l = loss(&tr.unet, &sched, &[], 0, step, 32, &dev).unwrap();
            opt.backward_step(&l).unwrap();
        }
        return;
    }
    if std::env::args().any(|a| a == "convs") {
        convs(reps);
        return;
    }
    if std::env::args().any(|a| a == "peer") {
        let pairs = std::env::args().find_map(|a| a.strip_prefix("pairs=")?.parse().ok()).unwrap_or(15);
        peer(pairs);
        return;
    }
    println!("clevr-pos UNet speed; load average before: {}; rayon threads {}", load(), rayon::current_num_threads());

    // candle's matrix product: the rate to compare with.
    for (m, k, n) in [(1024, 1024, 1024), (32 * 1024, 217, 24), (32 * 1024, 649, 24)] {
        let a = Tensor::randn(0f32, 1.0, (m, k), &dev).unwrap();
        let b = Tensor::randn(0f32, 1.0, (k, n), &dev).unwrap();
        let s = time(2, reps, || {
            a.matmul(&b).unwrap();
        });
        println!("matmul {m}x{k} · {k}x{n}: {:.1} GFLOP/s", 2.0 * (m * k * n) as f64 / s / 1e9);
    }

    // Single 3×3 convolutions at batch 32 (the first ResBlock's, and the widest decoder one).
    for (cin, cout, px) in [(24, 24, 32), (72, 24, 32), (96, 48, 8)] {
        let vm = VarMap::new();
        let conv = Conv3::new(cin, cout, 1, VarBuilder::from_varmap(&vm, DType::F32, &dev)).unwrap();
        card::init_weights(&vm, 0).unwrap();
        let x = Tensor::randn(0f32, 1.0, (32, px, px, cin), &dev).unwrap();
        let flops = 32.0 * conv.flops(px, px);
        let fast = time(2, reps, || {
            conv.forward(&x).unwrap();
        });
        let refr = with_reference_ops(|| {
            time(1, reps.min(3), || {
                conv.forward(&x).unwrap();
            })
        });
        println!(
            "conv3 {cin}->{cout} at {px}x{px}, batch 32, forward: kernels {:.1} GFLOP/s, candle conv2d {:.1} GFLOP/s",
            flops / fast / 1e9,
            flops / refr / 1e9
        );
    }

    let cfg = Config::default();
    let sched = Schedule::cosine(cfg.native_steps, 0.008).unwrap();
    for batch in [32, 64] {
        for reference in [false, true] {
            if reference && batch > 32 {
                continue;
            }
            let tr = Trainee::new(&cfg, 0, DType::F32, &dev).unwrap();
            let per_image = 3.0 * tr.unet.conv_flops();
            let mut opt = candle_nn::AdamW::new_lr(tr.varmap.all_vars(), 1e-4).unwrap();
            let mut step = 0;
            let mut run = || {
                let l = loss(&tr.unet, &sched, &[], 0, step, batch, &dev).unwrap();
                opt.backward_step(&l).unwrap();
                step += 1;
            };
            let s = if reference { with_reference_ops(|| time(1, 2, &mut run)) } else { time(1, reps, &mut run) };
            println!(
                "train step {cfg:?}, batch {batch}, {}: {:.3} s/step, {:.1} images/s, {:.1} GFLOP/s",
                if reference { "candle ops" } else { "kernels" },
                s,
                batch as f64 / s,
                batch as f64 * per_image / s / 1e9
            );
        }
    }

    let tr = Trainee::new(&cfg, 0, DType::F32, &dev).unwrap();
    let net = inference(&tr, &cfg, &dev);
    for rows in [16, 32, 64] {
        let x = Tensor::randn(0f32, 1.0, (rows, 3, 32, 32), &dev).unwrap();
        let t = Tensor::full(500f32, rows, &dev).unwrap();
        let xy = Tensor::full(0.5f32, (rows, 2), &dev).unwrap();
        let mask = Tensor::ones(rows, DType::F32, &dev).unwrap();
        let run = || {
            net.forward(&x, &t, &xy, &mask).unwrap();
        };
        let fast = time(2, reps, run);
        let refr = if rows == 16 { Some(with_reference_ops(|| time(1, 3, run))) } else { None };
        println!(
            "sampling forward, {rows} rows: kernels {:.2} ms/row ({:.1} GFLOP/s){}",
            1e3 * fast / rows as f64,
            rows as f64 * tr.unet.conv_flops() / fast / 1e9,
            refr.map_or(String::new(), |r| format!(", candle ops {:.2} ms/row", 1e3 * r / rows as f64))
        );
    }
    println!("load average after: {}", load());
}

/// comp's training step and sampling forward, then PyTorch's on the same network, and the ratios.
/// The peer script in `--serve` mode: one timed call per request.
struct Peer {
    child: std::process::Child,
    input: std::process::ChildStdin,
    output: std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
}

impl Peer {
    fn start(python: &std::ffi::OsStr, threads: usize, rows: usize) -> Peer {
        use std::io::BufRead;
        use std::process::{Command, Stdio};
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/peer/clevr_unet.py");
        let mut child = Command::new(python)
            .arg(script)
            .args(["--serve", "--threads", &threads.to_string(), "--batch", "32", "--rows", &rows.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the peer script starts");
        let input = child.stdin.take().expect("piped");
        let mut output = std::io::BufReader::new(child.stdout.take().expect("piped")).lines();
        for line in output.by_ref() {
            let line = line.expect("the peer script writes lines");
            if line == "ready" {
                break;
            }
            println!("{line}");
        }
        Peer { child, input, output }
    }

    /// Seconds of one `train` step or `sample` forward, as the script timed it.
    fn time(&mut self, what: &str) -> f64 {
        use std::io::Write;
        writeln!(self.input, "{what}").expect("the peer script reads");
        let line = self.output.next().expect("the peer script answers").expect("a line");
        line.trim().parse().unwrap_or_else(|_| panic!("the peer script answered {line:?}"))
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        use std::io::Write;
        let _ = writeln!(self.input, "quit");
        let _ = self.child.wait();
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// comp's training step and sampling forward against PyTorch's, interleaved call by call: on a
/// shared machine whose speed drifts (this one's did, by up to half, within a minute), timing
/// one side and then the other compared different machines. A pause between calls lets each
/// side's idle threads stop spinning (rayon's, OpenMP's) before the other runs.
fn peer(pairs: usize) {
    let dev = Device::Cpu;
    let threads = rayon::current_num_threads();
    println!("load average before: {}; {threads} threads; {pairs} interleaved pairs of calls", load());
    let cfg = Config::default();
    let sched = Schedule::cosine(cfg.native_steps, 0.008).unwrap();
    let tr = Trainee::new(&cfg, 0, DType::F32, &dev).unwrap();
    let mut opt = candle_nn::AdamW::new_lr(tr.varmap.all_vars(), 1e-4).unwrap();
    // The batches (scenes rendered, noised) are made outside the timing, as the peer's are.
    let batches: Vec<_> = (0..8).map(|s| comp_lab::clevr::train::step_batch(&sched, &[], 0, s, 32, &dev).unwrap()).collect();
    let mut i = 0;
    let mut train = || {
        let s = Instant::now();
        let [xt, t, xy, mask, z] = &batches[i % batches.len()];
        let eps = tr.unet.forward(xt, t, xy, mask).unwrap();
        let l = (eps - z).unwrap().sqr().unwrap().mean_all().unwrap();
        opt.backward_step(&l).unwrap();
        i += 1;
        s.elapsed().as_secs_f64()
    };
    let rows = 32;
    let x = Tensor::randn(0f32, 1.0, (rows, 3, 32, 32), &dev).unwrap();
    let t = Tensor::full(500f32, rows, &dev).unwrap();
    let xy = Tensor::full(0.5f32, (rows, 2), &dev).unwrap();
    let mask = Tensor::ones(rows, DType::F32, &dev).unwrap();
    let net = inference(&tr, &cfg, &dev);
    let sample = || {
        let s = Instant::now();
        net.forward(&x, &t, &xy, &mask).unwrap();
        s.elapsed().as_secs_f64()
    };
    let Some(python) = std::env::var_os("COMP_PEER_PYTHON") else {
        let (tr_s, sa_s) = (median((0..pairs).map(|_| train()).collect()), median((0..pairs).map(|_| sample()).collect()));
        println!(
            "comp: train step, batch 32: {:.1} images/s; sampling forward, {rows} rows: {:.2} ms/row",
            32.0 / tr_s,
            1e3 * sa_s / rows as f64
        );
        println!("(set COMP_PEER_PYTHON to a Python with torch to measure the peer)");
        return;
    };
    let mut peer = Peer::start(&python, threads, rows);
    let pause = || std::thread::sleep(std::time::Duration::from_millis(100));
    let mut both = |ours: &mut dyn FnMut() -> f64, what: &str| -> (Vec<f64>, Vec<f64>) {
        // Two untimed calls each first (allocations, caches, the peer's lazy set-up).
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for k in 0..pairs + 2 {
            let x = ours();
            pause();
            let y = peer.time(what);
            pause();
            if k >= 2 {
                a.push(x);
                b.push(y);
            }
        }
        (a, b)
    };
    let (ct, pt) = both(&mut train, "train");
    let mut sample = sample;
    let (cs, ps) = both(&mut sample, "sample");
    let ratios = |ours: &[f64], theirs: &[f64]| median(theirs.iter().zip(ours).map(|(t, o)| t / o).collect());
    let (ct_m, pt_m, cs_m, ps_m) = (median(ct.clone()), median(pt.clone()), median(cs.clone()), median(ps.clone()));
    println!(
        "comp:    train step, batch 32: {:.1} images/s; sampling forward, {rows} rows: {:.2} ms/row",
        32.0 / ct_m,
        1e3 * cs_m / rows as f64
    );
    println!(
        "PyTorch: train step, batch 32: {:.1} images/s; sampling forward, {rows} rows: {:.2} ms/row",
        32.0 / pt_m,
        1e3 * ps_m / rows as f64
    );
    println!(
        "ratio comp / PyTorch (speed; ≥ 1: comp as fast or faster), median over {pairs} pairs: training {:.2}, sampling {:.2}; load average after: {}",
        ratios(&ct, &pt),
        ratios(&cs, &ps),
        load()
    );
}

/// Each of the UNet's kinds of 3×3 convolution at batch 32, forward and forward + backward, through
/// the direct kernels and through the unfolding GEMM, alternated.
fn convs(reps: usize) {
    use comp_models::clevr::conv::use_gemm_only;
    let dev = Device::Cpu;
    println!("3x3 convolutions, batch 32; load average before: {}", load());
    for (cin, cout, px, stride, up) in [
        (6, 24, 32, 1, false),
        (24, 24, 32, 1, false),
        (24, 24, 32, 2, false),
        (24, 48, 16, 1, false),
        (48, 48, 16, 1, false),
        (96, 48, 8, 1, false),
        (72, 24, 32, 1, false),
        (48, 48, 8, 1, true),
        (24, 3, 32, 1, false),
    ] {
        let vm = VarMap::new();
        let vb = VarBuilder::from_varmap(&vm, DType::F32, &dev);
        let conv = if up { Conv3::upsampling(cin, cout, vb).unwrap() } else { Conv3::new(cin, cout, stride, vb).unwrap() };
        card::init_weights(&vm, 0).unwrap();
        let x = candle_core::Var::from_tensor(&Tensor::randn(0f32, 1.0, (32, px, px, cin), &dev).unwrap()).unwrap();
        let flops = 32.0 * conv.flops(px, px);
        let mut line = format!("{cin:>3}->{cout:<3} {px}x{px} s{stride}{}", if up { " up" } else { "   " });
        for gemm in [false, true] {
            use_gemm_only(gemm);
            // CPU time of all threads (less disturbed by other processes than wall time).
            let reps = 4 * reps;
            conv.forward(x.as_tensor()).unwrap();
            let c0 = cpu_ns();
            for _ in 0..reps {
                conv.forward(x.as_tensor()).unwrap();
            }
            let c1 = cpu_ns();
            for _ in 0..reps {
                conv.forward(x.as_tensor()).unwrap().sum_all().unwrap().backward().unwrap();
            }
            let c2 = cpu_ns();
            let (fwd, both) = ((c1 - c0) as f64 / 1e9 / reps as f64, (c2 - c1) as f64 / 1e9 / reps as f64);
            line += &format!(
                " | {}: fwd {:.2} cpu-ms ({:.1} GFLOP/cpu-s), fwd+bwd {:.2} cpu-ms",
                if gemm { "gemm" } else { "direct" },
                1e3 * fwd,
                flops / fwd / 1e9,
                1e3 * both
            );
        }
        use_gemm_only(false);
        println!("{line}");
    }
}

/// Nanoseconds on the CPU of all this process's threads so far (`/proc/self/task/*/schedstat`).
fn cpu_ns() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return 0 };
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}
