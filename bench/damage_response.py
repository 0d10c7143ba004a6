"""How much each kind of damage lowers a model's VQScore, on the same utterances.

    python bench/damage_response.py [--model M.keras ...] [--split val|test]
        [--utterances 30] [--out runs/damage] [--no-dnsmos]

Takes `--utterances` held-out LibriSpeech utterances (the speakers of
`vqkeras.data.validation_split.default_split`, never trained on), each at most 6 s at
-26 dBFS, and makes from every one a clean item and one item per kind:
noise at -5, 0, 5, 10 and 20 dB (the split's recorded noises: `val` the
validation noises, `test` the held-out test noises), reverberation (the
recorded RIRs), reverberation + noise (0, 5 or 10 dB), hard clipping (10% of
samples), low-pass at 4 kHz and 6-bit quantisation. The items and their
labels (wide-band PESQ against the clean item, DNSMOS OVRL) are written once
to `--out/<split>/` and reused.

For each model (the bundled default when no --model) it prints, per kind, the
mean score drop from the same utterance's clean score (negative = below
clean), how many utterances scored below clean, the spread (std) of the clean
scores, whether the mean falls monotonically with SNR, and the LCC / SRCC of
VQScore with PESQ over every item, beside DNSMOS OVRL's on the same items.
"""
import argparse
import csv
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "data")
sys.path.insert(0, ROOT)

SNRS = (-5, 0, 5, 10, 20)
KINDS = tuple(f"noise_{s}dB" for s in SNRS) + ("reverb", "reverb_noise", "clip", "lowpass_4k",
                                                "quantize_6bit")
MAX_SECONDS = 6.0


