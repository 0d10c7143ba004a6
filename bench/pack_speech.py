"""Packs the training-split clean speech for a lent GPU machine, and checks
and unpacks it there.

Choice (measured on the 1,067 training files of all_speech_split, 2.22 h,
138 MiB of FLAC as shipped; `--survey` prints the table): lossless does not
fit. A device call carries 64 MiB, of which the repository takes ~11 and the
wheels 4.4. As 16 kHz PCM16 FLAC the speech is 125.5 MiB (125.2 with the
ends trimmed: little silence to trim), and 70.6 MiB with 12 significant
bits. So the pack is lossy: Ogg/Opus at 40 kbit/s, mono 16 kHz, ends
trimmed beyond 0.3 s of silence: 36.0 MiB (24/32/48 kbit/s: 22.0/28.9/42.8
MiB), 51 MiB with the repository and wheels. Near-transparent for what we
train: on 60 files the bundled VQScore default gives 0.7718 packed against
0.7730 original (mean |difference| 0.0016, at most 0.0061, correlation
0.995), where the files themselves spread with SD 0.017; lengths are kept
to the sample.

    python bench/pack_speech.py SHARED_DATA OUT_DIR [--kbps 40] [--split all_speech_split]
    python bench/pack_speech.py SHARED_DATA --survey [--score-files 60]
    python bench/pack_speech.py --unpack OUT_DIR WAV_DIR [--jobs 16]   (on the device)

Packing writes OUT_DIR/train/SOURCE__NAME.opus, OUT_DIR/check.csv (a few of
them, round-robin over sources, for bench/gpu_check.sh) and
OUT_DIR/manifest.json (file names, their frame counts, total seconds).
Only the training side of the split is read: validation and test speakers
never enter. `--unpack` first checks what arrived against the manifest
(count, names, hours; exit code 3 with the difference otherwise), then
decodes every file to 16 kHz PCM16 WAV in parallel (Opus decodes at only
~150x real time, too slow to repeat in every training process) and checks
the WAV folder the same way.
"""
import argparse
import io
import json
import os
import sys
import time
from collections import defaultdict

import numpy as np
import soundfile as sf

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

RATE = 16000
MANIFEST = "manifest.json"


class ArrivalError(Exception):
    """What arrived does not match the manifest written by the pack step."""


def trim_ends(wave, floor_db=45.0, margin_s=0.3, frame=400):
    """`wave` without the silence at its ends: frames (25 ms) more than
    `floor_db` below the loudest frame are silent; `margin_s` of silence is
    kept on each side of the first and last loud frame."""
    n = len(wave) // frame
    if n < 2:
        return wave
    power = np.mean(wave[: n * frame].reshape(n, frame).astype(np.float64) ** 2, axis=1)
    level = 10 * np.log10(power + 1e-12)
    loud = np.flatnonzero(level > level.max() - floor_db)
    margin = int(margin_s * RATE)
    start = max(0, loud[0] * frame - margin)
    stop = min(len(wave), (loud[-1] + 1) * frame + margin)
    return wave[start:stop]


def encode(wave, codec="opus", kbps=40.0, bits=16):
    """Bytes of `wave` (16 kHz mono float) as Ogg/Opus at `kbps`, or as
    FLAC keeping `bits` significant bits (below 16 the low bits are zeroed,
    which FLAC stores for free)."""
    buf = io.BytesIO()
    wave = np.clip(wave, -1.0, 1.0 - 2 ** -15)
    if codec == "opus":
        # libsndfile maps compression_level 0..1 linearly onto 256..6 kbit/s
        level = float(np.clip((256.0 - kbps) / 250.0, 0.0, 1.0))
        sf.write(buf, wave, RATE, format="OGG", subtype="OPUS", compression_level=level)
    else:
        pcm = np.round(wave * 2 ** 15).astype(np.int32)
        step = 2 ** (16 - bits)
        pcm = (np.round(pcm / step) * step).clip(-2 ** 15, 2 ** 15 - step).astype(np.int16)
        sf.write(buf, pcm, RATE, format="FLAC", subtype="PCM_16")
    return buf.getvalue()


def training_speech(shared_data, split="all_speech_split"):
    """[(source, path)] of the training side of `vqkeras.data.splits.<split>`."""
    from vqkeras.data import splits

    train, _ = getattr(splits, split)(shared_data)
    speech = os.path.join(shared_data, "speech")
    return [(os.path.relpath(p, speech).split(os.sep)[0], p) for p in sorted(train)]


