"""Writes the tiny Stable Diffusion pipelines that `models/tests/sd_diffusers.rs` checks comp
against, with golden outputs computed by the reference implementation (diffusers +
transformers), so that the normal test suite compares comp with diffusers without Python.

Two pipelines, each saved by `save_pretrained(safe_serialization=True)` exactly as diffusers
and transformers write one today (transformers 5 writes the text encoder without the
`text_model.` prefix):

* `sd1`: SD 1.x-like. epsilon, QuickGELU encoder, `PNDMScheduler` config (which has no
  `clip_sample`: diffusers' `DDIMScheduler.from_config` then clips x0 to [-1, 1]);
* `sd2-zsnr`: SD 2.x-like. v-prediction, GELU encoder, linear projections, a `vocab.json` +
  `merges.txt` tokenizer padding with `!` (the SD 2.x repositories' layout; `sd1` keeps the
  `tokenizer.json` transformers 5 writes), and a `DDIMScheduler` with zero terminal SNR
  (`rescale_betas_zero_snr`, trailing spacing).

For each, `golden.safetensors` holds: token ids of `PROMPTS` as the pipeline tokenizes them
(77 each), the text states of "" and "a red cat", one UNet call, one VAE decode, and ten DDIM
steps of classifier-free guidance (scale 6, "a red cat" against "") from given latents, every
state of the loop; `sd1` also "cat AND NOT dog" (scale 3) as comp defines it. The DDIM steps use
`use_clipped_model_output=True`, which is what comp's DDIM does when it clips.

    python3 -m venv venv && venv/bin/pip install torch diffusers transformers safetensors
    venv/bin/python bench/peer/sd_fixture.py models/tests/fixtures

Versions used for the committed files are in each folder's `golden.json`.
"""

import json
import os
import shutil
import sys

import torch
import diffusers
import transformers
from diffusers import AutoencoderKL, DDIMScheduler, PNDMScheduler, StableDiffusionPipeline, UNet2DConditionModel
from safetensors.torch import save_file
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

# Prompts whose ids must match transformers': merges, `!` (special when it is the pad token),
# typed special tokens in both cases, whitespace, case, a prompt past 75 tokens.
PROMPTS = [
    "",
    "a red cat",
    "A  RED\tCat",
    "cat!",
    "cat!!",
    "wow!!! a dog!",
    "cat <|endoftext|> dog",
    "cat <|ENDOFTEXT|> dog",
    "<|startoftext|>red",
    "snow, red; dog's cat",
    "ünïcödé café",
    "red " * 80,
]

WORDS = ["a", "cat", "dog", "red", "snow", "photo", "of", "wow"]


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for c in cs]


def write_tokenizer_files(d):
    """A tiny CLIP vocabulary: every byte alone and word-final, WORDS merged, the specials."""
    chars = bytes_to_unicode()
    vocab = chars + [c + "</w>" for c in chars]
    merges = []
    for w in WORDS:
        acc = w[0]
        for i, ch in enumerate(w[1:]):
            right = ch + ("</w>" if i == len(w) - 2 else "")
            merges.append(f"{acc} {right}")
            acc = acc + right
            if acc not in vocab:
                vocab.append(acc)
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "vocab.json"), "w") as f:
        json.dump({t: i for i, t in enumerate(vocab)}, f)
    with open(os.path.join(d, "merges.txt"), "w") as f:
        f.write("#version: 0.2\n" + "\n".join(merges) + "\n")
    return len(vocab)