def build(split_name, utterances, out_dir, with_dnsmos):
    """Writes (once) the items and labels; returns the rows of labels.csv."""
    from vqkeras.audio import SAMPLE_RATE, read_audio, write_audio
    from vqkeras.data.degradations import add_at_snr, hard_clip, low_pass, quantize
    from vqkeras.data.levels import peak_limit_gain, set_level
    from vqkeras.data.noisy_set import PEAK_LIMIT, SPEECH_LEVEL_DBFS
    from vqkeras.data.recorded_degradations import noise_segment, reverberate
    from vqkeras.data.validation_split import default_split

    labels = os.path.join(out_dir, "labels.csv")
    if os.path.exists(labels):
        with open(labels, newline="") as f:
            return list(csv.DictReader(f))
    from vqkeras.evaluation.metrics import pesq_wb

    split = default_split(SHARED)
    noises = split["test_noise"] if split_name == "test" else split["val_noise"]
    rng = np.random.default_rng(11 if split_name == "test" else 10)
    speech = [split["val_speech"][i] for i in rng.permutation(len(split["val_speech"]))[:utterances]]
    dnsmos = None
    if with_dnsmos and split["dnsmos_model"]:
        from vqkeras.evaluation.dnsmos import DNSMOS
        dnsmos = DNSMOS(split["dnsmos_model"], num_threads=1)
    rirs = [read_audio(p)[0].astype(np.float64) for p in split["rir"]]
    noise_audio = [read_audio(p)[0].astype(np.float64) for p in noises]
    os.makedirs(os.path.join(out_dir, "audio"), exist_ok=True)
    rows = []
    max_len = int(MAX_SECONDS * SAMPLE_RATE)
    for u, path in enumerate(speech):
        wave = read_audio(path)[0].astype(np.float64)
        start = int(rng.integers(0, max(wave.size - max_len, 0) + 1))
        clean = wave[start:start + max_len]
        clean = set_level(clean, SPEECH_LEVEL_DBFS)
        noise = noise_audio[u % len(noise_audio)]
        rir = rirs[u % len(rirs)]
        items = {"clean": clean}
        for snr in SNRS:
            items[f"noise_{snr}dB"] = add_at_snr(clean, noise_segment(noise, clean.size, rng), snr)
        items["reverb"] = reverberate(clean, rir)
        items["reverb_noise"] = add_at_snr(items["reverb"], noise_segment(noise, clean.size, rng),
                                           (0, 5, 10)[u % 3])
        items["clip"] = hard_clip(clean, 0.1)
        items["lowpass_4k"] = low_pass(clean, 4000)
        items["quantize_6bit"] = quantize(clean, 6)
        scale = peak_limit_gain(items.values(), PEAK_LIMIT)
        ref_path = os.path.join(out_dir, "audio", f"{u:03d}_clean.wav")
        write_audio(ref_path, clean * scale)
        reference = read_audio(ref_path)[0]
        for kind, x in items.items():
            item_path = os.path.join(out_dir, "audio", f"{u:03d}_{kind}.wav")
            if kind != "clean":
                write_audio(item_path, x * scale)
            written = read_audio(item_path)[0]
            row = {"utterance": u, "kind": kind, "path": os.path.relpath(item_path, out_dir),
                   "source": os.path.basename(path),
                   "pesq": f"{pesq_wb(reference, written):.4f}",
                   "dnsmos_ovrl": f"{dnsmos.score(written)['ovrl']:.4f}" if dnsmos else ""}
            rows.append(row)
        print(f"damage set ({split_name}): {u + 1}/{len(speech)} utterances", file=sys.stderr,
              flush=True)
    with open(labels + ".part", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    os.replace(labels + ".part", labels)
    return rows


def score_items(model_path, rows, out_dir):
    from vqkeras.api import load_model
    from vqkeras.audio import read_audio
    from vqkeras.inference import score_waveforms

    model = load_model(model_path, task="qe")
    waves = [read_audio(os.path.join(out_dir, r["path"]))[0] for r in rows]
    scores = np.zeros(len(waves))
    order = np.argsort([len(w) for w in waves])
    for i in range(0, len(order), 16):
        idx = order[i:i + 16]
        scores[idx] = score_waveforms(model, [waves[j] for j in idx])
    return scores


def report(name, scores, rows):
    from vqkeras.evaluation.correlation import pearson, spearman

    kind = np.array([r["kind"] for r in rows])
    utt = np.array([int(r["utterance"]) for r in rows])
    pesq = np.array([float(r["pesq"]) if r["pesq"] else np.nan for r in rows])
    clean_of = {u: s for u, s, k in zip(utt, scores, kind) if k == "clean"}
    drops = scores - np.array([clean_of[u] for u in utt])
    clean_scores = scores[kind == "clean"]
    print(f"\n== {name}: {len(clean_scores)} utterances; clean mean {clean_scores.mean():.4f}, "
          f"std {clean_scores.std():.4f}")
    print(f"  {'kind':14s} {'mean drop':>10s} {'below clean':>12s} {'mean score':>11s} {'PESQ':>5s}")
    means = {}
    for k in KINDS:
        m = kind == k
        means[k] = scores[m].mean()
        print(f"  {k:14s} {drops[m].mean():+10.4f} {int((drops[m] < 0).sum()):7d}/{m.sum():<4d} "
              f"{scores[m].mean():11.4f} {np.nanmean(pesq[m]):5.2f}")
    noise_means = [means[f"noise_{s}dB"] for s in SNRS]
    every = all(clean_scores.mean() > v for v in means.values())
    print(f"  clean mean above every kind's mean: {'yes' if every else 'NO'}; "
          f"mean rises monotonically with SNR: {'yes' if np.all(np.diff(noise_means) > 0) else 'NO'}")
    ok = np.isfinite(pesq)
    line = f"  VQScore vs PESQ: LCC {pearson(scores[ok], pesq[ok]):.3f} SRCC {spearman(scores[ok], pesq[ok]):.3f}"
    dns = np.array([float(r["dnsmos_ovrl"]) if r.get("dnsmos_ovrl") else np.nan for r in rows])
    both = ok & np.isfinite(dns)
    if both.any():
        line += (f"   (DNSMOS OVRL vs PESQ on the same items: LCC {pearson(dns[both], pesq[both]):.3f}"
                 f" SRCC {spearman(dns[both], pesq[both]):.3f})")
    print(line)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", action="append", help="model(s) to compare (default: bundled)")
    p.add_argument("--split", choices=["val", "test"], default="val")
    p.add_argument("--utterances", type=int, default=30)
    p.add_argument("--out", default=os.path.join(ROOT, "runs", "damage"))
    p.add_argument("--no-dnsmos", action="store_true")
    args = p.parse_args()
    if not os.path.isdir(SHARED):
        sys.exit(f"{SHARED} not found: this benchmark needs ../shared/data beside the checkout")
    out_dir = os.path.join(args.out, args.split)
    rows = build(args.split, args.utterances, out_dir, not args.no_dnsmos)
    print(f"{args.split} split: {len(rows)} items from held-out speakers"
          f"{' and held-out test noises' if args.split == 'test' else ' and validation noises'}")
    for model in args.model or [None]:
        report(model or "bundled default", score_items(model, rows, out_dir), rows)


if __name__ == "__main__":
    main()
