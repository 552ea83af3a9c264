//! CLIP's tokenizer, from a diffusers folder's `tokenizer/`: a `tokenizer.json`, or the
//! `vocab.json` + `merges.txt` pair that the slow tokenizer reads (the files most SD 1.x and
//! 2.x checkpoints ship). Both go through the `tokenizers` crate: for the pair, this file
//! writes the same pipeline HF's CLIP `tokenizer.json` describes (NFC, whitespace runs to one
//! space, lowercase; CLIP's split pattern; byte-level BPE with `</w>` ending each word).
//!
//! A prompt becomes `max_len` ids: `<|startoftext|>`, at most `max_len − 2` tokens,
//! `<|endoftext|>`, then padding (`<|endoftext|>` for SD 1.x, `!` for SD 2.x, as
//! `special_tokens_map.json` says). Tokens past that are cut, as every SD pipeline does; the
//! checker warns with the span of the part cut ([`Tokens::cut_at`]).

use candle_core::{bail, Result};
use std::path::Path;

const BOS: &str = "<|startoftext|>";
const EOS: &str = "<|endoftext|>";
/// CLIP's pre-tokenizer: special tokens, English contractions, letter runs, single digits,
/// and runs of other non-space characters.
const SPLIT: &str = r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+";

/// A loaded CLIP tokenizer.
pub struct ClipTokenizer {
    inner: tokenizers::Tokenizer,
    bos: u32,
    eos: u32,
    pad: u32,
    /// Ids per prompt, start and end tokens included (77 for every SD).
    pub max_len: usize,
}

/// One prompt, tokenized.
#[derive(Clone, Debug, PartialEq)]
pub struct Tokens {
    /// `max_len` ids, padded.
    pub ids: Vec<u32>,
    /// Where the encoder reads the end of the prompt (the `<|endoftext|>` position).
    pub eos_index: usize,
    /// The byte offset in the prompt where the first token that did not fit starts; `None`
    /// when the whole prompt fits.
    pub cut_at: Option<usize>,
    /// How many tokens the prompt has (without start and end tokens).
    pub count: usize,
}

fn err(what: String) -> candle_core::Error {
    candle_core::Error::Msg(what)
}

impl ClipTokenizer {
    /// Reads `dir` (a diffusers `tokenizer/` folder); `max_len` is the text encoder's
    /// `max_position_embeddings`.
    pub fn load(dir: &Path, max_len: usize) -> Result<Self> {
        let json = dir.join("tokenizer.json");
        let (vocab, merges) = (dir.join("vocab.json"), dir.join("merges.txt"));
        let inner = if vocab.is_file() && merges.is_file() {
            let spec = pipeline(&vocab, &merges)?;
            tokenizers::Tokenizer::from_bytes(spec.to_string().as_bytes())
                .map_err(|e| err(format!("{} and {}: {e}", vocab.display(), merges.display())))?
        } else if json.is_file() {
            tokenizers::Tokenizer::from_file(&json).map_err(|e| err(format!("{}: {e}", json.display())))?
        } else {
            bail!(
                "{} has no tokenizer: expected `vocab.json` and `merges.txt` (or a `tokenizer.json`)",
                dir.display()
            )
        };
        let id = |t: &str| {
            inner
                .token_to_id(t)
                .ok_or_else(|| err(format!("the tokenizer in {} has no `{t}` token", dir.display())))
        };
        let (bos, eos) = (id(BOS)?, id(EOS)?);
        let pad = match pad_token(dir)? {
            Some(p) => id(&p)?,
            None => eos,
        };
        if max_len < 2 {
            bail!("a text encoder of {max_len} positions cannot hold a prompt")
        }
        Ok(Self { inner, bos, eos, pad, max_len })
    }

    /// The largest token id the tokenizer can produce (its vocabulary and added tokens), to
    /// check against the text encoder's `vocab_size`.
    pub fn max_id(&self) -> Option<u32> {
        self.inner.get_vocab(true).values().copied().chain([self.bos, self.eos, self.pad]).max()
    }

    /// Tokenizes one prompt (see the module doc).
    pub fn encode(&self, prompt: &str) -> Result<Tokens> {
        let enc = self.inner.encode(prompt, false).map_err(|e| err(format!("tokenizing {prompt:?}: {e}")))?;
        let room = self.max_len - 2;
        let ids = enc.get_ids();
        let kept = ids.len().min(room);
        let mut out = Vec::with_capacity(self.max_len);
        out.push(self.bos);
        out.extend_from_slice(&ids[..kept]);
        out.push(self.eos);
        let eos_index = out.len() - 1;
        out.resize(self.max_len, self.pad);
        let cut_at = (ids.len() > room).then(|| enc.get_offsets()[room].0);
        Ok(Tokens { ids: out, eos_index, cut_at, count: ids.len() })
    }
}

/// The pad token `special_tokens_map.json` (or `tokenizer_config.json`) names, if any: a string
/// or `{"content": ...}`.
fn pad_token(dir: &Path) -> Result<Option<String>> {
    for file in ["special_tokens_map.json", "tokenizer_config.json"] {
        let path = dir.join(file);
        let Ok(text) = std::fs::read_to_string(&path) else { continue };
        let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| err(format!("{}: {e}", path.display())))?;
        match &v["pad_token"] {
            serde_json::Value::String(s) => return Ok(Some(s.clone())),
            serde_json::Value::Object(o) => {
                if let Some(serde_json::Value::String(s)) = o.get("content") {
                    return Ok(Some(s.clone()));
                }
            }
            _ => {}
        }
    }
    Ok(None)
}

/// The `tokenizer.json` of CLIP's fast tokenizer, built from the slow tokenizer's two files
/// (what HF's `CLIPTokenizerFast` would save).
pub fn pipeline(vocab: &Path, merges: &Path) -> Result<serde_json::Value> {
    let read = |p: &Path| std::fs::read_to_string(p).map_err(|e| err(format!("reading {}: {e}", p.display())));
    let vocab_json: serde_json::Value =
        serde_json::from_str(&read(vocab)?).map_err(|e| err(format!("{}: {e}", vocab.display())))?;
    let Some(map) = vocab_json.as_object() else {
        bail!("{}: expected an object of token → id", vocab.display())
    };
    // `merges.txt` starts with a `#version` line; each other line is one merge `a b`.
    let merges_text = read(merges)?;
    let merges: Vec<&str> = merges_text.lines().filter(|l| !l.starts_with("#version") && !l.trim().is_empty()).collect();
    let special = |content: &str| {
        map.get(content).and_then(|v| v.as_u64()).map(|id| {
            serde_json::json!({"id": id, "content": content, "single_word": false, "lstrip": false,
                "rstrip": false, "normalized": true, "special": true})
        })
    };
    let added: Vec<serde_json::Value> = [BOS, EOS].iter().filter_map(|t| special(t)).collect();
    Ok(serde_json::json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": added,
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "NFC"},
            {"type": "Replace", "pattern": {"Regex": r"\s+"}, "content": " "},
            {"type": "Lowercase"}
        ]},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": SPLIT}, "behavior": "Removed", "invert": true},
            {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}
        ]},
        "post_processor": null,
        "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
        "model": {
            "type": "BPE", "dropout": null, "unk_token": EOS, "continuing_subword_prefix": "",
            "end_of_word_suffix": "</w>", "fuse_unk": false, "byte_fallback": false,
            "vocab": vocab_json, "merges": merges
        }
    }))
}
