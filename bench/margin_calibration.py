"""Checks the label-free ranking margins against PESQ on synthetic pairs
made from TRAINING speech only (PESQ only checks; it never enters training).

    python bench/margin_calibration.py [--pairs 300] [--seed 0]

Prints, per degradation kind, mean loudness distance, margin and PESQ, the
LCC/SRCC between margin and PESQ over all pairs, and the time per distance.
"""
import argparse
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "data")
sys.path.insert(0, ROOT)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pairs", type=int, default=300)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    from vqkeras.audio import read_audio
    from vqkeras.data.degradations import KINDS, degrade
    from vqkeras.data.perceptual_distance import loudness_distance, ranking_margin
    from vqkeras.data.splits import all_speech_split
    from vqkeras.evaluation.correlation import pearson, spearman
    from vqkeras.evaluation.metrics import pesq_wb

    train, _ = all_speech_split(SHARED)
    rng = np.random.default_rng(args.seed)
    files = [train[i] for i in rng.choice(len(train), 60, replace=False)]
    crops = []
    for f in files:
        w = read_audio(f)[0].astype(np.float64)
        start = int(rng.integers(0, max(w.size - 48000, 0) + 1))
        c = w[start:start + 48000]
        crops.append(c * (0.05 / max(np.sqrt(np.mean(c ** 2)), 1e-8)))
    rows, spent = [], 0.0
    fixed = [("lowpass", 0.5, "lowpass 4 kHz"), ("white_noise", 30 / 35, "white 0 dB")]
    for i in range(args.pairs):
        clean = crops[i % len(crops)]
        if i < 40:
            kind, sev, label = fixed[i % 2]
        else:
            kind = KINDS[i % len(KINDS)]
            sev = float(rng.uniform())
            label = kind
        deg = degrade(clean, kind, sev, rng, others=crops[:10])
        t = time.perf_counter()
        d = loudness_distance(clean, deg)
        spent += time.perf_counter() - t
        q = pesq_wb(clean.astype(np.float32), deg)
        rows.append((label, sev, d, ranking_margin(d), q))
    ok = [r for r in rows if np.isfinite(r[4])]
    m = np.array([r[3] for r in ok])
    q = np.array([r[4] for r in ok])
    print(f"{len(ok)} pairs with PESQ; distance {1e3 * spent / len(rows):.1f} ms per 3 s pair")
    print(f"margin vs PESQ: LCC {pearson(-m, q):.3f} SRCC {spearman(-m, q):.3f}")
    d = np.array([r[2] for r in ok])
    print(f"distance vs PESQ: LCC {pearson(-d, q):.3f} SRCC {spearman(-d, q):.3f}")
    print(f"{'kind':16s} {'n':>3s} {'dist':>6s} {'margin':>7s} {'PESQ':>5s}")
    for label in sorted({r[0] for r in ok}):
        sel = [r for r in ok if r[0] == label]
        print(f"{label:16s} {len(sel):3d} {np.mean([r[2] for r in sel]):6.3f} "
              f"{np.mean([r[3] for r in sel]):7.4f} {np.mean([r[4] for r in sel]):5.2f}")


if __name__ == "__main__":
    main()
