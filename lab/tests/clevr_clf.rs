//! clevr-attr-clf: the noise-conditional classifier trains, saves, loads, and as a model of
//! scripts returns ε = −σ_t ∇ₓ log p(y | x_t) (checked against finite differences of its
//! energy −σ_t log p), 0 for `null`.

use candle_core::{Device, Tensor};
use comp_lab::clevr::clf_train::{train_clf, ClfTrainOptions, EVAL_T};
use comp_models::clevr::classifier::ClevrClf;
use comp_plan::Condition;
use comp_runtime::{Denoiser, Prepared};

fn cond(id: usize, c: &str) -> Condition {
    if c == "null" {
        Condition::null(id)
    } else {
        Condition::concept(id, c, vec![])
    }
}

#[test]
fn the_classifier_trains_and_its_guidance_is_the_gradient_of_its_energy() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("clf");
    let mut logs = 0;
    let card = train_clf(&ClfTrainOptions::tiny(out.clone()), &Device::Cpu, &mut |_, _, _, _| logs += 1).unwrap();
    assert_eq!(logs, 4);
    assert_eq!(card.training.accuracy.len(), EVAL_T.len());
    assert!(card.training.accuracy.iter().all(|a| (0.0..=1.0).contains(&a.all) && a.images == 16));
    let clf = ClevrClf::load(&out, &Device::Cpu).unwrap();
    assert!(clf.info().classifier && clf.info().energies);
    assert_eq!(clf.info().concepts.len(), 12);

    // Two conditions × 1 row: `square` and `null`, at t = 300.
    let x = Tensor::randn(0f32, 1.0, (1, 3, 32, 32), &Device::Cpu).unwrap();
    let xx = Tensor::cat(&[&x, &x], 0).unwrap();
    let t = Tensor::new(&[300f32, 300.0], &Device::Cpu).unwrap();
    let (sq, null) = (cond(0, "square"), cond(1, "null"));
    let out = clf.forward(&xx, &t, &[&sq, &null], true).unwrap();
    let eps = out.eps.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let e = out.energy.unwrap().to_vec1::<f32>().unwrap();
    let px = 3 * 32 * 32;
    assert!(eps[px..].iter().all(|v| *v == 0.0) && e[1] == 0.0, "null is 0");
    assert!(e[0] > 0.0, "−σ log p > 0");
    // ε_i = ∂E/∂x_i, by central differences on a few coordinates.
    let energy = |v: &[f32]| -> f64 {
        let x = Tensor::from_vec(v.to_vec(), (1, 3, 32, 32), &Device::Cpu).unwrap();
        let t1 = Tensor::new(&[300f32], &Device::Cpu).unwrap();
        clf.forward(&x, &t1, &[&sq], true).unwrap().energy.unwrap().to_vec1::<f32>().unwrap()[0] as f64
    };
    let base = x.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let scale = eps[..px].iter().map(|v| v.abs()).fold(0.0f32, f32::max) as f64;
    assert!(scale > 0.0);
    for i in [0, 517, 1023, 2048, 3071] {
        let h = 1e-2f32;
        let (mut up, mut down) = (base.clone(), base.clone());
        up[i] += h;
        down[i] -= h;
        let fd = (energy(&up) - energy(&down)) / (2.0 * h as f64);
        assert!((fd - eps[i] as f64).abs() < 0.02 * scale + 1e-4, "x[{i}]: finite differences {fd}, ε {}", eps[i]);
    }
    // A label it does not know is refused.
    let bad = cond(0, "pos");
    let err = clf.forward(&x, &Tensor::new(&[3f32], &Device::Cpu).unwrap(), &[&bad], false).err().unwrap().to_string();
    assert!(err.contains("`clevr-attr-clf` knows red"), "{err}");
}
