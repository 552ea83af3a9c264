//! The shipped attribute models work: `models/clevr-attr/` draws the attribute asked for, the
//! colour-only and shape+size-only folders compose across models, and `models/clevr-attr-clf/`
//! classifies clean scenes. Sized for CI (8 images per plan, DDIM 25 steps); the bounds are
//! loose on purpose (the README's tables measure accuracy): they catch broken weights or a broken
//! sampling path, not a few points.

use std::path::PathBuf;

use candle_core::Device;
use comp_lab::clevr::attr_detect::Detector;
use comp_lab::clevr::data::SIZE;
use comp_models::clevr::classifier::ClevrClf;
use comp_models::clevr::{attr, Clevr};
use comp_runtime::composite::Composite;
use comp_runtime::{execute, Denoiser, ExecOptions};
use rand::SeedableRng;

fn dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models").join(name)
}

fn load(name: &str) -> Box<dyn Denoiser> {
    let m = Clevr::load_as(attr::NAME, &dir(name), &Device::Cpu).unwrap_or_else(|e| panic!("shipped weights {name}: {e}"));
    assert!(!m.card().unwrap().training.tiny);
    comp_models::folders::renamed(Box::new(m), name)
}

fn sample(text: &str, models: Vec<&dyn Denoiser>) -> Vec<Vec<f32>> {
    let infos: Vec<_> = models.iter().map(|m| m.info().clone()).collect();
    let plan = comp_lab::compile_one(text, &infos).expect("compiles");
    let out = if models.len() == 1 {
        execute(&plan, models[0], &Device::Cpu, &ExecOptions::default()).unwrap()
    } else {
        execute(&plan, &Composite::new(&plan, models).unwrap(), &Device::Cpu, &ExecOptions::default()).unwrap()
    };
    let px = 3 * SIZE * SIZE;
    out.samples.flatten_all().unwrap().to_vec1::<f32>().unwrap().chunks_exact(px).map(<[f32]>::to_vec).collect()
}

#[test]
fn the_shipped_attribute_models_draw_what_is_asked_within_and_across_models() {
    let det = Detector::default();
    let full = load("clevr-attr");
    let imgs =
        sample("model clevr-attr\nsampler ddim(steps: 25)\nscale 7.5\nseed 1\nsamples 8\nsample s = red AND large\n", vec![full.as_ref()]);
    let ok = imgs.iter().filter(|i| det.read(i).has("red") && det.read(i).has("large")).count();
    // A broken model or path gives ~0 (2 of 8 colours × sizes at random is 1 in 16).
    assert!(ok >= 3, "red AND large in {ok} of 8");
    let (c, s) = (load("clevr-attr-color"), load("clevr-attr-shape-size"));
    let text = "model c = clevr-attr-color\nmodel s = clevr-attr-shape-size\nbase c.null\nsampler ddim(steps: 25)\nscale 7.5\nseed 2\nsamples 8\nsample x = c.blue AND s.large\n";
    let imgs = sample(text, vec![c.as_ref(), s.as_ref()]);
    let ok = imgs.iter().filter(|i| det.read(i).has("blue") && det.read(i).has("large")).count();
    assert!(ok >= 2, "c.blue AND s.large in {ok} of 8");
}

#[test]
fn the_shipped_classifier_reads_clean_scenes() {
    let clf = ClevrClf::load(&dir("clevr-attr-clf"), &Device::Cpu).unwrap();
    let card = clf.card().unwrap();
    assert!(!card.training.tiny && card.training.accuracy[0].t == 0);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(99);
    let (mut right, n) = (0, 64);
    let schedule = comp_runtime::Schedule::cosine(1000, 0.008).unwrap();
    let (x, t, _, attrs) = comp_lab::clevr::clf_train::clf_batch(&schedule, &mut rng, n, Some(0), &Device::Cpu).unwrap();
    let lp = clf.net().log_probs(&x, &t).unwrap().to_vec2::<f32>().unwrap();
    for (row, a) in lp.iter().zip(&attrs) {
        let argmax = |r: std::ops::Range<usize>| r.clone().max_by(|&i, &j| row[i].total_cmp(&row[j])).unwrap() - r.start;
        right += (argmax(0..8) == a.colour && argmax(8..10) == a.shape && argmax(10..12) == a.size) as usize;
    }
    // The shipped classifier reads 73.6% of clean scenes right (shape is its weak head).
    assert!(right >= 40, "all three attributes of {right} of {n} clean scenes");
}
