//! clevr-attr: the one-object scenes, the detector, the labels, training and sampling.

use candle_core::{DType, Device, Tensor};
use comp_lab::clevr::attr::{self, Attributes, LARGE, SMALL};
use comp_lab::clevr::attr_detect::{validate, Detector};
use comp_lab::clevr::attr_eval::{attribute_set, sets_for};
use comp_lab::clevr::data::{Scene, BACKGROUND, SIZE};
use comp_lab::clevr::train::{self as clevr, step_batch, TrainOptions};
use comp_models::clevr::attr::{all_labels, labels_of_groups, GROUPS};
use comp_models::clevr::{card, Clevr, Config};
use comp_runtime::{execute, Denoiser, ExecOptions, Prepared, Schedule};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

#[test]
fn scenes_hold_one_object_off_the_border_with_the_drawn_attributes() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut seen = std::collections::HashSet::new();
    for _ in 0..400 {
        let (scene, a) = attr::random_scene(&mut rng);
        assert_eq!(scene.objects.len(), 1);
        let o = scene.objects[0];
        let (lo, hi) = if a.size == 0 { SMALL } else { LARGE };
        assert!((lo..hi).contains(&o.size), "{o:?}");
        assert_eq!(o.colour, a.colour);
        // Never touching the border: the whole frame is floor.
        let img = scene.render();
        let plane = SIZE * SIZE;
        for i in 0..plane {
            let (r, c) = (i / SIZE, i % SIZE);
            if r == 0 || c == 0 || r == SIZE - 1 || c == SIZE - 1 {
                for (ch, bg) in BACKGROUND.iter().enumerate() {
                    assert_eq!(img[ch * plane + i], 2.0 * bg - 1.0, "border pixel ({r}, {c}) of {o:?}");
                }
            }
        }
        seen.insert(a);
    }
    assert_eq!(seen.len(), 8 * 2 * 2, "every combination is drawn");
}

#[test]
fn the_detector_reads_rendered_scenes() {
    let det = Detector::default();
    let v = validate(&det, 1000, 11);
    eprintln!("{v:?}");
    // Measured: 100% on every attribute (1,000 scenes); the threshold leaves a margin.
    assert!(v.one_object == 1.0 && v.colour == 1.0, "{v:?}");
    assert!(v.shape >= 0.99 && v.size >= 0.99 && v.all >= 0.99, "{v:?}");
    // An empty floor holds no object, two objects are two: neither has any attribute.
    let empty = vec![0f32; 3 * SIZE * SIZE];
    let r = det.read(&empty);
    assert_eq!(r.objects, 0);
    assert!(!r.has("red"));
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let two = Scene::random_with(&mut rng, 2);
    let r = det.read(&two.render());
    assert_eq!(r.objects, 2);
    assert!(GROUPS.iter().flat_map(|(_, vs)| vs.iter()).all(|a| !r.has(a)));
}

#[test]
fn labels_are_one_of_the_objects_attributes_or_null() {
    let labels = all_labels();
    assert_eq!(labels.len(), 12);
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let b = attr::batch(&mut rng, 200, &labels, 0.1);
    let det = Detector::default();
    let px = 3 * SIZE * SIZE;
    let mut nulls = 0;
    for i in 0..200 {
        let row = &b.labels[i * 12..(i + 1) * 12];
        let ones: Vec<usize> = (0..12).filter(|&j| row[j] == 1.0).collect();
        assert_eq!(row.iter().filter(|&&v| v != 0.0).count(), ones.len());
        if b.mask[i] == 0.0 {
            assert!(ones.is_empty());
            nulls += 1;
            continue;
        }
        assert_eq!(ones.len(), 1, "one label per image");
        // The label is true of the image (read back by the detector).
        assert!(det.read(&b.images[i * px..(i + 1) * px]).has(&labels[ones[0]]), "row {i}: {}", labels[ones[0]]);
    }
    assert!((5..=40).contains(&nulls), "{nulls} nulls of 200 at p = 0.1");
    // A colour-only model sees only colour labels.
    let colours = labels_of_groups(&["color".into()]).unwrap();
    let b = attr::batch(&mut rng, 50, &colours, 0.0);
    assert_eq!(b.labels.len(), 50 * 8);
    assert!(b.labels.chunks(8).all(|r| r.iter().sum::<f32>() == 1.0));
    // Groups are given by name, in any order; an unknown one is refused by name.
    assert_eq!(labels_of_groups(&["size".into(), "colour".into()]).unwrap().len(), 10);
    assert!(labels_of_groups(&["texture".into()]).unwrap_err().contains("unknown attribute group `texture`"));
}

#[test]
fn attribute_sets_take_each_group_at_most_once() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    for k in 1..=3 {
        for _ in 0..50 {
            let s = attribute_set(&mut rng, k, &[0, 1, 2]);
            assert_eq!(s.len(), k);
            let groups: std::collections::HashSet<_> = s.iter().map(|a| comp_models::clevr::attr::group_of(a)).collect();
            assert_eq!(groups.len(), k, "{s:?}");
        }
    }
    assert_eq!(sets_for(0, 2, 5), sets_for(0, 2, 5), "seeded");
    let a = Attributes { colour: 0, shape: 1, size: 0 };
    assert_eq!(a.names(), ["red", "square", "small"]);
}

