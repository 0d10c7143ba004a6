"""Writes a checkpoint as a bundled default model: weights and EMA state
only (no optimizer state), as `vqkeras/weights/<name>.keras`. Optional
KEY=VALUE arguments override inference-only config entries (for example
`resynthesis=gain` for an enhancer); values are read as YAML (a scalar, or
a flow mapping for `logmmse`, which is merged into the model's settings).

    python bench/bundle_model.py runs/vqscore_cpu/best.keras vqscore-default
    python bench/bundle_model.py runs/enhancer_cpu_stage2/student_final.keras \\
        enhancer-default resynthesis=gain
    python bench/bundle_model.py vqkeras/weights/enhancer-default.keras \
        enhancer-default resynthesis=logmmse_prior "logmmse={noise_bias: 3.0}"
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Config entries that change how a trained model is used, never its weights.
OVERRIDABLE = ("resynthesis", "gain_bins", "gain_exponent", "logmmse",
               # training-only options of a ranking-trained VQScore model
               "ranking_weight", "ranking_copies", "ranking_ceiling")


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    src, name = sys.argv[1], sys.argv[2]
    import yaml

    from vqkeras.api import load_model
    from vqkeras.training.callbacks import atomic_save

    overrides = {}
    for item in sys.argv[3:]:
        key, sep, value = item.partition("=")
        if not sep or key not in OVERRIDABLE:
            sys.exit(f"bad override {item!r}: expected KEY=VALUE with KEY in {OVERRIDABLE}")
        overrides[key] = yaml.safe_load(value)
    model = load_model(src, task=None)
    config = model.get_config()
    if "logmmse" in overrides:
        overrides["logmmse"] = {**(config.get("logmmse") or {}), **overrides["logmmse"]}
    config.update(overrides)
    fresh = model.__class__.from_config(config)
    fresh.set_weights(model.get_weights())
    out = os.path.join(ROOT, "vqkeras", "weights", f"{name}.keras")
    atomic_save(fresh, out)
    print(f"{out}: {os.path.getsize(out) / 1e6:.1f} MB from {src}"
          + (f" with {overrides}" if overrides else ""))
    if getattr(fresh, "task", None) == "qe" and fresh.calibration is None:
        print("it carries no calibration: calibrate it on the held-out speakers with\n"
              f"    python bench/calibration_quality.py --model {out} --write {out}")


if __name__ == "__main__":
    main()