def decoded(path, trim=True):
    from vqkeras.audio import read_audio

    wave = read_audio(path, RATE)[0]
    return trim_ends(wave) if trim else wave


def _pack_one(job):
    path, target, kbps = job
    with open(target, "wb") as f:
        f.write(encode(decoded(path), "opus", kbps))
    return sf.info(target).frames


def pack(shared_data, out_dir, kbps, split, check_files, jobs):
    """Writes the pack (Opus encodes at only ~18x real time per core, so
    `jobs` processes share the files)."""
    from multiprocessing import Pool

    files = training_speech(shared_data, split)
    train_dir = os.path.join(out_dir, "train")
    os.makedirs(train_dir, exist_ok=True)
    speech = os.path.join(shared_data, "speech")
    # SOURCE__SUBFOLDER_NAME.opus: VCC 2018 repeats file names across speaker folders
    names = []
    for source, path in files:
        inside = os.path.relpath(path, os.path.join(speech, source))
        names.append(f"{source}__{os.path.splitext(inside)[0].replace(os.sep, '_')}.opus")
    if len(set(names)) != len(names):
        raise SystemExit("two training files would get the same name in the pack")
    with Pool(max(1, jobs)) as pool:
        frames = pool.map(_pack_one, [(path, os.path.join(train_dir, name), kbps)
                                      for (_, path), name in zip(files, names)], chunksize=4)
    entries, by_source = dict(zip(names, frames)), defaultdict(list)
    for (source, _), name in zip(files, names):
        by_source[source].append(name)
    check = []
    while len(check) < check_files and any(by_source.values()):
        for source in sorted(by_source):
            if by_source[source] and len(check) < check_files:
                check.append(by_source[source].pop(0))
    with open(os.path.join(out_dir, "check.csv"), "w", encoding="utf-8") as f:
        f.write("path\n" + "".join(f"train/{n}\n" for n in check))
    manifest = {"split": split, "codec": f"opus {kbps:g} kbit/s, 16 kHz mono, ends trimmed",
                "files": len(entries), "seconds": sum(entries.values()) / RATE,
                "frames": entries}
    with open(os.path.join(out_dir, MANIFEST), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=0, sort_keys=True)
    size = sum(os.path.getsize(os.path.join(train_dir, n)) for n in entries)
    print(f"packed {len(entries)} files, {manifest['seconds'] / 3600:.2f} h, "
          f"{size / 2 ** 20:.1f} MiB into {train_dir}")


def check_arrival(folder, manifest, suffix):
    """Raises ArrivalError unless `folder` holds exactly the manifest's files
    (with `suffix`) and their total length matches within 0.1 s per file."""
    want = {os.path.splitext(n)[0]: frames for n, frames in manifest["frames"].items()}
    have = {}
    if os.path.isdir(folder):
        for name in os.listdir(folder):
            if name.endswith(suffix):
                have[name[: -len(suffix)]] = sf.info(os.path.join(folder, name)).frames
    seconds = sum(have.values()) / RATE
    problems = []
    if len(have) != manifest["files"] or len(want) != manifest["files"]:
        problems.append(f"{len(have)} {suffix} files in {folder}, manifest says {manifest['files']}")
    missing, extra = sorted(set(want) - set(have)), sorted(set(have) - set(want))
    if missing:
        problems.append(f"missing {len(missing)} (e.g. {', '.join(missing[:3])})")
    if extra:
        problems.append(f"not in the manifest: {len(extra)} (e.g. {', '.join(extra[:3])})")
    if abs(seconds - manifest["seconds"]) > 0.1 * max(1, manifest["files"]):
        problems.append(f"{seconds / 3600:.3f} h of audio, manifest says "
                        f"{manifest['seconds'] / 3600:.3f} h")
    if problems:
        raise ArrivalError(f"{folder}: " + "; ".join(problems))
    return len(have), seconds


def _to_wav(job):
    src, dst = job
    wave, rate = sf.read(src, dtype="int16")
    sf.write(dst + ".part", wave, rate, format="WAV", subtype="PCM_16")
    os.replace(dst + ".part", dst)


