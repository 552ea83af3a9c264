//! The diagnostic codes of `comp import` (docs/import.md lists them). Errors are E02xx,
//! warnings W01xx with a kebab-case name, apart from the compiler's E00xx/E01xx and W00xx.

/// Brackets nested deeper than the import reads (A1111's parser itself fails a little deeper).
pub const UNBALANCED: &str = "E0201";
/// A weight that is not a number where the tool stops on it: `(word:1.2.3)` (A1111 raises a
/// ValueError), `--weights "7.5 | x"`.
pub const BAD_WEIGHT: &str = "E0202";
/// A prompt edit whose step A1111 cannot compute: `[a:b:1e999]` (an infinite step; A1111
/// stops with an OverflowError).
pub const BAD_EDIT: &str = "E0203";
/// An absolute step (`[a:b:12]`) or an alternation (`[a|b]`) without `--steps`.
pub const NEEDS_STEPS: &str = "E0204";
/// Nothing to sample: every prompt of the Composable Diffusion pipeline has weight 0.
pub const NOTHING: &str = "E0205";
// E0206 (a `|` outside square brackets) is retired: A1111 reads such a part as text, and so
// does the import now, with warning W0109.
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
/// step); when every part has weight 0, A1111 samples the negative prompt alone, and so does
/// the import.
pub const ZERO_WEIGHT: (&str, &str) = ("W0105", "zero-weight-part");
/// What the Composable Diffusion pipeline does differs from the sum comp computes (guidance
/// scale ≤ 1, weights ignored or filled in).
pub const PIPELINE: (&str, &str) = ("W0106", "pipeline-differs");
/// A sampler setting comp has no exact counterpart for (Karras sigmas).
pub const SAMPLER: (&str, &str) = ("W0107", "sampler-differs");
/// An infotext parameter that changes the image and that the import does not carry over
/// (clip skip, hires fix, VAE, refiner, variation seed).
pub const INFOTEXT: (&str, &str) = ("W0108", "infotext-ignored");
/// Something A1111 reads as text although it looks like syntax: a bracket that is not well
/// formed, a part whose grammar fails (a `|` outside square brackets), a weight A1111 does not
/// read (`:1e-3`), an extra-network tag in the negative prompt.
pub const READ_AS_TEXT: (&str, &str) = ("W0109", "read-as-text");
/// A prompt edit that A1111 itself applies in some runs and not in others (its parse depends
/// on Python's hash seed): the import applies it.
pub const UNSTABLE: (&str, &str) = ("W0110", "a1111-unstable");
