"""Enhancement benchmark: our enhancer beside textbook noise suppression.

    nice -n 10 python bench/enhancement_quality.py [MODEL.keras ...]
        [--noises val|test] [--items 20] [--sets noise reverb narrowband]
        [--resynthesis decoded gain logmmse_prior] [--no-dnsmos] [--out DIR]
    nice -n 10 python bench/enhancement_quality.py --tune [--items 20]
        [--logmmse '{"prior_weight": 0.75}'] [--grid '{"noise_bias": [3, 4]}']

Evaluation sets (built once under runs/enhancement_{val,test}/, from the
held-out LibriSpeech speakers of `default_split`, which never train a model;
`--noises val` mixes the validation noises, `--noises test` the held-out
test noises):

- `noise`: additive noise at -5, 0, 5, 10 and 20 dB, `--items` per SNR;
- `reverb`: a room impulse response, then noise at 0, 5 or 10 dB
  (`--items` in all);
- `narrowband`: 5 dB noisy speech at 8 kHz, as 8 kHz recordings are
  (`--items`). Every system gets the 8 kHz file: the DSP baselines work at
  8 kHz; our enhancer resamples it to 16 kHz as `vqkeras enhance` does and its
  16 kHz output is brought back to 8 kHz. Scored with narrowband PESQ
  (P.862, 8 kHz).

Systems: the noisy input, decision-directed log-MMSE and Wiener filters with
a minimum-statistics noise tracker (`vqkeras.evaluation.dsp_baselines`, the
papers' textbook settings, nothing tuned), the `noisereduce` package with its
defaults, the trained peers RNNoise (`bench/peer_rnnoise.py`) and
DeepFilterNet3 (`bench/peer_deepfilternet.py`; both 48 kHz tools, run
through resampling with their delay removed, from the `[peers]` extra), and
each model (bundled default without arguments) in each `--resynthesis` mode.
`--baselines` picks the baselines and peers:

    --baselines log-MMSE Wiener noisereduce RNNoise DeepFilterNet3

Metrics: PESQ (wide band; narrow band for the 8 kHz set), STOI, SI-SDR and
DNSMOS OVRL, averaged per condition. Each system's speed (seconds of audio
enhanced per second of wall time, in this one process, per set and over all
sets) is printed at the end; run with OMP_NUM_THREADS=1 for single-thread
numbers of the ONNX/C peers.

`--tune` searches the `logmmse_prior` settings of the (first) model on the
VALIDATION noises only (SNRs 0, 5, 10, 20 dB) by coordinate ascent of mean
PESQ + mean STOI, and prints the best settings; use them with
`--logmmse '{...}'` or `bench/bundle_model.py ... logmmse='{...}'`.
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "data")
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "bench"))

NOISE_SNRS = (-5, 0, 5, 10, 20)
REVERB_SNRS = (0, 5, 10)
NARROWBAND_SNR = 5
NARROW_RATE = 8000
MAX_SECONDS = 5.0


def log(message):
    print(message, file=sys.stderr, flush=True)


# ------------------------------------------------------------------ sets
def build_sets(noises, items, names):
    """{set name: (labels csv, rate)}; builds what is missing."""
    from vqkeras.data.noisy_set import build_noisy_set
    from vqkeras.data.validation_split import default_split

    out = os.path.join(ROOT, "runs", f"enhancement_{noises}")
    split = default_split(SHARED)
    noise_files = split[f"{noises}_noise"]
    seed = {"val": 20, "test": 30}[noises]
    plans = {
        "noise": dict(snrs=NOISE_SNRS, num_items=items * len(NOISE_SNRS),
                      degradations={"noise": 1.0}, rir_files=[], seed=seed),
        "reverb": dict(snrs=REVERB_SNRS, num_items=items, rir_files=split["rir"],
                       degradations={"reverb_noise": 1.0}, seed=seed + 1),
        "narrowband": dict(snrs=(NARROWBAND_SNR,), num_items=items, rir_files=[],
                           degradations={"noise": 1.0}, seed=seed + 2),
    }
    sets = {}
    for name in names:
        folder = os.path.join(out, f"{name}_{items}")
        labels = os.path.join(folder, "labels.csv")
        if not os.path.exists(labels):
            plan = plans[name]
            labels = build_noisy_set(split["val_speech"], noise_files, plan.pop("rir_files"),
                                     folder, max_seconds=MAX_SECONDS, quiet=True, **plan)
        sets[name] = (labels, NARROW_RATE if name == "narrowband" else 16000)
    return sets


def load_set(labels, rate):
    """(items, noisy, clean) at `rate` (narrowband items are brought down to
    8 kHz, both noisy and clean)."""
    from vqkeras.data.noisy_set_loader import load_noisy_set
    from vqkeras.resample import resample_waveform

    items = load_noisy_set(labels, with_clean=True)
    noisy = [it["waveform"] for it in items]
    clean = [it["clean"] for it in items]
    if rate != 16000:
        noisy = [resample_waveform(w, 16000, rate) for w in noisy]
        clean = [resample_waveform(w, 16000, rate) for w in clean]
    return items, noisy, clean


# --------------------------------------------------------------- systems
PEERS = {"RNNoise": ("peer_rnnoise", "rnnoise_enhance"),
         "DeepFilterNet3": ("peer_deepfilternet", "deepfilternet_enhance")}


def baseline_systems(names):
    """{name: enhance(waveform, rate)} for the DSP baselines and the peers
    in `names` (a peer's module is imported only when asked for)."""
    import importlib

    from vqkeras.evaluation.dsp_baselines import BASELINES

    systems = {}
    for name in names:
        if name in PEERS:
            module, function = PEERS[name]
            module = importlib.import_module(module)
            try:
                module.require()
            except ImportError as err:
                sys.exit(str(err))
            systems[name] = getattr(module, function)
        else:
            systems[name] = BASELINES[name]
    return systems


def run_model(model, waves, rate):
    """Our enhancer on waveforms at `rate`, as `vqkeras enhance` runs it:
    resampled to 16 kHz, enhanced, band-limited to the input's band, and
    (for this benchmark only) brought back to `rate` for scoring."""
    from vqkeras.enhancing import enhance_many
    from vqkeras.resample import resample_waveform

    if rate == 16000:
        return enhance_many(model, waves)
    up = [resample_waveform(w, rate, 16000) for w in waves]
    out = enhance_many(model, up, input_rates=[rate] * len(up))
    return [resample_waveform(e, 16000, rate)[:len(w)] for e, w in zip(out, waves)]


# --------------------------------------------------------------- metrics
def pesq_nb(clean, degraded, rate=NARROW_RATE):
    import pesq
    try:
        return float(pesq.pesq(rate, np.asarray(clean, np.float64),
                               np.asarray(degraded, np.float64), "nb"))
    except Exception:
        return math.nan


def score(clean, waves, rate, dnsmos=None):
    """{metric: per-item array}."""
    from vqkeras.evaluation.metrics import pesq_wb, si_sdr, stoi

    pesq_fn = pesq_nb if rate == NARROW_RATE else pesq_wb
    result = {
        "pesq": np.array([pesq_fn(c, w) for c, w in zip(clean, waves)]),
        "stoi": np.array([stoi(c, w, rate) for c, w in zip(clean, waves)]),
        "si_sdr": np.array([si_sdr(c, w) for c, w in zip(clean, waves)]),
    }
    if dnsmos is not None:
        result["dnsmos"] = np.array([dnsmos.score(w, rate)["ovrl"] for w in waves])
    return result


def print_table(title, groups, table, metrics):
    """One row per group (label, item mask), one column per system."""
    names = list(table)
    width = max(12, max(len(n) for n in names) + 1)
    print(f"\n{title}")
    for metric in metrics:
        print(f"  {metric}")
        print(f"  {'':>10s}" + "".join(f"{n:>{width}s}" for n in names))
        for label, mask in groups:
            digits = 3 if metric == "stoi" else 2
            cells = "".join(f"{np.nanmean(table[n][metric][mask]):>{width}.{digits}f}"
                            for n in names)
            print(f"  {label:>10s}{cells}")
    sys.stdout.flush()


def print_wins(groups, table, ours, baselines):
    """Per item: on how many items `ours` has the higher PESQ / STOI than
    each baseline."""
    for name in baselines:
        cells = []
        for label, mask in groups:
            counts = [int(np.sum(table[ours][m][mask] > table[name][m][mask]))
                      for m in ("pesq", "stoi")]
            cells.append(f"{label}: {counts[0]}/{counts[1]} of {int(mask.sum())}")
        print(f"  items where {ours} beats {name} (PESQ/STOI): " + ", ".join(cells))
    sys.stdout.flush()


# ------------------------------------------------------------------ main
def print_speed(speed):
    """Seconds of audio per second of wall time, per set and in all."""
    sets = list(speed)
    names = list(dict.fromkeys(n for per_set in speed.values() for n in per_set))
    width = max(12, max(len(n) for n in names) + 1)
    print("\nSpeed (x real time, this process, enhancement only)")
    print(f"  {'':>{width}s}" + "".join(f"{s:>12s}" for s in sets) + f"{'all':>12s}")
    for name in names:
        cells = [speed[s].get(name) for s in sets]
        audio = sum(c[0] for c in cells if c)
        wall = sum(c[1] for c in cells if c)
        row = "".join(f"{c[0] / c[1]:>11.1f}x" if c else f"{'':>12s}" for c in cells)
        print(f"  {name:>{width}s}{row}{audio / wall:>11.1f}x")
    sys.stdout.flush()


def evaluate(args, models):
    systems = baseline_systems(args.baselines)
    dnsmos = None
    if not args.no_dnsmos:
        from vqkeras.data.validation_split import default_split
        from vqkeras.evaluation.dnsmos import DNSMOS
        path = default_split(SHARED)["dnsmos_model"]
        dnsmos = DNSMOS(path, num_threads=1) if path else None
    sets = build_sets(args.noises, args.items, args.sets)
    summary, speed = {}, {}
    for set_name, (labels, rate) in sets.items():
        items, noisy, clean = load_set(labels, rate)
        audio_s = sum(len(w) for w in noisy) / rate
        outputs, speed[set_name] = {"noisy": noisy}, {}
        for name, enhance in systems.items():
            start = time.time()
            outputs[name] = [enhance(w, rate) for w in noisy]
            speed[set_name][name] = (audio_s, time.time() - start)
            log(f"{set_name}: {name} in {time.time() - start:.1f} s")
        for label, model in models:
            for mode in args.resynthesis:
                start = time.time()
                outputs[f"{label} {mode}"] = run_model(model.with_resynthesis(mode), noisy, rate)
                speed[set_name][f"{label} {mode}"] = (audio_s, time.time() - start)
                log(f"{set_name}: {label} {mode} in {time.time() - start:.1f} s")
        table = {}
        for name, waves in outputs.items():
            start = time.time()
            table[name] = score(clean, waves, rate, dnsmos)
            log(f"{set_name}: scored {name} in {time.time() - start:.1f} s")
        snr = np.array([it["snr"] for it in items])
        if set_name == "noise":
            groups = [(f"{v:g} dB", snr == v) for v in sorted(set(snr))]
        else:
            groups = [("all", np.ones(len(items), bool))]
        noises = "validation" if args.noises == "val" else "held-out test"
        title = {"noise": f"Additive {noises} noise, held-out speakers, {args.items} items per SNR",
                 "reverb": f"Reverberation + {noises} noise (0/5/10 dB), {args.items} items",
                 "narrowband": f"Narrowband 8 kHz, {noises} noise at {NARROWBAND_SNR} dB, "
                               f"{args.items} items (PESQ is NB-PESQ)"}[set_name]
        metrics = [m for m in ("pesq", "stoi", "si_sdr", "dnsmos") if m in table["noisy"]]
        print_table(title, groups, table, metrics)
        print_wins(groups, table, list(outputs)[-1], args.baselines)
        summary[set_name] = {name: {label: {m: float(np.nanmean(t[m][mask])) for m in metrics}
                                    for label, mask in groups}
                             for name, t in table.items()}
    print_speed(speed)
    summary["speed_x_real_time"] = {s: {n: a / w for n, (a, w) in per_set.items()}
                                    for s, per_set in speed.items()}
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(summary, handle, indent=1)


def tune(args, model):
    """Coordinate ascent over the logmmse_prior settings on validation
    noises: the model runs once per item; only the gain is recomputed."""
    from keras import ops

    from vqkeras.evaluation.metrics import pesq_wb, stoi
    from vqkeras.inference import run_model as run_outputs
    from vqkeras.layers.log_mmse_gain import PriorLogMMSEGain
    from vqkeras.layers.spectral_resynthesis import SpectralResynthesis
    from vqkeras.models.vq_enhancer_model import LOGMMSE_DEFAULTS

    labels, _ = build_sets("val", args.items, ["noise"])["noise"]
    items, noisy, clean = load_set(labels, 16000)
    keep = [i for i, it in enumerate(items) if it["snr"] in (0, 5, 10, 20)]
    noisy, clean = [noisy[i] for i in keep], [clean[i] for i in keep]
    cached = []
    for w in noisy:
        out = run_outputs(model, [w], keys=("features", "decoded"))[0]
        expm1 = np.expm1 if model.input_transform == "log1p" else (lambda x: x)
        cached.append((expm1(out["features"])[None], expm1(out["decoded"])[None]))
    synth = SpectralResynthesis(model.fft_length, model.hop_length, scale_input=True)

    def objective(settings):
        layer = PriorLogMMSEGain(**settings)
        pesq_values, stoi_values = [], []
        for (y, d), w, c in zip(cached, noisy, clean):
            mask = np.ones(y.shape[:2], np.float32)
            gain = layer(y, d, mask)
            e = ops.convert_to_numpy(synth(gain, w[None], np.array([len(w)], np.int32)))[0]
            pesq_values.append(pesq_wb(c, e))
            stoi_values.append(stoi(c, e))
        return float(np.nanmean(pesq_values)), float(np.nanmean(stoi_values))

    grid = {
        "prior_weight": [0.0, 0.25, 0.5, 0.75, 1.0],
        "noise_bias": [1.5, 2.0, 2.5, 3.0],
        "gain_floor_db": [-10.0, -15.0, -20.0],
        "noise_window_frames": [101, 151, 251],
        "smoothing_bins": [1, 3, 5],
        "dd_alpha": [0.9, 0.95, 0.98],
        "min_prior_snr_db": [-25.0, -15.0],
    }
    if args.grid:
        grid = json.loads(args.grid)
    best = dict(LOGMMSE_DEFAULTS, **json.loads(args.logmmse or "{}"))
    seen = {}

    def value(settings):
        key = json.dumps(settings, sort_keys=True)
        if key not in seen:
            p, s = objective(settings)
            seen[key] = (p + s, p, s)
            log(f"tune: {settings} -> PESQ {p:.3f} STOI {s:.3f}")
        return seen[key]

    best_value = value(best)
    for _ in range(args.tune_rounds):
        improved = False
        for key, choices in grid.items():
            for choice in choices:
                trial = dict(best, **{key: choice})
                v = value(trial)
                if v[0] > best_value[0] + 1e-4:
                    best, best_value, improved = trial, v, True
        if not improved:
            break
    print(f"best on validation noises (0/5/10/20 dB, {len(noisy)} items): "
          f"PESQ {best_value[1]:.3f} STOI {best_value[2]:.3f}")
    print(json.dumps(best))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="*", help="LABEL=MODEL.keras or MODEL.keras "
                                             "(default: the bundled enhancer)")
    p.add_argument("--items", type=int, default=20, help="items per SNR / per set")
    p.add_argument("--noises", choices=["val", "test"], default="val")
    p.add_argument("--sets", nargs="+", choices=["noise", "reverb", "narrowband"],
                   default=["noise", "reverb", "narrowband"])
    p.add_argument("--resynthesis", nargs="+", choices=["decoded", "gain", "logmmse_prior"],
                   default=["decoded", "gain", "logmmse_prior"])
    p.add_argument("--baselines", nargs="*", default=["log-MMSE", "Wiener", "noisereduce"],
                   choices=["log-MMSE", "Wiener", "noisereduce", *PEERS],
                   help="DSP baselines and peers (RNNoise, DeepFilterNet3: the [peers] extra)")
    p.add_argument("--logmmse", help="JSON dict of logmmse_prior settings for the models")
    p.add_argument("--no-dnsmos", action="store_true")
    p.add_argument("--json", help="also write the averages as JSON")
    p.add_argument("--tune", action="store_true")
    p.add_argument("--tune-rounds", type=int, default=2)
    p.add_argument("--grid", help="JSON {setting: [choices]} searched by --tune "
                                  "(default: a built-in grid)")
    args = p.parse_args()
    if not os.path.isdir(SHARED):
        sys.exit(f"{SHARED} not found: this benchmark needs ../shared/data beside the checkout")
    from vqkeras.api import load_model

    models = []
    for spec in args.models or ["default"]:
        label, _, path = spec.rpartition("=") if "=" in spec else ("", "", spec)
        path = None if path == "default" else path
        model = load_model(path, task="se")
        if args.logmmse:
            config = model.get_config()
            config["logmmse"] = {**config.get("logmmse", {}), **json.loads(args.logmmse)}
            fresh = model.__class__.from_config(config)
            fresh.set_weights(model.get_weights())
            model = fresh
        models.append((label or (os.path.basename(path) if path else "ours"), model))
    if args.tune:
        tune(args, models[0][1])
    else:
        evaluate(args, models)


if __name__ == "__main__":
    main()
