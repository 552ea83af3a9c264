//! The learned toy2d MLPs: the hand-written input gradient, its weight gradient, training,
//! save and load, the shipped weights' samples, and the loader's errors.

#[path = "../../models/tests/common/mod.rs"]
mod common;

use std::collections::HashMap;
use std::path::PathBuf;

use candle_core::{DType, Device, Tensor, Var};
use comp_lab::toy2d::train::{draw_batch, eps_loss, init_vars, net_of, train, train_and_save, TrainConfig};
use comp_models as models;
use comp_models::mlp::{self, eps_energy, Arch, Mlp, Net, Param};
use comp_models::toy2d::{self, Toy2dConcept};
use comp_plan::Sampler;
use comp_runtime::schedule::Schedule;
use comp_runtime::{execute, Denoiser, ExecOptions, Prepared};
use rand::SeedableRng;

fn tiny_arch() -> Arch {
    Arch { hidden: 8, blocks: 2, time_embed: 8, embed: 6, concepts: 6, data_dim: 2 }
}

fn f64_net(arch: &Arch, seed: u64) -> Net {
    Net::from_tensors(arch, &arch.init(seed, DType::F64, &Device::Cpu).unwrap()).unwrap()
}

/// The repository's `models/NAME` folder.
fn shipped(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join("models").join(name)
}

