"""The clevr-pos UNet in PyTorch, for a side-by-side speed comparison with comp on the same CPU.

Same network as `models/src/clevr/unet.rs` (default config: 24 -> 48 -> 48 channels over
32, 16 and 8 pixels, one ResBlock per level down and two up, scale-shift conditioning, GroupNorm
with 8 groups, CoordConv input, sinusoidal time embedding + linear position embedding + learned
null, the position heatmap input channel), same training step (epsilon loss, AdamW) and the same sampling forward. The inputs are
random tensors of the right shapes: comp's step also renders its scenes, which this does not, so
the comparison slightly favours this script.

    pip install torch
    python bench/peer/clevr_unet.py            # 2 threads, batch 32, 32 sampling rows

Prints images/s for training and ms/row for a sampling forward (median of repetitions). With
`--serve` it times one call per line of stdin instead (`train` or `sample`), for a caller that
interleaves its own calls with these (`cargo bench -p comp-lab --bench clevr_unet -- peer`).
"""

import argparse
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class ResBlock(nn.Module):
    def __init__(self, cin, cout, emb, groups):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.emb = nn.Linear(emb, 2 * cout)
        self.norm2 = nn.GroupNorm(groups, cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x, emb):
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.emb(F.silu(emb))[:, :, None, None].chunk(2, dim=1)
        h = self.conv2(F.silu(self.norm2(h) * (1 + scale) + shift))
        return (self.skip(x) if self.skip is not None else x) + h


class Unet(nn.Module):
    def __init__(self, ch=24, mults=(1, 2, 2), res_blocks=1, groups=8):
        super().__init__()
        emb = 4 * ch
        self.freqs = ch
        self.time1, self.time2 = nn.Linear(ch, emb), nn.Linear(emb, emb)
        self.pos = nn.Linear(2, emb)
        self.null = nn.Parameter(torch.randn(emb))
        self.conv_in = nn.Conv2d(6, ch, 3, padding=1)
        skips, cur = [ch], ch
        self.down = nn.ModuleList()
        for i, m in enumerate(mults):
            blocks = nn.ModuleList()
            for _ in range(res_blocks):
                blocks.append(ResBlock(cur, ch * m, emb, groups))
                cur = ch * m
                skips.append(cur)
            ds = None
            if i + 1 < len(mults):
                skips.append(cur)
                ds = nn.Conv2d(cur, cur, 3, stride=2, padding=1)
            self.down.append(nn.ModuleList([blocks, ds if ds is not None else nn.Identity()]))
        self.n_levels = len(mults)
        self.mid = nn.ModuleList([ResBlock(cur, cur, emb, groups), ResBlock(cur, cur, emb, groups)])
        self.up = nn.ModuleList()
        for i, m in reversed(list(enumerate(mults))):
            blocks = nn.ModuleList()
            for _ in range(res_blocks + 1):
                blocks.append(ResBlock(cur + skips.pop(), ch * m, emb, groups))
                cur = ch * m
            us = nn.Conv2d(cur, cur, 3, padding=1) if i > 0 else nn.Identity()
            self.up.append(nn.ModuleList([blocks, us]))
        self.norm_out = nn.GroupNorm(groups, cur)
        self.conv_out = nn.Conv2d(cur, 3, 3, padding=1)
        r = (torch.arange(32) + 0.5) / 32
        xs = (2 * r - 1)[None, :].expand(32, 32)
        ys = (1 - 2 * r)[:, None].expand(32, 32)
        self.register_buffer("coords", torch.stack([xs, ys])[None])

    def embed(self, t, xy, mask):
        half = self.freqs // 2
        f = torch.exp(-math.log(10000) * torch.arange(half) / half)
        a = t[:, None] * f[None]
        time = self.time2(F.silu(self.time1(torch.cat([a.cos(), a.sin()], 1))))
        m = mask[:, None]
        return time + self.pos(xy) * m + self.null[None] * (1 - m)

    def forward(self, x, t, xy, mask):
        emb = self.embed(t, xy, mask)
        coords = self.coords.expand(x.shape[0], -1, -1, -1)
        d2 = ((coords - (2 * xy - 1)[:, :, None, None]) ** 2).sum(1, keepdim=True)
        s = 3.0 * 2 / 32
        heat = torch.exp(-0.5 * d2 / (s * s)) * mask[:, None, None, None]
        h = self.conv_in(torch.cat([x, coords, heat], 1))
        skips = [h]
        for i, (blocks, ds) in enumerate(self.down):
            for b in blocks:
                h = b(h, emb)
                skips.append(h)
            if i + 1 < self.n_levels:
                h = ds(h)
                skips.append(h)
        for b in self.mid:
            h = b(h, emb)
        for i, (blocks, us) in enumerate(self.up):
            for b in blocks:
                h = b(torch.cat([h, skips.pop()], 1), emb)
            if i + 1 < self.n_levels:
                h = us(F.interpolate(h, scale_factor=2, mode="nearest"))
        return self.conv_out(F.silu(self.norm_out(h)))


def inputs(n):
    return (torch.randn(n, 3, 32, 32), torch.randint(0, 1000, (n,)).float(), torch.rand(n, 2), (torch.rand(n) > 0.1).float())


def median_time(f, warm, reps):
    for _ in range(warm):
        f()
    ts = []
    for _ in range(reps):
        s = time.perf_counter()
        f()
        ts.append(time.perf_counter() - s)
    return sorted(ts)[reps // 2]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--rows", type=int, default=32)
    p.add_argument("--reps", type=int, default=7)
    p.add_argument("--serve", action="store_true", help="time one call per line read from stdin ('train' or 'sample'), printing its seconds")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    net = Unet()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=0.0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {sum(p.numel() for p in net.parameters())} parameters")

    def step():
        x, t, xy, mask = inputs(a.batch)
        z = torch.randn_like(x)
        loss = F.mse_loss(net(x, t, xy, mask), z)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    x, t, xy, mask = inputs(a.rows)
    if a.serve:
        # Interleaved with the caller's own timings, one call at a time, so that a slow spell
        # of a shared machine falls on both sides alike.
        print("ready", flush=True)
        for line in sys.stdin:
            what = line.strip()
            s = time.perf_counter()
            if what == "train":
                step()
            elif what == "sample":
                with torch.no_grad():
                    net(x, t, xy, mask)
            else:
                break
            print(f"{time.perf_counter() - s:.6f}", flush=True)
        return
    s = median_time(step, 2, a.reps)
    print(f"train step, batch {a.batch}: {s:.3f} s/step, {a.batch / s:.1f} images/s")
    with torch.no_grad():
        s = median_time(lambda: net(x, t, xy, mask), 2, a.reps)
    print(f"sampling forward, {a.rows} rows: {1e3 * s / a.rows:.2f} ms/row")


if __name__ == "__main__":
    main()
