#!/usr/bin/env python3
"""PyTorch reference for `recdiff bench train` and the in-process forward of `recdiff bench serve`.

The same shapes as recdiff's benchmark (crates/recdiff-train/src/bench.rs):
* batch 2048, F = 20 categorical fields x D = 16 dims, one table of `rows` rows per field, ids
  Zipf-like (`rows * u^3`), labels Bernoulli(0.5); 8 batches made up front and cycled;
* DCN-V2 as recdiff builds it: 3 full-rank cross layers over the 320-wide input
  (`x0 * (W x + b) + x`), a parallel ReLU MLP 512-256, `h = ReLU(P [cross, deep])` to 128,
  head `f = w^T z + b`; BCE with logits;
* AsymDiffRec: per sample T ~ U{0..F} fields dropped (zeroed), the clean and dropped copies
  through `h` as one 2B batch, `z0' = g([s, h(x_T)])` (148 -> 256 -> 128, ReLU between),
  loss BCE(f(z0)) + ||z0' - z0||^2 (per-sample squared norm, batch mean) + BCE(f(z0'));
* dense weights: Adam (lr 1e-3, eps 1e-8); tables: lazy (sparse) Adam, lr 1e-3, N(0, 0.01).

Setups (`--setup`): `combined` (one nn.Embedding(F * rows, sparse=True) with per-field offsets,
SparseAdam: the strongest measured), `tables` (one sparse nn.Embedding per field). Prints the
parameter counts (the check that both sides built the same network), then the median step time.

    python bench/reference/ctr.py train --rows 50000 [--asymdiffrec] [--steps 30 --warmup 5]
    python bench/reference/ctr.py serve --candidates 500 [--asymdiffrec]
"""
import argparse
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

FIELDS, DIM, LATENT = 20, 16, 128


class DcnV2(nn.Module):
    def __init__(self, width, cross_layers=3, deep=(512, 256), latent=LATENT):
        super().__init__()
        self.cross = nn.ModuleList(nn.Linear(width, width) for _ in range(cross_layers))
        layers, w = [], width
        for h in deep:
            layers.append(nn.Linear(w, h))
            w = h
        self.deep = nn.ModuleList(layers)
        self.proj = nn.Linear(width + w, latent)
        self.head = nn.Linear(latent, 1)

    def h(self, x0):
        x = x0
        for layer in self.cross:
            x = x0 * layer(x) + x
        d = x0
        for layer in self.deep:
            d = F.relu(layer(d))
        return F.relu(self.proj(torch.cat([x, d], 1)))

    def f(self, z):
        return self.head(z).squeeze(1)


class Asym(nn.Module):
    """`g([s, z])`: 2 linear layers, ReLU between."""

    def __init__(self, fields=FIELDS, latent=LATENT, hidden=256):
        super().__init__()
        self.l1 = nn.Linear(fields + latent, hidden)
        self.l2 = nn.Linear(hidden, latent)

    def forward(self, s, z):
        return self.l2(F.relu(self.l1(torch.cat([s, z], 1))))


class Tables(nn.Module):
    def __init__(self, rows, combined):
        super().__init__()
        self.combined = combined
        if combined:
            self.emb = nn.Embedding(FIELDS * rows, DIM, sparse=True)
            nn.init.normal_(self.emb.weight, 0.0, 0.01)
            self.register_buffer("offsets", torch.arange(FIELDS) * rows)
        else:
            self.embs = nn.ModuleList(nn.Embedding(rows, DIM, sparse=True) for _ in range(FIELDS))
            for e in self.embs:
                nn.init.normal_(e.weight, 0.0, 0.01)

    def forward(self, ids):  # [B, F] -> [B, F * D]
        if self.combined:
            return self.emb(ids + self.offsets).reshape(ids.shape[0], FIELDS * DIM)
        return torch.cat([e(ids[:, i]) for i, e in enumerate(self.embs)], 1)


def batches(rows, batch, n=8, seed=7):
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        u = torch.rand(batch, FIELDS, generator=g, dtype=torch.float64)
        ids = (rows * u**3).long().clamp(max=rows - 1)
        y = (torch.rand(batch, generator=g) < 0.5).float()
        out.append((ids, y))
    return out


def drop_mask(batch, g):
    """`s` [B, F]: T ~ U{0..F} fields dropped per sample, uniformly among the fields."""
    t = torch.randint(0, FIELDS + 1, (batch, 1), generator=g)
    rank = torch.rand(batch, FIELDS, generator=g).argsort(1).argsort(1)
    return (rank < t).float()