/// A fresh, empty directory under the system temp dir.
fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("comp-mlp-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Checks ε = ∇ₓE by central differences of E (f64) at a few points, groups and labels.
fn check_eps_is_energy_gradient(net: &Net) {
    let dev = Device::Cpu;
    let xs = [[0.3, -0.2], [0.0, 0.5], [-1.2, 0.7], [0.45, 0.1]];
    let t = [0f32, 17., 50., 99.];
    let c = [0u32, 3, 5, 6]; // 6: the null
    let x = Tensor::new(&xs, &dev).unwrap();
    let out = eps_energy(net, Param::Energy, &x, &t, &c).unwrap();
    let eps = out.eps.to_vec2::<f64>().unwrap();
    let h = 1e-5;
    let energy_at = |p: [f64; 2], row: usize| -> f64 {
        let xp = Tensor::new(&[p], &dev).unwrap();
        eps_energy(net, Param::Energy, &xp, &t[row..=row], &c[row..=row]).unwrap().energy.unwrap().to_vec1::<f64>().unwrap()[0]
    };
    for (row, p) in xs.iter().enumerate() {
        for d in 0..2 {
            let (mut hi, mut lo) = (*p, *p);
            hi[d] += h;
            lo[d] -= h;
            let fd = (energy_at(hi, row) - energy_at(lo, row)) / (2.0 * h);
            let got = eps[row][d];
            assert!((fd - got).abs() <= 1e-6 * (1.0 + fd.abs()), "row {row}, dim {d}: ε = {got}, finite difference of E = {fd}");
        }
    }
}

#[test]
fn eps_is_the_gradient_of_the_energy_for_random_weights() {
    check_eps_is_energy_gradient(&f64_net(&Arch::rrr_2d(6), 3));
    check_eps_is_energy_gradient(&f64_net(&tiny_arch(), 4));
}

#[test]
fn eps_is_the_gradient_of_the_energy_for_the_shipped_model() {
    let model = Mlp::load_dir(mlp::ENERGY_NAME, &shipped(mlp::ENERGY_NAME), &Device::Cpu)
        .expect("shipped toy2d-mlp (train it with `comp train toy2d`)");
    let net = model.net().rounded_through(DType::F64).unwrap();
    let tensors: HashMap<_, _> = net.tensors().into_iter().map(|(k, v)| (k, v.to_dtype(DType::F64).unwrap())).collect();
    check_eps_is_energy_gradient(&Net::from_tensors(&net.arch, &tensors).unwrap());
}

/// The ε loss's gradient w.r.t. every weight tensor (one entry each, the largest-gradient
/// one and the first) against central differences, for both parameterisations. For the
/// energy model this is the gradient of a gradient: one `backward` through the hand-written
/// input gradient.
#[test]
fn eps_loss_weight_gradient_matches_finite_differences() {
    let dev = Device::Cpu;
    let arch = tiny_arch();
    let schedule = Schedule::cosine(100, 0.008).unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let batch = draw_batch(&mut rng, &comp_models::toy2d::Toy2dConcept::ALL, &schedule, 24, 0.3, DType::F64, &dev).unwrap();
    for param in [Param::Energy, Param::Eps] {
        let vars = init_vars(&arch, 9, DType::F64, &dev).unwrap();
        let net = net_of(&arch, &vars).unwrap();
        let loss = eps_loss(&net, param, &batch).unwrap();
        let grads = loss.backward().unwrap();
        let data = vars.data().lock().unwrap();
        let mut names: Vec<&String> = data.keys().collect();
        names.sort();
        for name in names {
            let var: &Var = &data[name];
            let g = grads
                .get(var.as_tensor())
                .unwrap_or_else(|| panic!("{param:?}: no gradient for {name}"))
                .flatten_all()
                .unwrap()
                .to_vec1::<f64>()
                .unwrap();
            let base = var.as_tensor().flatten_all().unwrap().to_vec1::<f64>().unwrap();
            let argmax = (0..g.len()).max_by(|&a, &b| g[a].abs().total_cmp(&g[b].abs())).unwrap();
            for i in [0, argmax] {
                let h = 1e-6;
                let at = |delta: f64| {
                    let mut v = base.clone();
                    v[i] += delta;
                    var.set(&Tensor::from_vec(v, var.shape(), &dev).unwrap()).unwrap();
                    let l = eps_loss(&net, param, &batch).unwrap().to_scalar::<f64>().unwrap();
                    var.set(&Tensor::from_vec(base.clone(), var.shape(), &dev).unwrap()).unwrap();
                    l
                };
                let fd = (at(h) - at(-h)) / (2.0 * h);
                assert!((fd - g[i]).abs() <= 1e-6 + 1e-5 * fd.abs(), "{param:?} {name}[{i}]: backward {} vs finite difference {fd}", g[i]);
            }
        }
    }
}

fn short_config(param: Param, steps: usize, batch: usize) -> TrainConfig {
    TrainConfig { steps, batch, eval_batch: 256, ..TrainConfig::new(param) }
}

#[test]
fn a_short_training_run_lowers_the_loss_and_is_deterministic() {
    let dev = Device::Cpu;
    for param in [Param::Energy, Param::Eps] {
        let mut seen = 0;
        let run = train(&short_config(param, 200, 128), &dev, &mut |p| {
            seen = p.step;
        })
        .unwrap();
        assert_eq!(seen, 200, "progress after every step");
        let l = &run.losses;
        let first: f64 = l[..20].iter().sum::<f64>() / 20.0;
        let last: f64 = l[180..].iter().sum::<f64>() / 20.0;
        assert!(last < 0.75 * first, "{param:?}: loss {first:.3} over the first 20 steps, {last:.3} over the last 20");
        assert!(run.card.training.eval_loss.is_finite());
    }
    // Same seed, same run; another seed, another run.
    let cfg = short_config(Param::Energy, 5, 32);
    let a = train(&cfg, &dev, &mut |_| {}).unwrap();
    let b = train(&cfg, &dev, &mut |_| {}).unwrap();
    let c = train(&TrainConfig { seed: 1, ..cfg }, &dev, &mut |_| {}).unwrap();
    assert_eq!(a.losses, b.losses);
    assert_ne!(a.losses, c.losses);
}

/// Identical ε and E from the trained network and from its saved-and-loaded copy.
#[test]
fn save_then_load_gives_identical_outputs() {
    let dev = Device::Cpu;
    let dir = temp_dir("roundtrip");
    for param in [Param::Energy, Param::Eps] {
        let cfg = short_config(param, 3, 16);
        let trained = train(&cfg, &dev, &mut |_| {}).unwrap();
        let sub = dir.join(param.name());
        let card = mlp::save_dir(&sub, &trained.net, trained.card.clone()).unwrap();
        assert!(card.weights.bytes > 0);
        let name = mlp::name_of(param);
        let loaded = Mlp::load_dir(name, &sub, &dev).unwrap();
        // (floats in the JSON card need not round-trip to the last bit)
        assert_eq!(loaded.card().weights, card.weights);
        assert_eq!(loaded.card().arch, card.arch);
        assert_eq!(loaded.info().energies, param == Param::Energy);
        let x = Tensor::new(&[[0.1f32, 0.2], [-0.5, 0.4], [0.9, -0.9]], &dev).unwrap();
        let t = Tensor::new(&[3f32, 3., 3., 40., 40., 40.], &dev).unwrap();
        let x2 = x.repeat((2, 1)).unwrap();
        let ring = common::cond(0, "ring");
        let null = common::cond(1, "null");
        let out = loaded.forward(&x2, &t, &[&ring, &null], true).unwrap();
        let want = eps_energy(&trained.net, param, &x2, &[3., 40.], &[0, 6]).unwrap();
        assert_eq!(out.eps.to_vec2::<f32>().unwrap(), want.eps.to_vec2::<f32>().unwrap());
        match param {
            Param::Energy => assert_eq!(out.energy.unwrap().to_vec1::<f32>().unwrap(), want.energy.unwrap().to_vec1::<f32>().unwrap()),
            Param::Eps => assert!(out.energy.is_none()),
        }
        // Per-row timesteps (no shared t within a block) give the same numbers, up to the
        // rounding of differently shaped matmuls.
        let t_rows = Tensor::new(&[3f32, 3., 3., 40., 40., 41.], &dev).unwrap();
        let mixed = loaded.forward(&x2, &t_rows, &[&ring, &null], false).unwrap();
        let shared = out.eps.to_vec2::<f32>().unwrap();
        let rows = mixed.eps.to_vec2::<f32>().unwrap();
        for (r, s) in rows[..5].iter().zip(&shared[..5]) {
            for d in 0..2 {
                assert!((r[d] - s[d]).abs() < 1e-5, "{r:?} vs {s:?}");
            }
        }
        assert!((rows[5][0] - shared[5][0]).abs() > 1e-4, "t = 41 differs from t = 40");
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// MMD² (RBF, bandwidth 0.1, unbiased) of 500 DDPM samples of `ring` (100 steps, seed 0)
/// from `model` against 500 exact draws.
fn ring_mmd(model: &dyn Denoiser) -> f64 {
    let dev = Device::Cpu;
    let mut plan = common::linear_plan(&["ring"], &[1.0], Sampler::Ddpm { steps: 100 }, 500, 0);
    plan.model = model.info().name.clone();
    let out = execute(&plan, model, &dev, &ExecOptions::default()).unwrap();
    let samples = common::points(&out.samples);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    let exact = toy2d::sample_x0(Toy2dConcept::Ring, 500, &mut rng);
    common::mmd2(&samples, &exact, 0.1)
}

/// The shipped weights sample `ring` as well as the exact model does. Measured when the
/// weights were trained (6,000 steps each): toy2d-mlp −0.0002, toy2d-mlp-eps −0.0006, the
/// exact toy2d −0.0012 (the unbiased estimate scatters by about ±0.001 around 0 at 500
/// samples); a network trained for 20 steps scores 0.086. The bound leaves a wide
/// margin for the first and catches the second.
#[test]
fn shipped_models_sample_the_ring() {
    let dev = Device::Cpu;
    let load = |name: &str| models::load(name, &dev).expect("shipped weights");
    let energy = ring_mmd(load(mlp::ENERGY_NAME).as_ref());
    let eps = ring_mmd(load(mlp::EPS_NAME).as_ref());
    let exact = ring_mmd(&toy2d::Toy2d::new().unwrap());
    let barely = {
        let t = train(&short_config(Param::Energy, 20, 64), &dev, &mut |_| {}).unwrap();
        ring_mmd(&Mlp::new(t.card, t.net).unwrap())
    };
    eprintln!("ring MMD²: toy2d-mlp {energy:.5}, toy2d-mlp-eps {eps:.5}, exact toy2d {exact:.5}, 20 training steps {barely:.5}");
    assert!(energy < MMD_BOUND, "toy2d-mlp ring MMD² {energy}");
    assert!(eps < MMD_BOUND, "toy2d-mlp-eps ring MMD² {eps}");
    assert!(barely > MMD_BOUND, "an untrained network passes: {barely}");
}
const MMD_BOUND: f64 = 0.005;

#[test]
fn the_registry_lists_both_learned_models() {
    let infos = models::infos();
    let get = |n: &str| infos.iter().find(|i| i.name == n).unwrap_or_else(|| panic!("{n} listed"));
    let (e, s) = (get("toy2d-mlp"), get("toy2d-mlp-eps"));
    assert!(e.energies);
    assert!(!s.energies);
    let toy = toy2d::info();
    assert_eq!(e.concepts, toy.concepts);
    assert_eq!(s.concepts, toy.concepts);
}

fn load_err(name: &str, dir: &std::path::Path) -> String {
    match Mlp::load_dir(name, dir, &Device::Cpu) {
        Ok(_) => panic!("loading {} should fail", dir.display()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn missing_and_corrupt_weights_give_clear_errors() {
    let dev = Device::Cpu;
    let dir = temp_dir("errors");
    // No weights at all.
    let err = load_err("toy2d-mlp", &dir);
    // The model says where it looked; the CLI adds how to train it (tests/train.rs).
    assert!(err.contains("model `toy2d-mlp` has no weights at") && err.contains("model.safetensors"), "{err}");
    let err = load_err("toy2d-mlp-eps", &dir.join("nowhere"));
    assert!(err.contains("model `toy2d-mlp-eps` has no weights at"), "{err}");

    // A good model, then damaged in turn.
    let trained = train(&short_config(Param::Energy, 2, 8), &dev, &mut |_| {}).unwrap();
    let card = mlp::save_dir(&dir, &trained.net, trained.card).unwrap();
    let weights = dir.join(mlp::WEIGHTS_FILE);
    let card_path = dir.join(mlp::CARD_FILE);
    let good = std::fs::read(&weights).unwrap();
    Mlp::load_dir("toy2d-mlp", &dir, &dev).unwrap();

    // Truncated weights: the card's size and hash no longer match.
    std::fs::write(&weights, &good[..good.len() / 2]).unwrap();
    let err = load_err("toy2d-mlp", &dir);
    assert!(err.contains("is not the weights file its card"), "{err}");

    // Garbage that the card vouches for: the safetensors parser rejects it, no panic.
    for garbage in [b"not a safetensors file at all".to_vec(), vec![0xff; 64], vec![]] {
        std::fs::write(&weights, &garbage).unwrap();
        let mut c = card.clone();
        c.weights.bytes = garbage.len() as u64;
        c.weights.fnv1a64 = mlp::card::fnv1a64(&garbage);
        std::fs::write(&card_path, serde_json::to_string(&c).unwrap()).unwrap();
        let err = load_err("toy2d-mlp", &dir);
        assert!(err.contains("is not a valid safetensors file"), "{err}");
    }

    // A card that is not JSON, or describes the other parameterisation.
    std::fs::write(&weights, &good).unwrap();
    std::fs::write(&card_path, "{ not json").unwrap();
    let err = load_err("toy2d-mlp", &dir);
    assert!(err.contains("is not a valid model card"), "{err}");
    std::fs::write(&card_path, serde_json::to_string(&card).unwrap()).unwrap();
    let err = load_err("toy2d-mlp-eps", &dir);
    assert!(err.contains("describes a `energy` model"), "{err}");

    // Weights whose shapes do not fit the card's architecture.
    let mut c = card.clone();
    c.arch.net.hidden = 64;
    std::fs::write(&card_path, serde_json::to_string(&c).unwrap()).unwrap();
    let err = load_err("toy2d-mlp", &dir);
    assert!(err.contains("has shape"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

/// `train_and_save` writes both files, and the registry search finds the folder in the first
/// root that has one.
#[test]
fn train_and_save_writes_a_loadable_folder() {
    let dev = Device::Cpu;
    let root = temp_dir("save");
    let dir = root.join("toy2d-mlp-eps");
    let card = train_and_save(&short_config(Param::Eps, 2, 8), &dir, &dev, &mut |_| {}).unwrap();
    assert!(dir.join("model.safetensors").is_file() && dir.join("model.json").is_file());
    assert_eq!(card.training.steps, 2);
    assert_eq!(card.weights.dtype, "f16");
    let found = models::locate::find_in("toy2d-mlp-eps", &[root.join("missing"), root.clone()]);
    assert_eq!(found, Some(dir.clone()));
    assert_eq!(models::locate::find_in("toy2d-mlp", std::slice::from_ref(&root)), None);
    std::fs::remove_dir_all(&root).ok();
}
