"""What a user waits for: the whole `vqkeras score FOLDER -o OUT.csv` command,
process start to exit, with the local engine and with the Beam engine, in
the same run on the same files.

    python bench/engine_wall_time.py [--files 200] [--repeats 2]
        [--backend tensorflow]

Three commands, each `--repeats` times, interleaved:
  local          the default engine
  beam-threads   --engine beam, DirectRunner, 2 worker threads in one process
  beam-processes --engine beam, DirectRunner, 2 worker processes
Every wall time includes importing the backend and loading the model, which
`bench/throughput.py` leaves out of the local engine's figure (it times the
local engine after a warm-up). Prints the median wall time of each and its
ratio to the local engine, and checks that all three wrote the same rows.
"""
import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from throughput import make_audio  # noqa: E402

COMMANDS = {
    "local": [],
    "beam-threads": ["--engine", "beam", "--beam-arg", "direct_num_workers=2",
                     "--beam-arg", "direct_running_mode=multi_threading"],
    "beam-processes": ["--engine", "beam", "--beam-arg", "direct_num_workers=2",
                       "--beam-arg", "direct_running_mode=multi_processing"],
}


def rows(path):
    with open(path, newline="") as f:
        return [(r["path"], r["vqscore"], r["error"]) for r in csv.DictReader(f)]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--files", type=int, default=200)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--backend", default=os.environ.get("KERAS_BACKEND", "tensorflow"))
    args = p.parse_args()
    return 0 if compare_engines(args.files, args.repeats, args.backend) else 1


def compare_engines(files, repeats, backend):
    """Runs the three commands, prints their medians and ratios; returns
    {command: median seconds}, or None when a command failed."""
    args = argparse.Namespace(files=files, repeats=repeats, backend=backend)
    env = dict(os.environ, KERAS_BACKEND=args.backend, TF_CPP_MIN_LOG_LEVEL="3")
    with tempfile.TemporaryDirectory() as tmp:
        folder = os.path.join(tmp, "audio")
        os.makedirs(folder)
        make_audio(folder, args.files, hour=False)
        for name in os.listdir(folder):  # only the 4 s files
            if not name.startswith("f4_"):
                os.remove(os.path.join(folder, name))
        times = {name: [] for name in COMMANDS}
        outputs = {}
        for _ in range(args.repeats):
            for name, extra in COMMANDS.items():
                out = os.path.join(tmp, f"{name}.csv")
                if os.path.exists(out):
                    os.remove(out)
                start = time.perf_counter()
                proc = subprocess.run([sys.executable, "-m", "vqkeras.cli.main", "score", folder,
                                       "-o", out, "--quiet"] + extra, env=env,
                                      capture_output=True, text=True)
                times[name].append(time.perf_counter() - start)
                if proc.returncode != 0:
                    print(f"{name}: exit {proc.returncode}: {proc.stderr.strip()[-500:]}")
                    return None
                outputs[name] = rows(out)
        audio_s = 4.0 * args.files
        local = statistics.median(times["local"])
        print(f"{args.files} x 4 s files, backend {args.backend}, median of {args.repeats}:")
        for name, values in times.items():
            med = statistics.median(values)
            print(f"  {name:15s} {med:6.1f} s  ({audio_s / med:6.0f}x real time)  "
                  f"{med / local:5.2f}x the local engine's wall time")
        same = all(len(o) == len(outputs["local"]) and all(
            a[0] == b[0] and a[2] == b[2] and abs(float(a[1] or 0) - float(b[1] or 0)) <= 1.5e-6  # 6 printed decimals
            for a, b in zip(o, outputs["local"])) for o in outputs.values())
        print("same rows from every engine:", same)
        if not same:
            for name, o in outputs.items():
                diff = [(a, b) for a, b in zip(o, outputs["local"]) if a != b]
                print(f"  {name}: {len(o)} rows, {len(diff)} differ from local, e.g. {diff[:2]}")
    return {name: statistics.median(values) for name, values in times.items()}


if __name__ == "__main__":
    sys.exit(main())