def count(module):
    return sum(p.numel() for p in module.parameters())


def train(a):
    torch.manual_seed(1)
    tables = Tables(a.rows, a.setup == "combined")
    base = DcnV2(FIELDS * DIM)
    asym = Asym() if a.asymdiffrec else None
    dense = list(base.parameters()) + (list(asym.parameters()) if asym else [])
    print(f"params dense {sum(p.numel() for p in dense)} embedding {count(tables)}")
    opt_dense = torch.optim.Adam(dense, lr=1e-3, eps=1e-8)
    opt_sparse = torch.optim.SparseAdam(list(tables.parameters()), lr=1e-3, eps=1e-8)
    data = batches(a.rows, a.batch)
    g = torch.Generator().manual_seed(3)
    times = []
    for step in range(a.warmup + a.steps):
        ids, y = data[step % len(data)]
        t0 = time.perf_counter()
        x0 = tables(ids)
        if asym is None:
            loss = F.binary_cross_entropy_with_logits(base.f(base.h(x0)), y)
        else:
            s = drop_mask(a.batch, g)
            xt = x0 * (1.0 - s).repeat_interleave(DIM, 1)
            z = base.h(torch.cat([x0, xt], 0))
            z0, zt = z[: a.batch], z[a.batch :]
            z0p = asym(s, zt)
            loss = (
                F.binary_cross_entropy_with_logits(base.f(z0), y)
                + (z0p - z0).pow(2).sum(1).mean()
                + F.binary_cross_entropy_with_logits(base.f(z0p), y)
            )
        opt_dense.zero_grad(set_to_none=True)
        opt_sparse.zero_grad(set_to_none=True)
        loss.backward()
        opt_dense.step()
        opt_sparse.step()
        if step >= a.warmup:
            times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    print(f"result {1.0 / med:.4f} {a.batch / med:.1f} {med:.6f}")


@torch.no_grad()
def serve(a):
    """The forward of one request: one user's fields shared by `candidates` rows, item fields
    varying; scores f(h(x)) or f(g([s, h(x)])). In process, no HTTP."""
    global FIELDS
    FIELDS = a.fields  # Tables and the id draws below read it
    torch.manual_seed(1)
    tables = Tables(a.rows, True)
    base = DcnV2(FIELDS * DIM, deep=a.deep)
    asym = Asym(fields=FIELDS) if a.asymdiffrec else None
    print(f"params dense {count(base) + (count(asym) if asym else 0)} embedding {count(tables)}")
    g = torch.Generator().manual_seed(5)
    times = []
    for i in range(a.warmup + a.requests):
        ids = (a.rows * torch.rand(a.candidates, FIELDS, generator=g, dtype=torch.float64) ** 3).long()
        ids[:, : FIELDS // 2] = ids[0, : FIELDS // 2]  # the user's half is the same in every row
        t0 = time.perf_counter()
        z = base.h(tables(ids.clamp(max=a.rows - 1)))
        if asym is not None:
            z = asym(torch.zeros(a.candidates, FIELDS), z)
        scores = torch.sigmoid(base.f(z))
        scores.sum().item()
        if i >= a.warmup:
            times.append(time.perf_counter() - t0)
    times.sort()
    p = lambda q: times[min(len(times) - 1, int(q * len(times)))] * 1e3  # noqa: E731
    print(f"forward_ms p50 {p(0.5):.3f} p99 {p(0.99):.3f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("--rows", type=int, default=50_000)
    t.add_argument("--batch", type=int, default=2048)
    t.add_argument("--steps", type=int, default=30)
    t.add_argument("--warmup", type=int, default=5)
    t.add_argument("--asymdiffrec", action="store_true")
    t.add_argument("--setup", choices=["combined", "tables"], default="combined")
    s = sub.add_parser("serve")
    s.add_argument("--rows", type=int, default=50_000)
    s.add_argument("--candidates", type=int, default=500)
    s.add_argument("--requests", type=int, default=200)
    s.add_argument("--warmup", type=int, default=20)
    s.add_argument("--asymdiffrec", action="store_true")
    # The shapes of `recdiff bench serve`'s quickstart models: 40 fields, DCN-V2 deep 256-128.
    s.add_argument("--fields", type=int, default=40)
    s.add_argument("--deep", type=lambda v: tuple(int(x) for x in v.split(",")), default=(256, 128))
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    train(a) if a.cmd == "train" else serve(a)


if __name__ == "__main__":
    main()
