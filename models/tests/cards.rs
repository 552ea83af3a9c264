//! The one card envelope (`comp_models::card`): every shipped model's card, of the shape before
//! the envelope, still loads (from a copy: the shipped files stay as they are); written again it
//! is the envelope, which loads to the same card; a card that does not describe its weights is
//! a bad card.

use std::path::{Path, PathBuf};

use candle_core::Device;
use comp_models::clevr::{card::Card, classifier::ClevrClf, classifier::ClfCard, Clevr};
use comp_models::mlp::{Mlp, ModelCard};
use comp_models::{card, folders, weights, LoadError};

/// A copy of the shipped model folder `name` (its card and weights) in a new temporary folder.
fn copy_of(name: &str) -> (tempfile::TempDir, PathBuf) {
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join(name);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    for file in [weights::CARD_FILE, weights::WEIGHTS_FILE] {
        std::fs::copy(from.join(file), dir.join(file)).unwrap();
    }
    (tmp, dir)
}

/// The card's JSON as written.
fn json(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join(weights::CARD_FILE)).unwrap()).unwrap()
}

/// The envelope's fields of `v`, for model `model` of kind `kind`.
fn assert_envelope(v: &serde_json::Value, model: &str, kind: &str) {
    assert_eq!((v["format"].as_str(), v["version"].as_u64()), (Some(card::FORMAT), Some(card::VERSION as u64)), "{v}");
    assert_eq!((v["model"].as_str(), v["kind"].as_str()), (Some(model), Some(kind)), "{v}");
    for field in ["weights", "schedule", "training", "arch", "comp_version"] {
        assert!(v.get(field).is_some(), "no `{field}` in {v}");
    }
    assert!(v["weights"]["fnv1a64"].as_str().is_some_and(|h| h.len() == 16), "{v}");
}

/// Flips a byte of the weights: the card no longer describes them.
fn damage_weights(dir: &Path) {
    let path = dir.join(weights::WEIGHTS_FILE);
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&path, bytes).unwrap();
}

fn assert_mismatch(e: LoadError, model: &str, dir: &Path) {
    match e {
        LoadError::BadCard { model: m, path, reason } => {
            assert_eq!((m.as_str(), path), (model, dir.join(weights::CARD_FILE)));
            assert!(reason.contains("is not the weights file its card"), "{reason}");
        }
        other => panic!("{model}: expected a bad card, got {other}"),
    }
}

#[test]
fn old_mlp_cards_load_and_are_rewritten_as_the_envelope() {
    let dev = Device::Cpu;
    for name in ["toy2d-mlp", "toy2d-mlp-eps", "toy2d-bar-boxes", "toy2d-ring-left_bar"] {
        let (_tmp, dir) = copy_of(name);
        assert_eq!(json(&dir)["format"], "comp-mlp", "{name}: the shipped card is of the old shape");
        let old = Mlp::load_dir(name, &dir, &dev).unwrap();
        let card: &ModelCard = old.card();
        assert_eq!((card.format.as_str(), card.kind.as_str()), (card::FORMAT, "mlp"));
        assert_eq!(card.arch.vocabulary.len(), card.arch.net.concepts);
        // The folder models (`toy2d-bar-boxes`) are variants of a registry model.
        assert!(card.model == "toy2d-mlp" || card.model == "toy2d-mlp-eps", "{}", card.model);
        // Written again: the envelope, which loads to the same card.
        let written = card.write(&dir).unwrap();
        assert_eq!(&written, card);
        let v = json(&dir);
        assert_envelope(&v, &card.model, "mlp");
        assert!(v["arch"]["hidden"].is_u64() && v["arch"]["vocabulary"].is_array(), "the network is flattened into `arch`: {v}");
        let new = Mlp::load_dir(name, &dir, &dev).unwrap();
        assert_eq!(new.card(), card);
        // A folder of the new card is still a folder model of its kind.
        if comp_models::entry(name).is_none() {
            std::env::set_var(comp_models::locate::ENV, dir.parent().unwrap());
            let f = folders::folder_model(name).expect("a folder model");
            assert_eq!(f.kind, card.model);
            std::env::remove_var(comp_models::locate::ENV);
        }
        damage_weights(&dir);
        assert_mismatch(Mlp::load_dir(name, &dir, &dev).err().unwrap(), name, &dir);
    }
}

