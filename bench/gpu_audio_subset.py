"""Writes the audio that travels to a lent GPU machine: a size-capped subset
of the training side of a speaker split, as 16 kHz mono PCM16 FLAC.

    python bench/gpu_audio_subset.py SHARED_DATA OUT_DIR [--megabytes 38]
        [--max-seconds 6] [--split all_speech_split] [--check-files 24]

Files are taken round-robin over the speech sources (so every source and as
many speakers as possible are in), each cut to its first `--max-seconds`,
until the FLAC files reach `--megabytes`; sources with few speakers are capped
(`--cap`) so the budget goes to speaker variety. Validation speakers never enter:
only the training side of the split is read. `OUT_DIR/check/` gets a few of
the same files for the speed check. Prints what was written.
"""
import argparse
import os
import sys
from collections import defaultdict

import numpy as np
import soundfile as sf

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from vqkeras.audio import read_audio  # noqa: E402
from vqkeras.data import splits  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("shared_data")
    p.add_argument("out_dir")
    p.add_argument("--megabytes", type=float, default=38.0)
    p.add_argument("--max-seconds", type=float, default=6.0)
    p.add_argument("--split", default="all_speech_split",
                   help="function of vqkeras.data.splits giving (train, validation) files")
    p.add_argument("--check-files", type=int, default=24)
    p.add_argument("--cap", action="append", default=["ljspeech-141=20", "vcc2018=30"],
                   metavar="SOURCE=N", help="at most N files of SOURCE (few-speaker sources)")
    args = p.parse_args()

    split = getattr(splits, args.split, None) or splits.default_speech_split
    train, _ = split(args.shared_data)
    by_source = defaultdict(list)
    for path in sorted(train):
        rel = os.path.relpath(path, os.path.join(args.shared_data, "speech"))
        by_source[rel.split(os.sep)[0]].append(path)
    caps = {k: int(v) for k, v in (c.split("=") for c in args.cap)}
    rng = np.random.default_rng(0)
    for source, files in by_source.items():
        rng.shuffle(files)
        del files[caps.get(source, len(files)):]
    order = []
    while any(by_source.values()):
        for source in sorted(by_source):
            if by_source[source]:
                order.append((source, by_source[source].pop()))

    train_dir, check_dir = os.path.join(args.out_dir, "train"), os.path.join(args.out_dir, "check")
    os.makedirs(train_dir, exist_ok=True)
    os.makedirs(check_dir, exist_ok=True)
    budget = args.megabytes * 2 ** 20
    written, seconds, counts = 0, 0.0, defaultdict(int)
    for k, (source, path) in enumerate(order):
        wave, _ = read_audio(path)
        wave = wave[: int(args.max_seconds * 16000)]
        name = f"{source}__{os.path.splitext(os.path.basename(path))[0]}.flac"
        target = os.path.join(train_dir, name)
        sf.write(target, np.clip(wave, -1, 1), 16000, subtype="PCM_16", format="FLAC")
        size = os.path.getsize(target)
        if written + size > budget:
            os.remove(target)
            break
        written += size
        seconds += len(wave) / 16000
        counts[source] += 1
        if k < args.check_files:
            sf.write(os.path.join(check_dir, name), np.clip(wave, -1, 1), 16000,
                     subtype="PCM_16", format="FLAC")
    print(f"wrote {sum(counts.values())} files, {seconds / 60:.1f} min, "
          f"{written / 2 ** 20:.1f} MiB to {train_dir} "
          f"({', '.join(f'{s}: {n}' for s, n in sorted(counts.items()))})")


if __name__ == "__main__":
    main()
