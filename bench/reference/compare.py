#!/usr/bin/env python3
"""recdiff against PyTorch on the same shapes, run alternately on this machine: the ratio table of
issue 16 (docs/performance.md).

    python3 bench/reference/compare.py --install      # once: PyTorch into bench/reference/.venv
    python3 bench/reference/compare.py                # 3 alternating runs of every case

Cases: the DCN-V2 training step and the DCN-V2 + AsymDiffRec step at 50k and 1M rows per table
(`recdiff bench train` against ctr.py), and a SASRec epoch on MovieLens-100K (`recdiff bench seq`
against sasrec.py). Each run of a case runs recdiff, then PyTorch, so load on a shared machine
falls on both; the table gives the median of each side and the median of the per-run ratios.
Both sides print their parameter counts, and a case whose counts differ stops the comparison:
the shapes are not the same, so the ratio would mean nothing.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
VENV = os.path.join(HERE, ".venv")
TORCH = "torch==2.15.0"


def install():
    if not os.path.exists(os.path.join(VENV, "bin", "python")):
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
    subprocess.run([os.path.join(VENV, "bin", "pip"), "install", "-q", TORCH], check=True)


def run(cmd):
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stdout}{p.stderr}")
    return p.stdout


def ctr_recdiff(a, model, rows):
    out = run([a.recdiff, "bench", "train", "--single", f"{model}:{rows}", "--steps", str(a.steps), "--warmup", "5"])
    return float(re.search(r"^result (\S+)", out, re.M).group(1)), re.search(r"^params dense (\d+)", out, re.M).group(1)


def ctr_torch(a, model, rows):
    cmd = [a.python, os.path.join(HERE, "ctr.py"), "train", "--rows", str(rows), "--steps", str(a.steps)]
    out = run(cmd + (["--asymdiffrec"] if model == "asymdiffrec" else []))
    return float(re.search(r"^result (\S+)", out, re.M).group(1)), re.search(r"^params dense (\d+)", out, re.M).group(1)


def sasrec_recdiff(a):
    out = run([a.recdiff, "bench", "seq", "configs/seq-ml100k-sasrec.toml", "--epochs", "2"])
    row = next(line for line in out.splitlines() if line.startswith("seq-ml100k-sasrec")).split()
    return 1.0 / float(row[4]), row[6]


def sasrec_torch(a):
    out = run([a.python, os.path.join(HERE, "sasrec.py"), a.ml100k, "--epochs", "2"])
    secs = [float(x) for x in re.findall(r"^epoch \d+ timed (\S+) s", out, re.M)]
    return 1.0 / statistics.mean(secs), re.search(r"^params (\d+)", out, re.M).group(1)


def cases(a):
    out = []
    for rows in a.rows:
        for model in ("base", "asymdiffrec"):
            name = f"{'DCN-V2' if model == 'base' else 'DCN-V2 + AsymDiffRec'} step, {rows:,} rows/table"
            out.append((name, "steps/s", lambda m=model, r=rows: ctr_recdiff(a, m, r),
                        lambda m=model, r=rows: ctr_torch(a, m, r)))
    out.append(("SASRec epoch, MovieLens-100K", "epochs/s", lambda: sasrec_recdiff(a), lambda: sasrec_torch(a)))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--install", action="store_true", help=f"install {TORCH} into {VENV} and stop")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--steps", type=int, default=30, help="timed CTR steps per run")
    ap.add_argument("--rows", type=lambda s: [int(x) for x in s.split(",")], default=[50_000, 1_000_000])
    ap.add_argument("--recdiff", default=os.path.join(ROOT, "target", "release", "recdiff"))
    ap.add_argument("--python", default=os.path.join(VENV, "bin", "python"))
    ap.add_argument("--ml100k", default=os.path.join(ROOT, "..", "shared", "data", "ml-100k"))
    ap.add_argument("--only", default="", help="run the cases whose name contains this text")
    a = ap.parse_args()
    if a.install:
        return install()
    for path, what in ((a.recdiff, "cargo build --release"), (a.python, "--install")):
        if not os.path.exists(path):
            sys.exit(f"{path} not found: run {what} first")
    results = {}
    selected = [c for c in cases(a) if a.only in c[0]]
    for r in range(a.runs):
        for name, unit, ours, theirs in selected:
            (x, px), (y, py) = ours(), theirs()
            if px != py:
                sys.exit(f"{name}: parameter counts differ (recdiff {px}, PyTorch {py}): not the same network")
            results.setdefault(name, []).append((x, y))
            print(f"run {r + 1}: {name}: recdiff {x:.3f} {unit}, PyTorch {y:.3f} {unit} ({px} params)", flush=True)
    print(f"\n| work | recdiff | PyTorch | recdiff / PyTorch (median of {a.runs} runs, min-max) |")
    print("|---|---|---|---|")
    for name, unit, _, _ in selected:
        pairs = results[name]
        ratios = [x / y for x, y in pairs]
        print(f"| {name} | {statistics.median(x for x, _ in pairs):.3f} {unit} | "
              f"{statistics.median(y for _, y in pairs):.3f} {unit} | "
              f"{statistics.median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f}) |")
    for rows in a.rows:
        base, asym = (f"{m} step, {rows:,} rows/table" for m in ("DCN-V2", "DCN-V2 + AsymDiffRec"))
        if base in results and asym in results:
            ours = statistics.median(b[0] / s[0] for b, s in zip(results[base], results[asym]))
            theirs = statistics.median(b[1] / s[1] for b, s in zip(results[base], results[asym]))
            print(f"| AsymDiffRec step / base step, {rows:,} rows | {ours:.2f}x | {theirs:.2f}x | |")


if __name__ == "__main__":
    main()