#[test]
fn a_tiny_attribute_model_trains_saves_loads_and_composes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("clevr-attr");
    let opts = TrainOptions {
        steps: 12,
        batch: 8,
        lr: 3e-3,
        log_every: 4,
        config: Config::tiny_attributes(all_labels()),
        ..TrainOptions::tiny(out.clone())
    };
    let s = clevr::train(&opts, &Device::Cpu, &mut |_| {}).unwrap();
    assert_eq!(s.card.model, "clevr-attr");
    assert_eq!(s.card.arch.labels, all_labels());
    // Deterministic batches, one-hot over the 12 labels.
    let sched = Schedule::cosine(1000, 0.008).unwrap();
    let b = step_batch(&sched, &all_labels(), 0, 3, 4, &Device::Cpu).unwrap();
    assert_eq!(b[2].dims(), &[4, 12]);
    let again = step_batch(&sched, &all_labels(), 0, 3, 4, &Device::Cpu).unwrap();
    assert_eq!(b[0].flatten_all().unwrap().to_vec1::<f32>().unwrap(), again[0].flatten_all().unwrap().to_vec1::<f32>().unwrap());

    let model = Clevr::load_as("clevr-attr", &out, &Device::Cpu).unwrap();
    assert_eq!(model.info().name, "clevr-attr");
    assert_eq!(model.info().concepts.len(), 12);
    // Loading it as clevr-pos (or clevr-pos as it) is refused by name.
    let err = Clevr::load(&out, &Device::Cpu).err().unwrap().to_string();
    assert!(err.contains("card for `clevr-attr`"), "{err}");

    let text = "model clevr-attr\nsampler ddim(steps: 4)\nsamples 2\nsample s = red AND square AND NOT small\n";
    let plan = comp_lab::compile_one(text, &[model.info().clone()]).expect("compiles");
    assert_eq!(plan.conditions.len(), 4, "null and three attributes");
    let out = execute(&plan, &model, &Device::Cpu, &ExecOptions::default()).unwrap();
    assert_eq!(out.samples.dims(), &[2, 3, SIZE, SIZE]);
    assert_eq!(out.model_calls, 4, "one batched call per step");
    assert!(out.samples.flatten_all().unwrap().to_vec1::<f32>().unwrap().iter().all(|v| v.is_finite()));

    // The condition rows: one-hot in label order, null all zero with mask 0.
    let conds: Vec<comp_plan::Condition> = ["red", "null", "large"]
        .iter()
        .enumerate()
        .map(|(id, c)| if *c == "null" { comp_plan::Condition::null(id) } else { comp_plan::Condition::concept(id, *c, vec![]) })
        .collect();
    let refs: Vec<&comp_plan::Condition> = conds.iter().collect();
    let (rows, mask) = comp_models::clevr::label_rows(&refs, &all_labels(), 3, &Device::Cpu).unwrap();
    let rows = rows.to_vec2::<f32>().unwrap();
    assert_eq!(rows[0][0], 1.0);
    assert!(rows[1].iter().all(|v| *v == 0.0));
    assert_eq!(rows[2][11], 1.0);
    assert_eq!(mask.to_vec1::<f32>().unwrap(), [1.0, 0.0, 1.0]);
    // A concept the model was not trained on is refused, not guessed.
    let pos = comp_plan::Condition::concept(0, "pos", vec![0.5, 0.5]);
    let x = Tensor::zeros((1, 3, SIZE, SIZE), DType::F32, &Device::Cpu).unwrap();
    let t = Tensor::zeros(1, DType::F32, &Device::Cpu).unwrap();
    let err = model.forward(&x, &t, &[&pos], false).unwrap_err().to_string();
    assert!(err.contains("`clevr-attr` knows red, green"), "{err}");
}

#[test]
fn a_colour_only_model_knows_only_colours() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("colours");
    let labels = labels_of_groups(&["color".into()]).unwrap();
    let opts = TrainOptions { steps: 2, batch: 4, config: Config::tiny_attributes(labels.clone()), ..TrainOptions::tiny(out.clone()) };
    clevr::train(&opts, &Device::Cpu, &mut |_| {}).unwrap();
    let model = Clevr::load_as("clevr-attr", &out, &Device::Cpu).unwrap();
    let names: Vec<&str> = model.info().concepts.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["red", "green", "blue", "yellow", "cyan", "magenta", "white", "black"]);
    // A card whose labels are not whole groups is refused.
    let mut c = card::Card::read_as("clevr-attr", &out).unwrap();
    c.arch.labels = vec!["red".into(), "square".into()];
    c.write(&out).unwrap();
    let err = Clevr::load_as("clevr-attr", &out, &Device::Cpu).err().unwrap().to_string();
    assert!(err.contains("not whole attribute groups"), "{err}");
}
