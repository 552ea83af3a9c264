//! The diagnostic codes of `comp import` (docs/import.md lists them). Errors are E02xx,
//! warnings W01xx with a kebab-case name, apart from the compiler's E00xx/E01xx and W00xx.

/// Unbalanced or too deeply nested brackets.
pub const UNBALANCED: &str = "E0201";
/// A weight that is not a number: `a AND b :1.2.3`, `(word:1..2)`, `--weights "7.5 | x"`.
pub const BAD_WEIGHT: &str = "E0202";
/// Prompt editing that is not `[from:to:when]`, `[to:when]` or `[from::when]`.
pub const BAD_EDIT: &str = "E0203";
/// An absolute step (`[a:b:12]`) or an alternation (`[a|b]`) without `--steps`.
pub const NEEDS_STEPS: &str = "E0204";
/// Nothing to sample: every part has weight 0.
pub const NOTHING: &str = "E0205";
/// `|` outside square brackets in a prompt with prompt editing: A1111 ignores the editing.
pub const STRAY_PIPE: &str = "E0206";
/// `--weights` that the Composable Diffusion pipeline refuses (too few).
pub const WEIGHT_COUNT: &str = "E0207";

/// Emphasis `(word:1.3)`, `((word))`, `[word]`: the words are kept, their weight dropped.
pub const EMPHASIS_DROPPED: (&str, &str) = ("W0101", "emphasis-dropped");
/// `BREAK`: the chunks are joined.
pub const BREAK_DROPPED: (&str, &str) = ("W0102", "break-dropped");
/// `<lora:...>` and other extra networks: removed.
pub const EXTRA_NETWORK: (&str, &str) = ("W0103", "extra-network-dropped");
/// A fraction in prompt editing without `--steps`: A1111 rounds the switch down to a step.
pub const STEP_ROUNDING: (&str, &str) = ("W0104", "step-rounding");
/// An AND part with weight 0: left out (it does nothing in A1111 either, at one model call a
/// step).
pub const ZERO_WEIGHT: (&str, &str) = ("W0105", "zero-weight-part");
/// What the Composable Diffusion pipeline does differs from the sum comp computes (guidance
/// scale ≤ 1, weights ignored or filled in).
pub const PIPELINE: (&str, &str) = ("W0106", "pipeline-differs");
/// A sampler setting comp has no exact counterpart for (Karras sigmas).
pub const SAMPLER: (&str, &str) = ("W0107", "sampler-differs");
/// An infotext parameter that changes the image and that the import does not carry over
/// (clip skip, hires fix, VAE, refiner, variation seed).
pub const INFOTEXT: (&str, &str) = ("W0108", "infotext-ignored");
