//! A1111's generation parameters ("infotext"): the text A1111 stores in a PNG and shows under
//! an image, the way its prompts are shared.
//!
//! ```text
//! a wooden cabin AND heavy snow :1.2
//! Negative prompt: blurry, low quality
//! Steps: 25, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7.5, Seed: 3, Size: 512x768, Model: v1-5
//! ```
//!
//! Read as A1111's `parse_generation_parameters` (`modules/infotext_utils.py`) reads it: the
//! last line is the parameters when it holds at least 3 `Key: value` pairs
//! (`\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)`); the lines before it, each
//! stripped, are the prompt up to a line starting `Negative prompt:`, and the negative prompt
//! from there.

/// An infotext's prompt, negative prompt and parameters (in order, values unquoted).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Infotext {
    pub prompt: String,
    pub negative: Option<String>,
    pub params: Vec<(String, String)>,
}

impl Infotext {
    /// The value of parameter `key`; the last one when it is written twice (A1111 assigns the
    /// pairs in order, so the last wins).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.params.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

pub fn parse(x: &str) -> Infotext {
    let mut lines: Vec<&str> = x.trim().split('\n').collect();
    let last = lines.pop().unwrap_or("");
    let params = pairs(last);
    let params = if params.len() >= 3 {
        params
    } else {
        lines.push(last);
        Vec::new()
    };
    let (mut prompt, mut negative): (Vec<&str>, Option<Vec<&str>>) = (Vec::new(), None);
    for line in lines {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("Negative prompt:") {
            negative.get_or_insert_with(Vec::new).push(rest.trim());
        } else if let Some(neg) = negative.as_mut() {
            neg.push(line);
        } else {
            prompt.push(line);
        }
    }
    Infotext { prompt: prompt.join("\n"), negative: negative.map(|n| n.join("\n")), params }
}

/// The `Key: value` pairs of a parameters line, as A1111's `re_param.findall` finds them.
fn pairs(line: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = line;
    while !rest.trim().is_empty() {
        let Some((pair, tail)) = one_pair(rest) else {
            // findall skips what does not match: move on one character.
            let mut cs = rest.chars();
            cs.next();
            rest = cs.as_str();
            continue;
        };
        out.push(pair);
        rest = tail;
    }
    out
}

/// One `Key: value` at the start of `s` (after white space), and what follows its comma.
fn one_pair(s: &str) -> Option<((String, String), &str)> {
    let s = super::python::trim_start(s);
    let word = super::python::is_word;
    let mut key_end = 0;
    for (i, c) in s.char_indices() {
        let ok = if i == 0 { word(c) } else { word(c) || matches!(c, ' ' | '-' | '/') };
        if !ok {
            break;
        }
        key_end = i + c.len_utf8();
    }
    if s[..key_end].chars().count() < 2 || !s[key_end..].starts_with(':') {
        return None;
    }
    let key = s[..key_end].to_string();
    let after = super::python::trim_start(&s[key_end + 1..]);
    let (value, tail) = if after.starts_with('"') {
        let mut escaped = false;
        let mut end = None;
        for (i, c) in after.char_indices().skip(1) {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => {
                    end = Some(i);
                    break;
                }
                _ => {}
            }
        }
        let end = end?;
        // A1111 reads a quoted value as JSON.
        let quoted = &after[..=end];
        let value = serde_json::from_str::<String>(quoted).unwrap_or_else(|_| quoted.to_string());
        (value, &after[end + 1..])
    } else {
        let end = after.find(',').unwrap_or(after.len());
        (after[..end].to_string(), &after[end..])
    };
    let tail = tail.strip_prefix(',').unwrap_or(tail);
    Some(((key, value.trim_end().to_string()), tail))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a1111s_own_example() {
        // The docstring of A1111's parse_generation_parameters.
        let text = "girl with an artist's beret, ((eyeshadow)), (coquettish), detailed\n\
                    Negative prompt: ugly, (((deformed))), [blurry]\n\
                    Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 965400086, Size: 512x512, Model hash: 45dee52b\n";
        let it = parse(text);
        assert_eq!(it.prompt, "girl with an artist's beret, ((eyeshadow)), (coquettish), detailed");
        assert_eq!(it.negative.as_deref(), Some("ugly, (((deformed))), [blurry]"));
        assert_eq!(it.get("Steps"), Some("20"));
        assert_eq!(it.get("Sampler"), Some("Euler a"));
        assert_eq!(it.get("CFG scale"), Some("7"));
        assert_eq!(it.get("Size"), Some("512x512"));
        assert_eq!(it.get("Model hash"), Some("45dee52b"));
    }

    #[test]
    fn multi_line_prompts_quoted_values_and_no_parameters() {
        let it = parse("  a fox\n  in snow  \nNegative prompt: blur\nmore blur\nSteps: 4, Lora hashes: \"a: 1, b: 2\", Seed: 1\n");
        assert_eq!(it.prompt, "a fox\nin snow");
        assert_eq!(it.negative.as_deref(), Some("blur\nmore blur"));
        assert_eq!(it.get("Lora hashes"), Some("a: 1, b: 2"));
        // A key written twice: the last value wins, as in A1111.
        let it = parse("a fox\nSteps: 4, Steps: 9, Seed: 1, Seed: 2\n");
        assert_eq!((it.get("Steps"), it.get("Seed")), (Some("9"), Some("2")));
        // Fewer than 3 pairs: the last line is prompt text.
        let it = parse("a fox\ntime: 12, place: here");
        assert_eq!((it.prompt.as_str(), it.params.len()), ("a fox\ntime: 12, place: here", 0));
    }
}