def build(kind, tmp):
    torch.manual_seed(0 if kind == "sd1" else 1)
    v2 = kind != "sd1"
    tok_dir = os.path.join(tmp, f"tok-{kind}")
    vocab_size = write_tokenizer_files(tok_dir)
    tokenizer = CLIPTokenizer.from_pretrained(tok_dir, pad_token="!" if v2 else "<|endoftext|>", model_max_length=77)
    assert len(tokenizer) == vocab_size
    text = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=vocab_size,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            max_position_embeddings=77,
            hidden_act="gelu" if v2 else "quick_gelu",
            projection_dim=32,
            bos_token_id=vocab_size - 2,
            eos_token_id=vocab_size - 1,
            pad_token_id=0 if v2 else vocab_size - 1,
        )
    ).eval()
    unet = UNet2DConditionModel(
        sample_size=8,
        in_channels=4,
        out_channels=4,
        block_out_channels=(32, 32),
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        layers_per_block=1,
        attention_head_dim=2,
        cross_attention_dim=32,
        norm_num_groups=32,
        use_linear_projection=v2,
    ).eval()
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(8, 8, 16, 16),
        layers_per_block=1,
        latent_channels=4,
        norm_num_groups=4,
        sample_size=64,
    ).eval()
    common = dict(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", steps_offset=1, set_alpha_to_one=False)
    if v2:
        scheduler = DDIMScheduler(
            **common, prediction_type="v_prediction", clip_sample=False, rescale_betas_zero_snr=True, timestep_spacing="trailing"
        )
    else:
        scheduler = PNDMScheduler(**common, skip_prk_steps=True)
    return StableDiffusionPipeline(
        vae=vae,
        text_encoder=text,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


@torch.no_grad()
def golden(pipe, kind):
    g = {}
    ids = pipe.tokenizer(PROMPTS, padding="max_length", max_length=77, truncation=True, return_tensors="pt").input_ids
    g["token_ids"] = ids.to(torch.int64)

    def states(prompt):
        t = pipe.tokenizer([prompt], padding="max_length", max_length=77, truncation=True, return_tensors="pt").input_ids
        return pipe.text_encoder(t)[0]

    u, c = states(""), states("a red cat")
    g["text_states"] = torch.cat([u, c])
    gen = torch.Generator().manual_seed(7)
    x = torch.randn(2, 4, 8, 8, generator=gen)
    g["unet_x"] = x
    g["unet_eps"] = pipe.unet(x, 500, encoder_hidden_states=torch.cat([u, c])).sample
    z = torch.randn(1, 4, 8, 8, generator=gen)
    g["vae_z"] = z
    g["vae_image"] = pipe.vae.decode(z / pipe.vae.config.scaling_factor).sample

    def loop(start, terms, scale):
        """DDIM (the folder's config, as DDIMScheduler.from_config reads it), 10 steps,
        eps = eps_u + scale * sum(w * (eps_p - eps_u)) from one UNet call per term."""
        sched = DDIMScheduler.from_config(pipe.scheduler.config)
        sched.set_timesteps(10)
        xs = [start]
        x = start
        n = x.shape[0]
        for t in sched.timesteps:
            out_u = pipe.unet(x, t, encoder_hidden_states=u.repeat(n, 1, 1)).sample
            guided = out_u.clone()
            for prompt, w in terms:
                out = pipe.unet(x, t, encoder_hidden_states=states(prompt).repeat(n, 1, 1)).sample
                guided = guided + scale * w * (out - out_u)
            x = sched.step(guided, t, x, eta=0.0, use_clipped_model_output=True).prev_sample
            xs.append(x)
        return torch.stack(xs), sched

    start = torch.randn(2, 4, 8, 8, generator=gen)
    g["ddim_start"] = start
    g["ddim_cfg"], sched = loop(start, [("a red cat", 1.0)], 6.0)
    g["ddim_timesteps"] = sched.timesteps.to(torch.int64)
    g["alphas_cumprod"] = sched.alphas_cumprod.to(torch.float64)
    if kind == "sd1":
        g["ddim_and_not"], _ = loop(start[:1], [("cat", 1.0), ("dog", -1.0)], 3.0)
    meta = {
        "prompts": PROMPTS,
        "versions": {"torch": torch.__version__, "diffusers": diffusers.__version__, "transformers": transformers.__version__},
        "clip_sample": sched.config.clip_sample,
        "scheduler": dict(sched.config),
    }
    return {k: v.contiguous().float() if v.is_floating_point() and k != "alphas_cumprod" else v.contiguous() for k, v in g.items()}, meta


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "models/tests/fixtures"
    torch.set_num_threads(2)
    tmp = os.path.join(out, ".tmp")
    for kind in ["sd1", "sd2-zsnr"]:
        pipe = build(kind, tmp)
        d = os.path.join(out, f"diffusers-{kind}")
        pipe.save_pretrained(d, safe_serialization=True)
        if kind != "sd1":
            # The SD 2.x repositories' tokenizer layout: the slow tokenizer's two files (and the
            # pad token in tokenizer_config.json), no tokenizer.json.
            os.remove(os.path.join(d, "tokenizer", "tokenizer.json"))
            for name in ["vocab.json", "merges.txt"]:
                shutil.copy(os.path.join(tmp, f"tok-{kind}", name), os.path.join(d, "tokenizer", name))
        tensors, meta = golden(pipe, kind)
        save_file(tensors, os.path.join(d, "golden.safetensors"))
        with open(os.path.join(d, "golden.json"), "w") as f:
            json.dump(meta, f, indent=1, default=str)
        print(kind, "->", d, {k: tuple(v.shape) for k, v in tensors.items()})
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
