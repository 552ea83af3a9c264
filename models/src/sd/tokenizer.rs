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
        let pad_name = pad_token(dir)?;
        let inner = if vocab.is_file() && merges.is_file() {
            let spec = pipeline(&vocab, &merges, pad_name.as_deref())?;
            tokenizers::Tokenizer::from_bytes(spec.to_string().as_bytes())
                .map_err(|e| err(format!("{} and {}: {e}", vocab.display(), merges.display())))?
        } else if json.is_file() {
            tokenizers::Tokenizer::from_file(&json).map_err(|e| err(format!("{}: {e}", json.display())))?
        } else {
            bail!("{} has no tokenizer: expected `vocab.json` and `merges.txt` (or a `tokenizer.json`)", dir.display())
        };
        let id = |t: &str| inner.token_to_id(t).ok_or_else(|| err(format!("the tokenizer in {} has no `{t}` token", dir.display())));
        let (bos, eos) = (id(BOS)?, id(EOS)?);
        let pad = match pad_name {
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
/// (what HF's `CLIPTokenizerFast` would save), with `pad` (the folder's pad token, `!` in SD
/// 2.x) special as transformers makes it.
pub fn pipeline(vocab: &Path, merges: &Path, pad: Option<&str>) -> Result<serde_json::Value> {
    let read = |p: &Path| std::fs::read_to_string(p).map_err(|e| err(format!("reading {}: {e}", p.display())));
    let vocab_json: serde_json::Value = serde_json::from_str(&read(vocab)?).map_err(|e| err(format!("{}: {e}", vocab.display())))?;
    let Some(map) = vocab_json.as_object() else { bail!("{}: expected an object of token → id", vocab.display()) };
    let merges_text = read(merges)?;
    Ok(pipeline_of(map, &merges_text, pad))
}

/// CLIP's BPE merges: the first 48,894 lines (and the `#version` line) of OpenAI CLIP's
/// `bpe_simple_vocab_16e6.txt` (MIT; models/data/README.md), gzip-compressed. With them the
/// checker counts a prompt's tokens for W0007 when no checkpoint is on disk: every SD 1.x and
/// 2.x checkpoint's tokenizer is this one.
const BUILTIN_MERGES: &[u8] = include_bytes!("../../data/clip-bpe-merges.txt.gz");

/// CLIP's map from bytes to the printable characters its BPE works on (`bytes_to_unicode`):
/// printable Latin-1 bytes stand for themselves, the others for 256, 257, ... in byte order.
/// In the order CLIP lists them (the first 256 ids of its vocabulary).
fn bytes_to_unicode() -> Vec<char> {
    let printable = |b: u32| (0x21..=0x7e).contains(&b) || (0xa1..=0xac).contains(&b) || (0xae..=0xff).contains(&b);
    let mut out: Vec<char> = (0..256u32).filter(|&b| printable(b)).filter_map(char::from_u32).collect();
    out.extend((0..256u32).filter(|&b| !printable(b)).enumerate().filter_map(|(n, _)| char::from_u32(256 + n as u32)));
    out
}

impl ClipTokenizer {
    /// CLIP's tokenizer from the tables shipped in this crate (no files on disk): the
    /// vocabulary is built as CLIP builds it (the 256 byte symbols, the same with `</w>`, one
    /// token per merge, then the start and end tokens: 49,408 ids).
    pub fn builtin(max_len: usize) -> Result<Self> {
        use std::io::Read;
        let mut merges_text = String::new();
        flate2::read::GzDecoder::new(BUILTIN_MERGES)
            .read_to_string(&mut merges_text)
            .map_err(|e| err(format!("the built-in CLIP merges: {e}")))?;
        let symbols = bytes_to_unicode();
        let mut vocab: Vec<String> = symbols.iter().map(|c| c.to_string()).collect();
        vocab.extend(symbols.iter().map(|c| format!("{c}</w>")));
        vocab.extend(merge_lines(&merges_text).map(|m| m.replacen(' ', "", 1)));
        vocab.extend([BOS.to_string(), EOS.to_string()]);
        let map: serde_json::Map<String, serde_json::Value> =
            vocab.into_iter().enumerate().map(|(i, t)| (t, serde_json::Value::from(i as u64))).collect();
        let spec = pipeline_of(&map, &merges_text, None);
        let inner =
            tokenizers::Tokenizer::from_bytes(spec.to_string().as_bytes()).map_err(|e| err(format!("the built-in CLIP tokenizer: {e}")))?;
        let id = |t: &str| inner.token_to_id(t).ok_or_else(|| err(format!("the built-in CLIP tokenizer has no `{t}`")));
        let (bos, eos) = (id(BOS)?, id(EOS)?);
        if max_len < 2 {
            bail!("a text encoder of {max_len} positions cannot hold a prompt")
        }
        Ok(Self { inner, bos, eos, pad: eos, max_len })
    }
}

/// The merges of a `merges.txt`: each line `a b` but the `#version` line and blank ones.
fn merge_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines().filter(|l| !l.starts_with("#version") && !l.trim().is_empty())
}

/// The `tokenizer.json` of CLIP's fast tokenizer for a vocabulary and a `merges.txt`.
///
/// The special tokens are matched in the prompt as typed, before lowercasing (`normalized:
/// false`), as transformers matches them: `<|endoftext|>` typed in a prompt is the end token,
/// `<|ENDOFTEXT|>` is text. A pad token other than these (SD 2.x's `!`) is special too, so it
/// is never merged: `"!!"` is two `!` tokens, as in transformers. The byte-level step also
/// splits with GPT-2's pattern (`use_regex`), as transformers 5 converts CLIP's tokenizer: it
/// matters only for text CLIP's own pattern keeps whole, such as `<|ENDOFTEXT|>` typed in a prompt
/// (`<|`, `endoftext`, `|>`).
fn pipeline_of(map: &serde_json::Map<String, serde_json::Value>, merges_text: &str, pad: Option<&str>) -> serde_json::Value {
    let merges: Vec<&str> = merge_lines(merges_text).collect();
    let vocab_json = map;
    let special = |content: &str| {
        map.get(content).and_then(|v| v.as_u64()).map(|id| {
            serde_json::json!({"id": id, "content": content, "single_word": false, "lstrip": false,
                "rstrip": false, "normalized": false, "special": true})
        })
    };
    let pad = pad.filter(|p| ![BOS, EOS].contains(p));
    let added: Vec<serde_json::Value> = [BOS, EOS].into_iter().chain(pad).filter_map(special).collect();
    serde_json::json!({
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
            {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}
        ]},
        "post_processor": null,
        "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
        "model": {
            "type": "BPE", "dropout": null, "unk_token": EOS, "continuing_subword_prefix": "",
            "end_of_word_suffix": "</w>", "fuse_unk": false, "byte_fallback": false,
            "vocab": vocab_json, "merges": merges
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_tokenizer_is_clips() {
        let t = ClipTokenizer::builtin(77).unwrap();
        // CLIP's ids for "a photo of a cat" (HF's CLIPTokenizer docs), start and end included.
        let tokens = t.encode("A photo of a   cat").unwrap();
        assert_eq!(&tokens.ids[..7], &[49406, 320, 1125, 539, 320, 2368, 49407]);
        assert_eq!((tokens.count, tokens.eos_index, tokens.cut_at), (5, 6, None));
        let long = "red ".repeat(80);
        let cut = t.encode(&long).unwrap();
        assert_eq!(cut.count, 80);
        assert_eq!(cut.cut_at, Some(4 * 75), "the 76th `red` is the first cut");
    }
}
