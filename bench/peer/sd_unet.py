"""The full-size Stable Diffusion 1.5 UNet in diffusers, for a side-by-side speed comparison with
comp on the same CPU (`models/benches/sd_vs_diffusers.rs` runs this right after comp's own
measurement and prints both and the ratio).

Same network as comp's benchmark checkpoint (`comp_models::sd::tiny::Spec::sd15_unet`: SD 1.5's
UNet config, random weights: speed does not depend on them), f32, the same rows (latents
[R, 4, size/8, size/8] at one timestep, each row cross-attending to its own 77x768 states), the
same threads. Inputs are drawn once, outside the timing, on both sides.

    pip install torch diffusers
    python bench/peer/sd_unet.py --rows 2,4 --size 256 --repeats 3 --threads 2

Prints one line per row count: `rows R: fastest S s, median M s`.
"""

import argparse
import statistics
import time

import torch
from diffusers import UNet2DConditionModel


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", default="2,4")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        sample_size=64,
        in_channels=4,
        out_channels=4,
        block_out_channels=(320, 640, 1280, 1280),
        down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
        layers_per_block=2,
        attention_head_dim=8,
        cross_attention_dim=768,
        norm_num_groups=32,
    ).eval()
    h = a.size // 8
    with torch.inference_mode():
        for rows in [int(r) for r in a.rows.split(",")]:
            x = torch.randn(rows, 4, h, h)
            states = torch.randn(rows, 77, 768)
            unet(x, 501, encoder_hidden_states=states)  # warm-up
            times = []
            for _ in range(a.repeats):
                t0 = time.perf_counter()
                unet(x, 501, encoder_hidden_states=states)
                times.append(time.perf_counter() - t0)
            print(f"rows {rows}: fastest {min(times):.3f} s, median {statistics.median(times):.3f} s", flush=True)


if __name__ == "__main__":
    main()
