#!/usr/bin/env python3
"""PyTorch reference for the SASRec row of `recdiff bench seq`: one training epoch on
MovieLens-100K with recdiff's shapes (configs/seq-ml100k-sasrec.toml and
crates/recdiff-model/src/seq/sasrec.rs):

* leave-one-out per user (time order): the last two items held out, the rest cut from the end
  into windows of 50 inputs with next-item targets, left-padded (97,171 positions);
* item (1,683 rows with padding) and learned positional embeddings of d = 64, items scaled by
  sqrt(d), dropout 0.2, 2 pre-norm Transformer layers (2 heads, ReLU feed-forward 256, causal and
  padding masks), a final LayerNorm;
* full softmax over the catalogue (padding column pushed out) at every non-padding position,
  Adam lr 1e-3, batch 128 windows, shuffled.

Prints the parameter count and positions (the check that both sides built the same thing), then
the epoch times.

    python bench/reference/sasrec.py ../shared/data/ml-100k [--epochs 2]
"""
import argparse
import math
import os
import random
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def windows(path, max_len):
    by_user = {}
    with open(os.path.join(path, "u.data")) as f:
        for line in f:
            u, i, _, t = line.split("\t")
            by_user.setdefault(u, []).append((int(t), int(i)))
    items = {}
    rows = []
    for u in sorted(by_user, key=int):
        h = [items.setdefault(i, len(items) + 1) for _, i in sorted(by_user[u])]
        train = h[:-2]
        if len(train) < 2:
            continue
        inputs, targets = train[:-1], train[1:]
        end = len(inputs)
        while end > 0:
            start = max(0, end - max_len)
            pad = max_len - (end - start)
            rows.append(([0] * pad + inputs[start:end], [0] * pad + targets[start:end]))
            end = start
    return rows, len(items)


class SasRec(nn.Module):
    def __init__(self, n_items, max_len, d=64, heads=2, layers=2, dropout=0.2):
        super().__init__()
        self.d = d
        self.items = nn.Embedding(n_items + 1, d)
        self.positions = nn.Embedding(max_len, d)
        layer = nn.TransformerEncoderLayer(
            d, heads, 4 * d, dropout, activation="relu", batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d)
        self.dropout = nn.Dropout(dropout)

    def forward(self, seq):
        b, l = seq.shape
        pos = torch.arange(l).unsqueeze(0).expand(b, l)
        x = self.dropout(self.items(seq) * math.sqrt(self.d) + self.positions(pos))
        causal = torch.triu(torch.ones(l, l, dtype=torch.bool), 1)
        return self.norm(self.encoder(x, mask=causal, src_key_padding_mask=seq.eq(0)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("ml100k")
    ap.add_argument("--epochs", type=int, default=2, help="timed epochs, after one warm-up epoch")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--max-len", type=int, default=50)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    random.seed(1)
    rows, n_items = windows(a.ml100k, a.max_len)
    positions = sum(1 for _, t in rows for x in t if x != 0)
    model = SasRec(n_items, a.max_len)
    print(f"params {sum(p.numel() for p in model.parameters())} positions {positions}")
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-8)
    inputs = torch.tensor([r[0] for r in rows])
    targets = torch.tensor([r[1] for r in rows])
    pad = torch.zeros(n_items + 1)
    pad[0] = -1e9
    for epoch in range(a.epochs + 1):
        t0 = time.perf_counter()
        order = torch.randperm(len(rows))
        for s in range(0, len(rows), a.batch):
            idx = order[s : s + a.batch]
            h = model(inputs[idx]).reshape(-1, model.d)
            tgt = targets[idx].reshape(-1)
            keep = tgt.ne(0)
            logits = h[keep] @ model.items.weight.T + pad
            loss = F.cross_entropy(logits, tgt[keep])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        secs = time.perf_counter() - t0
        print(f"epoch {epoch} {'warm-up' if epoch == 0 else 'timed'} {secs:.3f} s")


if __name__ == "__main__":
    main()
