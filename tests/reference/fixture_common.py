"""Helpers shared by the logits fixture generators (llamacpp/make_fixtures.py and
transformers/make_fixtures.py): their command line, the demo model's path and
checksum, the per-row summaries both fixtures store, and how a fixture pair
(JSON metadata + compressed float arrays) is written.

The generators put this folder on sys.path and import it by name; nothing here
imports a heavy package (llama_cpp, torch), so it loads in CI as well.
"""
import argparse
import hashlib
import json
import os
import subprocess

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
TOP_K = 10      # top-K token ids and logits stored per logits row
GENERATE = 32   # greedy continuation length


def parse_args():
    """--model PATH (default: scripts/fetch_model's) and --threads N."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=None)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    return ap.parse_args()


def model_path(arg):
    """Absolute path of the model: `arg`, or the last line scripts/fetch_model prints."""
    path = arg or subprocess.check_output([os.path.join(ROOT, "scripts", "fetch_model")],
                                          text=True).strip().splitlines()[-1]
    return os.path.abspath(path)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def summarize(rows):
    """Top-K ids/logits (best first, stable on ties) and L2 norm of each row of [n, vocab]."""
    idx = np.argsort(-rows, axis=1, kind="stable")[:, :TOP_K].astype(np.int32)
    vals = np.take_along_axis(rows, idx, axis=1).astype(np.float32)
    norms = np.linalg.norm(rows.astype(np.float64), axis=1).astype(np.float32)
    return idx, vals, norms


def write_fixture(directory, stem, meta, arrays):
    """Writes directory/stem.json (meta, indented, UTF-8 as is) and directory/stem.npz (arrays)."""
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, stem + ".json"), "w") as f:
        json.dump(meta, f, indent=1, ensure_ascii=False)
        f.write("\n")
    np.savez_compressed(os.path.join(directory, stem + ".npz"), **arrays)
