"""Quality benchmark: VQScore and DNSMOS against SNR, PESQ and STOI.

    python bench/quality.py [--model M.keras] [--split test|val] [--items 200]
        [--out runs/quality] [--no-dnsmos] [--plot scatter.png]

Builds (once; reused when present) a noisy set from ../shared/data whose
speech (50 held-out LibriSpeech speakers) and noises were not used to train
the bundled models: `test` uses the noises held back from validation too
(dude_miaowing, pink_noise, running_tap) with RIRs, clipping and low-pass;
`val` is the validation set used to pick checkpoints. Scores every item
with VQScore (the bundled model unless --model) and prints LCC / SRCC
against each label, and DNSMOS OVRL's own correlations for comparison.
"""
import argparse
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "data")


def build(split_name, out_dir, items, with_dnsmos):
    from vqkeras.data.noisy_set import build_noisy_set
    from vqkeras.data.validation_split import default_split
    from vqkeras.evaluation.metrics import eval_extra_available
    from vqkeras.evaluation.set_labels import label_noisy_set

    labels = os.path.join(out_dir, "labels.csv")
    if os.path.exists(labels):
        return labels
    split = default_split(SHARED)
    noises = split["test_noise"] if split_name == "test" else split["val_noise"]
    dnsmos = split["dnsmos_model"] if with_dnsmos and eval_extra_available("onnxruntime") else None
    built = build_noisy_set(split["val_speech"], noises, split["rir"], out_dir, num_items=items,
                            seed=1 if split_name == "test" else 0)
    return label_noisy_set(built, dnsmos_model=dnsmos)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model")
    p.add_argument("--split", choices=["test", "val"], default="test")
    p.add_argument("--items", type=int, default=200)
    p.add_argument("--out")
    p.add_argument("--no-dnsmos", action="store_true")
    p.add_argument("--plot")
    args = p.parse_args()
    if not os.path.isdir(SHARED):
        sys.exit(f"{SHARED} not found: this benchmark needs ../shared/data beside the checkout")
    out = args.out or os.path.join(ROOT, "runs", f"quality_{args.split}")
    labels_csv = build(args.split, out, args.items, not args.no_dnsmos)

    from vqkeras.api import load_model
    from vqkeras.data.noisy_set_loader import load_noisy_set
    from vqkeras.evaluation.correlation import pearson, spearman
    from vqkeras.inference import score_waveforms

    items = load_noisy_set(labels_csv)
    model = load_model(args.model, task="qe")
    waves = [it["waveform"] for it in items]
    order = np.argsort([len(w) for w in waves])
    scores = np.zeros(len(waves))
    for i in range(0, len(order), 16):
        idx = order[i:i + 16]
        scores[idx] = score_waveforms(model, [waves[j] for j in idx])
    col = lambda k: np.array([it.get(k, np.nan) for it in items], dtype=float)  # noqa: E731
    labels = {"SNR (noise items)": col("snr"), "PESQ": col("pesq"), "STOI": col("stoi")}
    predictors = {"VQScore": scores}
    if np.isfinite(col("dnsmos_ovrl")).any():
        predictors["DNSMOS OVRL"] = col("dnsmos_ovrl")
        labels["DNSMOS OVRL"] = col("dnsmos_ovrl")

    def stat(x, y):
        m = np.isfinite(x) & np.isfinite(y)
        return (pearson(x[m], y[m]), spearman(x[m], y[m]), int(m.sum())) if m.sum() > 2 else None

    print(f"{len(items)} items ({args.split} split: held-out speakers"
          f"{', held-out noises' if args.split == 'test' else ''}); model: {args.model or 'bundled default'}")
    print(f"{'':14s}" + "".join(f"{name:>22s}" for name in labels))
    for pname, pvals in predictors.items():
        cells = []
        for lname, lvals in labels.items():
            s = stat(pvals, lvals) if pname != lname else None
            cells.append(f"{'-':>22s}" if s is None else f"{'LCC %.3f SRCC %.3f' % s[:2]:>22s}")
        print(f"{pname:14s}" + "".join(cells))
    cond = np.array([it.get("condition", "") for it in items])
    print("\nmean VQScore per condition:")
    for c in sorted(set(cond)):
        m = cond == c
        print(f"  {c:14s} n={m.sum():3d}  VQScore {scores[m].mean():.3f}  PESQ {np.nanmean(col('pesq')[m]):.2f}")
    if args.plot:
        from vqkeras.evaluation.correlation import fit_monotonic_cubic
        from vqkeras.evaluation.plots import scatter_with_mapping
        m = np.isfinite(col("pesq"))
        scatter_with_mapping(args.plot, scores[m], col("pesq")[m], fit_monotonic_cubic(scores[m], col("pesq")[m]),
                             groups=list(cond[m]), label_name="PESQ",
                             title="VQScore vs PESQ (held-out speakers and noises)")
        print(f"\nscatter plot: {args.plot}")


if __name__ == "__main__":
    main()
