"""Scores training checkpoints on a labelled validation set and names the
best: how checkpoints trained elsewhere (e.g. on a lent GPU, where the
validation audio does not travel) are picked.

    python bench/pick_checkpoint.py CKPT.keras [CKPT.keras ...]
        [--labels runs/valset/labels.csv] [--label pesq]

Prints LCC / SRCC of each checkpoint's VQScore with the label, best last.
"""
import argparse
import glob
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("checkpoints", nargs="+")
    p.add_argument("--labels", default="runs/valset/labels.csv")
    p.add_argument("--label", default="pesq")
    args = p.parse_args()

    import vqkeras
    from vqkeras.training.validation_callback import VQScoreValidation

    paths = sorted({q for c in args.checkpoints for q in (glob.glob(c) or [c])})
    validation = VQScoreValidation(args.labels, label=args.label)
    rows = []
    for path in paths:
        metrics = validation.evaluate(vqkeras.load_model(path))
        rows.append((metrics["val_lcc"], metrics["val_srcc"], path))
        print(f"{path}: LCC {metrics['val_lcc']:.3f}  SRCC {metrics['val_srcc']:.3f}", flush=True)
    rows.sort()
    print(f"best: {rows[-1][2]} (LCC {rows[-1][0]:.3f}, SRCC {rows[-1][1]:.3f})")


if __name__ == "__main__":
    main()
