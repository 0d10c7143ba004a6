"""Enhancement benchmark: PESQ and STOI of noisy vs enhanced speech at
0, 5 and 10 dB SNR, for one or more enhancement models.

    python bench/enhancement_quality.py [MODEL.keras ...] [--items 60]
        [--noises val|test] [--out DIR] [--resynthesis decoded gain]

Builds (once) an additive-noise set from ../shared/data: held-out
LibriSpeech speakers (never used for training) mixed with the validation
noises at 0, 5 and 10 dB (`--noises test`: the noises held back from
validation, in runs/enhancement_test). With no model given, the bundled default
enhancer is used. Prints one row per SNR: noisy PESQ/STOI, then each
model's enhanced PESQ/STOI, once per --resynthesis mode (default: each
model's own setting).
"""
import argparse
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "data")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="*")
    p.add_argument("--items", type=int, default=60)
    p.add_argument("--noises", choices=["val", "test"], default="val")
    p.add_argument("--out")
    p.add_argument("--resynthesis", nargs="+", choices=["decoded", "gain"], default=[None])
    args = p.parse_args()
    if not os.path.isdir(SHARED):
        sys.exit(f"{SHARED} not found: this benchmark needs ../shared/data beside the checkout")
    from vqkeras.api import load_model
    from vqkeras.data.noisy_set import build_noisy_set, default_split, load_noisy_set
    from vqkeras.enhancing import enhance_many
    from vqkeras.evaluation.metrics import pesq_wb, stoi

    out = args.out or os.path.join(
        ROOT, "runs", "enhancement_set" if args.noises == "val" else "enhancement_test")
    labels = os.path.join(out, "labels.csv")
    if not os.path.exists(labels):
        split = default_split(SHARED)
        labels = build_noisy_set(split["val_speech"], split[f"{args.noises}_noise"], [], out,
                                 snrs=(0, 5, 10), num_items=args.items,
                                 seed=2 if args.noises == "val" else 3,
                                 degradations={"noise": 1.0})
    items = load_noisy_set(labels, with_clean=True)
    snr = np.array([it["snr"] for it in items])
    noisy = [it["waveform"] for it in items]
    clean = [it["clean"] for it in items]
    columns = {"noisy": noisy}
    for path in args.models or [None]:
        model = load_model(path, task="se")
        for mode in args.resynthesis:
            name = os.path.basename(path) if path else "default"
            if mode:
                name += f" [{mode}]"
            columns[name] = enhance_many(model.with_resynthesis(mode), noisy)
    table = {}
    for name, waves in columns.items():
        table[name] = (np.array([pesq_wb(c, w) for c, w in zip(clean, waves)]),
                       np.array([stoi(c, w) for c, w in zip(clean, waves)]))
    header = f"{'SNR':>5s}" + "".join(f"{name[-26:]:>28s}" for name in columns)
    print(f"{len(items)} items, held-out speakers, "
          f"{'validation' if args.noises == 'val' else 'held-out test'} noises")
    print(header)
    print(f"{'':5s}" + "".join(f"{'PESQ   STOI':>28s}" for _ in columns))
    for value in sorted(set(snr)):
        m = snr == value
        cells = "".join(f"{np.nanmean(t[0][m]):>21.2f}{np.nanmean(t[1][m]):>7.3f}" for t in table.values())
        print(f"{value:>4.0f}dB{cells}")


if __name__ == "__main__":
    main()
