#!/usr/bin/env python3
"""Projects data-parallel CTR training to N = 2-64 machines from measured single-machine steps.

Input: the CSV that `recdiff bench dist --base-only --csv <file> --label <workload> --batch <B/N>`
appends (one process per shard size B/N; docs/scaling.md gives the commands). Each line holds the
measured step time at that shard size, the dense parameter count P and the distinct embedding rows
U the shard reads. Output: Markdown tables (docs/scaling.md) of projected steps/s and samples/s on
10, 25 and 100 Gb/s networks, with replicated and row-wise sharded tables.

Per step on N machines (global batch B, shard n = B/N, embedding width d, T tables), with the
bytes exactly as recdiff sends them (docs/scaling.md, "What a step sends"):
  compute      c(n), measured; replicated tables also apply every other rank's rows:
               + kappa * (U(B) - U(n)); row-wise: + kappa * (U(B)/N - U(n))
  dense        ring all-reduce of 4P bytes: 2 (N-1)/N * 4P / bw + 2 (N-1) alpha
  replicated   all-gather of every rank's rows: (N-1) * (4T + U(n)(4 + 4d)) / bw + 2 (N-1) alpha
  row-wise     ids out, rows back, gradients out: (N-1)/N * U(n) (12 + 8d) / bw + 6 (N-1) alpha
  small        masks, the finite flag and the losses: 3 collectives of 2 log2(N) alpha each
No overlap of communication with compute (recdiff does not overlap them). bw is 80% of the line
rate; alpha, the per-message latency, is an assumption per network (below), not a measurement.
"""

import csv
import math
import sys

NETWORKS = [("10 Gb/s", 10e9, 30e-6), ("25 Gb/s", 25e9, 20e-6), ("100 Gb/s", 100e9, 5e-6)]
EFFICIENCY = 0.8
# Seconds per embedding row applied (Adam, d = 16, one core), from the measured 2-rank split:
# replicated minus row-wise compute (4.5 ms) over the rows only replicated applies (~19k).
KAPPA = 0.24e-6
TRAIN_ROWS = {"movielens-100k": 80_000, "synthetic-10m": 10_000_000, "criteo-scale": 45_000_000}


def load(path):
    rows = {}
    with open(path) as f:
        for r in csv.DictReader(f):
            rows.setdefault(r["label"], {})[int(r["batch"])] = r
    return rows


def step_seconds(m, full, n_ranks, bw, alpha, placement):
    d, fields = int(m["dim"]), int(m["fields"])
    p, u, u_full = int(m["dense_params"]), float(m["distinct_rows"]), float(full["distinct_rows"])
    compute = float(m["step_s"])
    k = n_ranks - 1
    dense = 2 * k / n_ranks * 4 * p / bw + 2 * k * alpha
    small = 3 * 2 * math.ceil(math.log2(n_ranks)) * alpha
    if placement == "replicated":
        compute += KAPPA * max(u_full - u, 0.0)
        sparse = k * (4 * fields + u * (4 + 4 * d)) / bw + 2 * k * alpha
    else:
        compute += KAPPA * (u_full / n_ranks - u)
        sparse = k / n_ranks * u * (12 + 8 * d) / bw + 6 * k * alpha
    return compute, compute + dense + sparse + small


def table(label, by_batch):
    full_batch = max(by_batch)
    full = by_batch[full_batch]
    one = float(full["step_s"])
    print(f"### {label}: B = {full_batch}, {full['fields']} fields x {full['dim']}, "
          f"{int(full['rows']):,} rows per table, P = {int(full['dense_params']):,}\n")
    epoch = TRAIN_ROWS[label] / (full_batch / one)
    took = f"{epoch:.1f} s" if epoch < 120 else f"{epoch / 60:.1f} min"
    print(f"One machine (measured): {1 / one:.1f} steps/s, {full_batch / one:,.0f} samples/s "
          f"(an epoch of {TRAIN_ROWS[label]:,} rows: {took}).\n")
    head = "| N | B/N | compute ms | dense MB | sparse MB (repl.) |"
    rule = "|---:|---:|---:|---:|---:|"
    for name, _, _ in NETWORKS:
        head += f" {name} repl. | {name} row-wise |"
        rule += "---:|---:|"
    print(head)
    print(rule)
    for n_ranks in [2, 4, 8, 16, 32, 64]:
        n = full_batch // n_ranks
        if n not in by_batch:
            continue
        m = by_batch[n]
        d, u = int(m["dim"]), float(m["distinct_rows"])
        sparse_mb = (n_ranks - 1) * u * (4 + 4 * d) / 1e6
        line = f"| {n_ranks} | {n} | {float(m['step_s']) * 1e3:.1f} | {4 * int(m['dense_params']) / 1e6:.2f} | {sparse_mb:.2f} |"
        for _, rate, alpha in NETWORKS:
            bw = rate / 8 * EFFICIENCY
            for placement in ["replicated", "row-wise"]:
                _, t = step_seconds(m, full, n_ranks, bw, alpha, placement)
                line += f" {full_batch / t:,.0f} |"
        print(line)
    print()


def main():
    rows = load(sys.argv[1] if len(sys.argv) > 1 else "scaling.csv")
    print("Projected samples/s (global batch B fixed; steps/s = samples/s / B).\n")
    for label in ["movielens-100k", "synthetic-10m", "criteo-scale"]:
        if label in rows:
            table(label, rows[label])


if __name__ == "__main__":
    main()