def unpack(pack_dir, wav_dir, jobs):
    """Checks `pack_dir` against its manifest, decodes it into `wav_dir`
    (16 kHz PCM16 WAV) with `jobs` processes and checks that too."""
    from multiprocessing import Pool

    path = os.path.join(pack_dir, MANIFEST)
    if not os.path.exists(path):
        raise ArrivalError(f"{path} is missing: was the pack carried? (bash bench/gpu_prepare.sh)")
    with open(path, encoding="utf-8") as f:
        manifest = json.load(f)
    start = time.time()
    count, seconds = check_arrival(os.path.join(pack_dir, "train"), manifest, ".opus")
    os.makedirs(wav_dir, exist_ok=True)
    todo = [(os.path.join(pack_dir, "train", n), os.path.join(wav_dir, os.path.splitext(n)[0] + ".wav"))
            for n in sorted(manifest["frames"])]
    with Pool(max(1, jobs)) as pool:
        pool.map(_to_wav, todo, chunksize=8)
    check_arrival(wav_dir, manifest, ".wav")
    print(f"arrival check passed: {count} files, {seconds / 3600:.2f} h "
          f"({manifest['codec']}); decoded to {wav_dir} in {time.time() - start:.1f} s")


def survey(shared_data, split, score_files, kbps_list):
    """Prints the size of every packing option and, for the lossy ones, what
    they do to the bundled VQScore default's scores."""
    files = training_speech(shared_data, split)
    original = sum(os.path.getsize(p) for _, p in files)
    options = [("flac16", "flac", 0, 16, False), ("flac16 trimmed", "flac", 0, 16, True),
               ("flac12 trimmed", "flac", 0, 12, True)]
    options += [(f"opus{k:g} trimmed", "opus", k, 16, True) for k in kbps_list]
    sizes, seconds = defaultdict(int), defaultdict(float)
    rng = np.random.default_rng(0)
    scored = set(rng.choice(len(files), size=min(score_files, len(files)), replace=False).tolist())
    sample = {label: [] for label, *_ in options}
    sample["original"] = []
    for i, (_, path) in enumerate(files):
        full = decoded(path, trim=False)
        trimmed = trim_ends(full)
        for label, codec, kbps, bits, trim in options:
            wave = trimmed if trim else full
            data = encode(wave, codec, kbps, bits)
            sizes[label] += len(data)
            seconds[label] += len(wave) / RATE
            if i in scored:
                sample[label].append(sf.read(io.BytesIO(data), dtype="float32")[0])
        if i in scored:
            sample["original"].append(trimmed)
    print(f"{len(files)} training files, {seconds['flac16'] / 3600:.2f} h; "
          f"as shipped {original / 2 ** 20:.1f} MiB")
    scores = {}
    if score_files:
        import vqkeras
        scores = {label: np.asarray(vqkeras.score(waves), dtype=np.float64)
                  for label, waves in sample.items()}
    print("| option | hours | MiB | VQScore mean (original {}) | mean abs difference |".format(
        f"{scores['original'].mean():.4f}, SD {scores['original'].std():.4f}" if scores else "-"))
    print("|---|---|---|---|---|")
    for label, *_ in options:
        row = f"| {label} | {seconds[label] / 3600:.3f} | {sizes[label] / 2 ** 20:.1f} |"
        if scores:
            diff = scores[label] - scores["original"]
            row += f" {scores[label].mean():.4f} ({diff.mean():+.4f}) | {np.abs(diff).mean():.4f} |"
        print(row)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("paths", nargs="+", help="SHARED_DATA OUT_DIR, SHARED_DATA with --survey, "
                                             "or PACK_DIR WAV_DIR with --unpack")
    p.add_argument("--kbps", type=float, default=40.0)
    p.add_argument("--split", default="all_speech_split",
                   help="function of vqkeras.data.splits giving (train, validation) files")
    p.add_argument("--check-files", type=int, default=24)
    p.add_argument("--survey", action="store_true")
    p.add_argument("--survey-kbps", type=float, nargs="+", default=[24, 32, 40, 48])
    p.add_argument("--score-files", type=int, default=60)
    p.add_argument("--unpack", action="store_true")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = p.parse_args()
    if args.unpack:
        try:
            unpack(args.paths[0], args.paths[1], args.jobs)
        except ArrivalError as err:
            print(f"ARRIVAL CHECK FAILED: {err}", file=sys.stderr)
            return 3
    elif args.survey:
        survey(args.paths[0], args.split, args.score_files, args.survey_kbps)
    else:
        pack(args.paths[0], args.paths[1], args.kbps, args.split, args.check_files, args.jobs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
