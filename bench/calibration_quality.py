"""How well a model's calibration reads on speech and damage it never saw.

    python bench/calibration_quality.py [--model M.keras] [--write OUT.keras]
        [--timing-files 200]

The 50 held-out LibriSpeech speakers of `vqkeras.data.validation_split.
default_split` (never trained on) are split in two with seed 0
(`calibration_halves`): the first 25 make the calibration (`--write`:
calibrate `--model` on them with `vqkeras.calibration_set`, synthetic
noises only, and save it), the other 25 are the test speakers. On the
test speakers it measures, with the model's stored calibration:

- clean files: median `clean_percentile` (target: between 20 and 80);
- each recorded test noise (`dude_miaowing`, `pink_noise`, `running_tap`,
  never used by the calibration) at 0, 5, 10, 15 and 20 dB: SRCC of
  `equivalent_snr_db` with the true SNR (target >= 0.5) and median
  absolute error (target <= 6 dB), per noise and together;
- reverberation (the recorded RIRs), hard clipping (10% of samples) and
  low-pass at 4 kHz: median `equivalent_snr_db` and `clean_percentile`
  (no target: non-additive damage read on the additive-noise scale);
- the wall time of scoring the test items with and without the
  calibration (the same model, its calibration removed).
"""
import argparse
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "data")
sys.path.insert(0, ROOT)

TEST_SNRS = (0, 5, 10, 15, 20)
MAX_SECONDS = 8.0


def calibration_halves(val_speech, seed=0):
    """(calibration files, test files): the held-out speakers split in two."""
    order = np.random.default_rng(seed).permutation(len(val_speech))
    half = len(val_speech) // 2
    return (sorted(val_speech[i] for i in order[:half]),
            sorted(val_speech[i] for i in order[half:]))


