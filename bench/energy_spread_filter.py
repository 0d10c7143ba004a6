"""Keeps the recordings of a "quiet room" corpus whose background is far
below the speech: a manifest for `data.train` of the files whose frame-energy
spread (the 95th minus the 5th percentile of 25 ms frame energies, in dB)
reaches a threshold. A noisy background lifts the quiet frames and shrinks
the spread; a studio recording spreads 50 dB or more.

    python bench/energy_spread_filter.py FOLDER -o keep.csv [--min-spread-db 40]

Prints how many files and minutes pass, and writes a CSV with a `path` column
(absolute paths) and the spread of each kept file.
"""
import argparse
import csv
import os

import numpy as np
import soundfile as sf

from vqkeras.input_paths import expand_inputs


def energy_spread_db(wave, rate, frame_s=0.025):
    """95th minus 5th percentile of the frame energies of `wave`, in dB."""
    if wave.ndim > 1:
        wave = wave.mean(axis=1)
    size = int(rate * frame_s)
    frames = len(wave) // size
    if frames < 20:
        return float("nan")
    energy = np.mean(np.square(wave[: frames * size].reshape(frames, size)), axis=1)
    db = 10.0 * np.log10(energy + 1e-12)
    return float(np.percentile(db, 95) - np.percentile(db, 5))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("folder")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--min-spread-db", type=float, default=40.0)
    args = p.parse_args(argv)
    paths, errors = expand_inputs([args.folder])
    if errors:
        raise SystemExit(f"energy_spread_filter: {errors[0][1]}")
    kept, total_s, kept_s = [], 0.0, 0.0
    for path in paths:
        wave, rate = sf.read(path, dtype="float32")
        seconds = len(wave) / rate
        total_s += seconds
        spread = energy_spread_db(wave, rate)
        if spread >= args.min_spread_db:
            kept.append((os.path.abspath(path), round(spread, 2)))
            kept_s += seconds
    with open(args.output, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["path", "energy_spread_db"])
        w.writerows(kept)
    print(f"{len(kept)} of {len(paths)} files kept ({kept_s / 60:.1f} of {total_s / 60:.1f} minutes) "
          f"with an energy spread of at least {args.min_spread_db:g} dB -> {args.output}")


if __name__ == "__main__":
    main()
