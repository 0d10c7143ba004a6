"""`vqkeras.enhance` and `vqkeras enhance` on one long file: the same
samples, and peak memory (issue 18).

    python bench/long_file_memory.py [--seconds 300] [--backend jax] [--model M.keras]

Builds one noisy speech file of `--seconds` seconds (speech from
../shared/data when present, else synthesised; white noise at 10 dB SNR),
then, each in a fresh subprocess so the peak RSS is its own:

  cli   `python -m vqkeras.cli.main enhance FILE -o DIR -q` (32-bit float WAV)
  api   `vqkeras.enhance(FILE)`, the result saved as .npy

and prints, per backend, the wall time and peak RSS of each, and the
largest absolute difference between the two outputs. Both run
`vqkeras.enhancing.enhance_many`, so a file above the 20 s threshold is
enhanced in 10 s windows by both, and memory stays bounded by the window,
not the file. Default model: the bundled enhancer.
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import soundfile as sf

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("VQKERAS_SHARED", os.path.join(os.path.dirname(ROOT), "shared"))

API_SCRIPT = """
import sys
import numpy as np
import vqkeras
out = vqkeras.enhance(sys.argv[1], model=sys.argv[3] or None)[0]
np.save(sys.argv[2], out)
"""


def long_noisy_speech(seconds, seed=0):
    """`seconds` of 16 kHz speech (the shared LibriSpeech clips joined, or a
    synthetic stand-in) with white noise at 10 dB SNR."""
    rng = np.random.default_rng(seed)
    need = int(seconds * 16000)
    files = sorted(glob.glob(os.path.join(SHARED, "data", "speech",
                                          "librispeech-train-clean-100", "**", "*.flac"),
                             recursive=True))
    pieces, have = [], 0
    for path in files:
        wave, rate = sf.read(path, dtype="float32")
        if rate != 16000 or wave.ndim != 1:
            continue
        pieces.append(wave)
        have += len(wave)
        if have >= need:
            break
    if have < need:  # no shared data: harmonic bursts
        t = np.arange(need) / 16000
        voiced = sum(np.sin(2 * np.pi * k * 140 * t) / k for k in range(1, 10))
        pieces = [(0.2 * voiced * (np.sin(2 * np.pi * 3 * t) > 0)).astype("float32")]
    speech = np.concatenate(pieces)[:need]
    noise = rng.standard_normal(need).astype("float32")
    noise *= np.sqrt(np.mean(speech ** 2) / np.mean(noise ** 2)) * 10 ** (-10 / 20)
    return (speech + noise).astype("float32")


def run_measured(cmd, env):
    """(wall seconds, peak RSS in MiB) of a child process."""
    start = time.time()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.time() - start
    err = proc.stderr.read().decode(errors="replace")
    proc.stdout.close()
    proc.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{cmd[:4]} failed:\n{err[-3000:]}")
    return wall, usage.ru_maxrss / 1024.0  # ru_maxrss is in KiB on Linux


def measure(backend, wav, folder, model):
    env = dict(os.environ, KERAS_BACKEND=backend,
               PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out_dir = os.path.join(folder, f"cli-{backend}")
    cli_cmd = [sys.executable, "-m", "vqkeras.cli.main", "enhance", wav, "-o", out_dir, "-q",
               "--force"] + (["--model", model] if model else [])
    cli_wall, cli_rss = run_measured(cli_cmd, env)
    npy = os.path.join(folder, f"api-{backend}.npy")
    api_wall, api_rss = run_measured([sys.executable, "-c", API_SCRIPT, wav, npy, model or ""],
                                     env)
    cli, _ = sf.read(os.path.join(out_dir, os.path.basename(wav)), dtype="float32")
    api = np.load(npy)
    return {"backend": backend, "seconds": round(len(api) / 16000.0, 1),
            "same_length": len(api) == len(cli),
            "max_abs_diff": float(np.max(np.abs(api - cli))) if len(api) == len(cli) else None,
            "cli_wall_s": round(cli_wall, 1), "cli_peak_rss_mib": round(cli_rss),
            "api_wall_s": round(api_wall, 1), "api_peak_rss_mib": round(api_rss)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--backend", action="append",
                        help="repeatable (default: tensorflow, jax and torch)")
    parser.add_argument("--model", default=None, help="an enhancer .keras (default: bundled)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vqkeras-long-") as folder:
        wav = os.path.join(folder, "long.wav")
        sf.write(wav, long_noisy_speech(args.seconds), 16000, subtype="FLOAT")
        for backend in args.backend or ["tensorflow", "jax", "torch"]:
            print(json.dumps(measure(backend, wav, folder, args.model)), flush=True)


if __name__ == "__main__":
    main()