def test_items(files, split):
    """(waveform, group, true snr or None) for the test speakers."""
    from vqkeras.audio import read_audio
    from vqkeras.data.degradations import add_at_snr, hard_clip, low_pass
    from vqkeras.data.levels import set_level
    from vqkeras.data.recorded_degradations import noise_segment, reverberate

    rng = np.random.default_rng(21)
    noises = {os.path.splitext(os.path.basename(p))[0]: read_audio(p)[0].astype(np.float64)
              for p in split["test_noise"]}
    rirs = [read_audio(p)[0].astype(np.float64) for p in split["rir"]]
    items = []
    for u, path in enumerate(files):
        wave = read_audio(path)[0].astype(np.float64)
        items.append((wave.astype(np.float32), "clean (whole file)", None))
        clean = set_level(wave[:int(MAX_SECONDS * 16000)], -26.0)
        for name, noise in noises.items():
            for snr in TEST_SNRS:
                x = add_at_snr(clean, noise_segment(noise, clean.size, rng), snr)
                items.append((x, f"noise {name}", float(snr)))
        items.append((reverberate(clean, rirs[u % len(rirs)]), "reverberation", None))
        items.append((hard_clip(clean, 0.1), "clipping 10%", None))
        items.append((low_pass(clean, 4000), "low-pass 4 kHz", None))
    out = []
    for x, group, snr in items:
        x = np.asarray(x, np.float64)
        peak = np.max(np.abs(x))
        out.append(((x / peak if peak > 1 else x).astype(np.float32), group, snr))
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", help="a .keras VQScore model (default: the bundled one)")
    p.add_argument("--write", metavar="OUT.keras",
                   help="calibrate --model on the calibration speakers and save it here first")
    p.add_argument("--timing-files", type=int, default=200,
                   help="test items scored twice for the timing (default 200)")
    args = p.parse_args()
    if not os.path.isdir(SHARED):
        sys.exit(f"{SHARED} not found: this benchmark needs ../shared/data beside the checkout")
    import vqkeras
    from vqkeras.audio import read_audio
    from vqkeras.calibration import clean_percentile, equivalent_snr, snr_range
    from vqkeras.data.validation_split import default_split
    from vqkeras.evaluation.correlation import spearman

    split = default_split(SHARED)
    cal_files, test_files = calibration_halves(split["val_speech"])
    model = vqkeras.load_model(args.model)
    if args.write:
        from vqkeras.calibration_set import calibrate_waveforms
        from vqkeras.training.callbacks import atomic_save

        waves = [read_audio(f)[0] for f in cal_files]
        model.calibration = calibrate_waveforms(
            model, waves, made_from=f"{len(waves)} held-out LibriSpeech train-clean-100 "
            "speakers (one utterance each, default_split validation speakers, seed-0 half); "
            "noisy copies with white, pink, brown and babble noise at -5..40 dB")
        atomic_save(model, args.write)
        print(f"wrote {args.write}")
    cal = model.calibration
    if cal is None:
        sys.exit("the model carries no calibration; pass --write OUT.keras to make one")
    lo, hi = snr_range(cal)
    items = test_items(test_files, split)
    scores = np.asarray(vqkeras.score([x for x, _, _ in items], model=model), np.float64)
    groups = np.array([g for _, g, _ in items])
    true_snr = np.array([np.nan if s is None else s for _, _, s in items])
    pct = clean_percentile(cal, scores)
    esnr = equivalent_snr(cal, scores)
    print(f"{len(test_files)} test speakers (calibration: {len(cal_files)} other speakers); "
          f"curve {lo:g}..{hi:g} dB; {cal.get('made_from', '')}")
    print(f"{'group':26s} {'n':>4s} {'median score':>12s} {'median pct':>10s} "
          f"{'median eSNR':>11s} {'SRCC':>6s} {'MedAE dB':>8s} {'at ends':>8s}")
    noise_all = np.isfinite(true_snr)
    for group in list(dict.fromkeys(groups)) + ["all noises 0-20 dB"]:
        m = noise_all if group.startswith("all") else groups == group
        line = (f"{group:26s} {m.sum():4d} {np.median(scores[m]):12.4f} {np.median(pct[m]):10.1f} "
                f"{np.median(esnr[m]):11.1f}")
        if np.all(np.isfinite(true_snr[m])):
            line += (f" {spearman(esnr[m], true_snr[m]):6.3f} "
                     f"{np.median(np.abs(esnr[m] - true_snr[m])):8.1f}")
        else:
            line += f" {'':6s} {'':8s}"
        ends = np.mean((esnr[m] <= lo) | (esnr[m] >= hi))
        print(line + f" {100 * ends:7.0f}%")
        if group.startswith("noise"):
            per = "   per SNR: " + ", ".join(
                f"{s} dB -> {np.median(esnr[m & (true_snr == s)]):.1f}" for s in TEST_SNRS)
            print(per)
    clean_med = np.median(pct[groups == "clean (whole file)"])
    srcc = spearman(esnr[noise_all], true_snr[noise_all])
    medae = np.median(np.abs(esnr[noise_all] - true_snr[noise_all]))
    print(f"targets: clean median pct {clean_med:.1f} in [20, 80]: {'yes' if 20 <= clean_med <= 80 else 'NO'}; "
          f"SRCC {srcc:.3f} >= 0.5: {'yes' if srcc >= 0.5 else 'NO'}; "
          f"MedAE {medae:.1f} <= 6 dB: {'yes' if medae <= 6 else 'NO'}")
    # timing: the same model through score_files, with and without its calibration
    from vqkeras.audio import write_audio
    from vqkeras.scoring import score_files
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for k, (x, _, _) in enumerate(items[:args.timing_files]):
            paths.append(os.path.join(tmp, f"{k:04d}.wav"))
            write_audio(paths[-1], x)
        list(score_files(model, paths))  # warm up: every batch shape compiled once
        times = {}
        for label in ("without calibration", "with calibration", "without calibration again",
                      "with calibration again"):
            model.calibration = cal if "with " in label else None
            start = time.perf_counter()
            rows = list(score_files(model, paths))
            times[label] = time.perf_counter() - start
        model.calibration = cal
        start = time.perf_counter()
        for _ in range(100):
            for r in rows:
                clean_percentile(cal, [r["vqscore"]]), equivalent_snr(cal, [r["vqscore"]])
        per_row = (time.perf_counter() - start) / (100 * len(rows))
    print(f"timing on {len(paths)} files: " + ", ".join(f"{k} {v:.2f} s" for k, v in times.items())
          + f"; the two lookups alone: {per_row * 1e6:.1f} us per file")


if __name__ == "__main__":
    main()
