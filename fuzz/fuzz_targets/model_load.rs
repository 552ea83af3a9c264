//! A model folder with any card and any weights bytes: loading gives a model or an error,
//! never a panic. The input is `CARD_JSON \0 WEIGHTS`; the harness makes the card's size and
//! checksum match the weights, so the fuzzer reaches the safetensors reader and the network's
//! shape checks, not only the checksum test.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    let (card, weights) = (&data[..split], data.get(split + 1..).unwrap_or(&[]));
    let Ok(mut card) = serde_json::from_slice::<serde_json::Value>(card) else { return };
    if let Some(w) = card.get_mut("weights").and_then(|w| w.as_object_mut()) {
        w.insert("bytes".into(), (weights.len() as u64).into());
        w.insert("fnv1a64".into(), comp_models::weights::fnv1a64(weights).into());
    }
    let dir = std::env::temp_dir().join(format!("comp-fuzz-model-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    std::fs::write(dir.join("model.json"), serde_json::to_vec(&card).unwrap()).unwrap();
    std::fs::write(dir.join("model.safetensors"), weights).unwrap();
    let dev = candle_core::Device::Cpu;
    for name in ["toy2d-mlp", "toy2d-mlp-eps"] {
        let _ = comp_models::mlp::Mlp::load_dir(name, &dir, &dev);
    }
    for kind in ["clevr-pos", "clevr-attr"] {
        let _ = comp_models::clevr::Clevr::load_as(kind, &dir, &dev);
    }
});