#[test]
fn old_clevr_cards_load_and_are_rewritten_as_the_envelope() {
    let dev = Device::Cpu;
    for (name, kind) in [
        ("clevr-pos", "clevr-pos"),
        ("clevr-attr", "clevr-attr"),
        ("clevr-attr-color", "clevr-attr"),
        ("clevr-attr-shape-size", "clevr-attr"),
    ] {
        let (_tmp, dir) = copy_of(name);
        let shipped = json(&dir);
        assert_eq!(shipped["format"], 1, "{name}: the shipped card is of the old shape");
        let card = Card::read_as(kind, &dir).unwrap();
        assert_eq!((card.format.as_str(), card.kind.as_str(), card.model.as_str()), (card::FORMAT, "clevr-unet", kind));
        assert_eq!(card.training.step as u64, shipped["step"].as_u64().unwrap());
        assert_eq!((card.schedule.kind.as_str(), card.schedule.steps), ("cosine", card.arch.native_steps));
        // The old card had no hash: the file's is taken.
        let bytes = std::fs::read(dir.join(weights::WEIGHTS_FILE)).unwrap();
        assert_eq!((card.weights.bytes, card.weights.fnv1a64.clone()), (bytes.len() as u64, weights::fnv1a64(&bytes)));
        assert_eq!(card.weights.dtype, "f16");
        Clevr::load_as(kind, &dir, &dev).unwrap();
        // Written again: the envelope, which loads to the same card, and the model with it.
        let written = card.write(&dir).unwrap();
        assert_eq!(written, card);
        let v = json(&dir);
        assert_envelope(&v, kind, "clevr-unet");
        assert_eq!(v["arch"], shipped["config"]);
        assert_eq!(v["training"]["step"], shipped["step"]);
        assert!(v["training"].get("accuracy").is_none(), "a UNet has no accuracy: {v}");
        assert_eq!(Card::read_as(kind, &dir).unwrap(), card);
        let m = Clevr::load_as(kind, &dir, &dev).unwrap();
        assert_eq!(m.card(), Some(&card));
        // The other clevr UNet's name is refused.
        let other = if kind == "clevr-pos" { "clevr-attr" } else { "clevr-pos" };
        let e = Clevr::load_as(other, &dir, &dev).err().unwrap();
        assert!(matches!(&e, LoadError::BadCard { .. }) && e.to_string().contains(&format!("card for `{kind}`")), "{e}");
        damage_weights(&dir);
        assert_mismatch(Clevr::load_as(kind, &dir, &dev).err().unwrap(), kind, &dir);
    }
}

#[test]
fn the_old_classifier_card_loads_and_is_rewritten_as_the_envelope() {
    let dev = Device::Cpu;
    let (_tmp, dir) = copy_of("clevr-attr-clf");
    let shipped = json(&dir);
    assert_eq!(shipped["format"], 1);
    let card = ClfCard::read(&dir).unwrap();
    assert_eq!((card.kind.as_str(), card.model.as_str()), ("clevr-classifier", "clevr-attr-clf"));
    assert_eq!(card.training.accuracy.len(), shipped["accuracy"].as_array().unwrap().len());
    assert_eq!(card.training.warmup, 0, "the classifier's old card had no warm-up");
    let written = card.write(&dir).unwrap();
    assert_eq!(written, card);
    let v = json(&dir);
    assert_envelope(&v, "clevr-attr-clf", "clevr-classifier");
    assert_eq!((&v["arch"], &v["training"]["accuracy"]), (&shipped["config"], &shipped["accuracy"]));
    let m = ClevrClf::load(&dir, &dev).unwrap();
    assert_eq!(m.card(), Some(&card));
    // A UNet's card is not a classifier's, and a classifier's not a UNet's.
    assert!(matches!(Clevr::load_as("clevr-pos", &dir, &dev), Err(LoadError::BadCard { .. })));
    damage_weights(&dir);
    assert_mismatch(ClevrClf::load(&dir, &dev).err().unwrap(), "clevr-attr-clf", &dir);
}

#[test]
fn a_malformed_envelope_is_a_bad_card() {
    let dev = Device::Cpu;
    let (_tmp, dir) = copy_of("clevr-pos");
    let path = dir.join(weights::CARD_FILE);
    let card = Card::read(&dir).unwrap();
    card.write(&dir).unwrap();
    let good = json(&dir);
    let cases: [(&str, serde_json::Value); 4] = [
        ("no arch", {
            let mut v = good.clone();
            v.as_object_mut().unwrap().remove("arch");
            v
        }),
        ("a later version", {
            let mut v = good.clone();
            v["version"] = 2.into();
            v
        }),
        ("another kind", {
            let mut v = good.clone();
            v["kind"] = "mlp".into();
            v
        }),
        ("another size", {
            let mut v = good.clone();
            v["weights"]["bytes"] = 5.into();
            v
        }),
    ];
    for (what, v) in cases {
        std::fs::write(&path, serde_json::to_string(&v).unwrap()).unwrap();
        match Clevr::load(&dir, &dev) {
            Err(LoadError::BadCard { path: p, .. }) => assert_eq!(p, path, "{what}"),
            Err(other) => panic!("{what}: expected a bad card, got {other}"),
            Ok(_) => panic!("{what}: loaded"),
        }
    }
    // The MLP loader refuses a clevr envelope as a card of another kind.
    std::fs::write(&path, serde_json::to_string(&good).unwrap()).unwrap();
    let e = Mlp::load_dir("toy2d-mlp", &dir, &dev).err().unwrap();
    assert!(matches!(&e, LoadError::BadCard { .. }) && e.to_string().contains("is a `clevr-unet` card"), "{e}");
}
