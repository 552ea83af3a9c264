//! What loading a model fails with, by variant ([`LoadError`]): the CLI decides what to add to
//! a message by matching these, so they are the contract, not the wording.

use candle_core::Device;
use comp_models::clevr::{classifier::ClevrClf, Clevr};
use comp_models::mlp::Mlp;
use comp_models::{weights, LoadError, NoWeights};

/// The `NoWeights` inside `e`, or a panic naming what came instead.
fn no_weights(e: LoadError) -> NoWeights {
    match e {
        LoadError::NoWeights(nw) => nw,
        other => panic!("expected NoWeights, got {other}"),
    }
}

#[test]
fn an_empty_folder_has_no_weights_naming_the_folder_searched() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let dev = Device::Cpu;
    let nw = no_weights(Clevr::load(d, &dev).err().unwrap());
    assert_eq!((nw.model.as_str(), nw.searched.as_slice()), ("clevr-pos", &[d.to_path_buf()][..]));
    let nw = no_weights(Clevr::load_as("clevr-attr", d, &dev).err().unwrap());
    assert_eq!((nw.model.as_str(), nw.searched.as_slice()), ("clevr-attr", &[d.to_path_buf()][..]));
    let nw = no_weights(ClevrClf::load(d, &dev).err().unwrap());
    assert_eq!((nw.model.as_str(), nw.searched.as_slice()), ("clevr-attr-clf", &[d.to_path_buf()][..]));
    // The toy2d MLPs name the weights file they looked for.
    let nw = no_weights(Mlp::load_dir("toy2d-mlp", d, &dev).err().unwrap());
    assert_eq!((nw.model.as_str(), nw.searched.as_slice()), ("toy2d-mlp", &[d.join(weights::WEIGHTS_FILE)][..]));
    // Its message is unchanged by the type: the folder, and nothing about training.
    assert_eq!(nw.to_string(), format!("model `toy2d-mlp` has no weights at {}", d.join(weights::WEIGHTS_FILE).display()));
}

#[test]
fn a_malformed_card_is_a_bad_card_naming_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let dev = Device::Cpu;
    let card = d.join(weights::CARD_FILE);
    std::fs::write(d.join(weights::WEIGHTS_FILE), b"weights").unwrap();
    std::fs::write(&card, b"{ not json").unwrap();
    for (model, e) in [
        ("clevr-pos", Clevr::load(d, &dev).err().unwrap()),
        ("clevr-attr-clf", ClevrClf::load(d, &dev).err().unwrap()),
        ("toy2d-mlp", Mlp::load_dir("toy2d-mlp", d, &dev).err().unwrap()),
    ] {
        match &e {
            LoadError::BadCard { model: m, path, reason } => {
                assert_eq!((m.as_str(), path), (model, &card), "{e}");
                assert!(reason.starts_with(&format!("{} is not a valid model card: ", card.display())), "{reason}");
            }
            other => panic!("{model}: expected BadCard, got {other}"),
        }
        assert!(e.to_string().starts_with(&format!("model `{model}`: {} is not a valid model card", card.display())), "{e}");
    }
    // The MLPs' cards say to retrain; a card of the other kind is a bad card too.
    let e = Mlp::load_dir("toy2d-mlp", d, &dev).err().unwrap();
    assert!(e.to_string().ends_with("(retrain it)"), "{e}");
    std::fs::write(&card, br#"{"format": 1, "model": "clevr-attr"}"#).unwrap();
    assert!(matches!(Clevr::load(d, &dev), Err(LoadError::BadCard { .. })));
}

/// Through the registry: a folder model without weights, and a Stable Diffusion card that is
/// not JSON (the one test here that sets `COMP_MODELS`, which roots are searched first).
#[test]
fn the_registry_loader_keeps_the_variants() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::env::set_var(comp_models::locate::ENV, root);
    // A folder with a card of a known kind is model `mine`; without weights, NoWeights names it.
    let mine = root.join("mine");
    std::fs::create_dir_all(&mine).unwrap();
    std::fs::write(mine.join(weights::CARD_FILE), br#"{"model": "clevr-pos"}"#).unwrap();
    let nw = no_weights(comp_models::load("mine", &Device::Cpu).err().unwrap());
    assert_eq!((nw.model.as_str(), nw.searched.as_slice()), ("mine", &[mine.clone()][..]));
    // With a weights file, the card (of the clevr-pos kind, but not a whole card) is bad.
    std::fs::write(mine.join(weights::WEIGHTS_FILE), b"weights").unwrap();
    let e = comp_models::load("mine", &Device::Cpu).err().unwrap();
    assert!(matches!(&e, LoadError::BadCard { path, .. } if *path == mine.join(weights::CARD_FILE)), "{e}");
    #[cfg(feature = "sd")]
    {
        let card = root.join("sd15").join(comp_models::sd::folder::CARD);
        std::fs::create_dir_all(card.parent().unwrap()).unwrap();
        std::fs::write(&card, "{\"diffusers\": ").unwrap();
        let e = comp_models::load("sd15", &Device::Cpu).err().unwrap();
        assert!(matches!(&e, LoadError::BadCard { model, path, .. } if model == "sd15" && *path == card), "{e}");
        assert!(e.to_string().starts_with(&format!("model `sd15`: model card {}: ", card.display())), "{e}");
        // `comp models` reports the same card as unusable, in the same words after the name.
        match comp_models::weights("sd15") {
            Some(comp_models::locate::Weights::Unusable(why)) => assert!(e.to_string().ends_with(&why), "{why}"),
            other => panic!("expected unusable, got {other:?}"),
        }
    }
    // An unknown name is neither.
    assert!(matches!(comp_models::load("no-such-model", &Device::Cpu), Err(LoadError::Candle(_))));
    std::env::remove_var(comp_models::locate::ENV);
}
