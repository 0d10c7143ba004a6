"""Scoring and enhancement throughput (x real time) and peak memory.

    python bench/throughput.py [--backend tensorflow] [--files 200] [--hour]

Scenarios, each in a fresh subprocess so peak RSS is its own:
  score-folder     `score` over a folder of N four-second files (batched)
  score-one-by-one the same files scored one at a time, same model, same run
  score-60s        `score` on one 60 s file
  enhance-10s      `enhance` on 10 s files (exact path)
  enhance-60s      `enhance` on one 60 s file (chunked overlap-add by default)
  enhance-60s-exact  the same file through the exact full-sequence path
  score-1h         (--hour) one 1-hour file, for the memory bound
  score-folder-beam  (--engine beam) the score-folder files through the Beam
                   engine on the DirectRunner, 2 workers in multi-processing
                   mode; wall time includes starting the workers and loading
                   one model in each (no warm-up is possible: workers live
                   for one pipeline). Printed beside score-folder from the
                   same run, with the ratio.
  score-folder-beam-threads  (--engine beam) the same with 2 worker threads
                   in this process (direct_running_mode=multi_threading):
                   one model, no worker processes to start.
  score-folder-5x, score-folder-beam-5x  (--engine beam) the same on 5N
                   files: the difference to N files gives each engine's
                   marginal speed (seconds per extra file), without the
                   Beam engine's fixed start-up cost.
  With --engine beam it then runs bench/engine_wall_time.py's comparison:
  the whole `vqkeras score` command, process start to exit, both engines
  cold (the like-for-like ratio: the local figures above are warmed up).
x real time = seconds of audio / wall seconds, after one warm-up call (Beam
scenarios: no warm-up; peak RSS is the launching process only).
Audio is cut from ../shared/data speech when present, else synthesised.
Models: the bundled defaults, or the paper presets (random codebook) when
none is bundled.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

CHILD = r"""
import json, os, resource, sys, time, glob
import numpy as np, soundfile as sf
scenario, folder, nfiles = sys.argv[1], sys.argv[2], int(sys.argv[3])
from vqkeras.api import BUNDLED, load_model
from vqkeras.models import build_from_preset

def model_for(task):
    if os.path.exists(BUNDLED[task]):
        return load_model(None, task=task)
    m = build_from_preset("vqscore-paper" if task == "qe" else "enhancer-paper", seed=0)
    rng = np.random.default_rng(0)
    codes = rng.standard_normal((m.codebook_size, m.codebook_dim)).astype("float32")
    if m.use_cosine_sim:
        codes /= np.linalg.norm(codes, axis=-1, keepdims=True)
    m.quantizer.embed.assign(codes); m.quantizer.initted.assign(1.0)
    return m

MODEL_FILE = os.path.join(folder, "qe-fallback.keras")
if scenario.startswith("score-folder-beam") and not os.path.exists(BUNDLED["qe"]):
    model_for("qe").save(MODEL_FILE)


def files(pattern):
    return sorted(glob.glob(os.path.join(folder, pattern)))

result = {}
if scenario.startswith("score-folder-beam"):
    from vqkeras.beam import score_rows
    paths = files("f4_*.wav")[:nfiles * (5 if scenario.endswith("-5x") else 1)]
    t = time.perf_counter()
    mode = "multi_threading" if scenario.endswith("-threads") else "multi_processing"
    rows = score_rows(paths, None if os.path.exists(BUNDLED["qe"]) else MODEL_FILE, batch_size=16,
                      beam_args=["direct_num_workers=2", f"direct_running_mode={mode}",
                                 "default_sdk_harness_log_level=WARNING"])
    wall = time.perf_counter() - t
    result = {"audio_s": sum(r["duration_s"] for r in rows), "wall_s": wall,
              "errors": sum(1 for r in rows if r["error"])}
elif scenario.startswith("score"):
    from vqkeras.scoring import score_files
    model = model_for("qe")
    paths = {"score-folder": files("f4_*.wav")[:nfiles], "score-one-by-one": files("f4_*.wav")[:nfiles],
             "score-folder-5x": files("f4_*.wav")[:5 * nfiles],
             "score-60s": files("f60.wav"), "score-1h": files("f3600.wav")}[scenario]
    batch = 1 if scenario == "score-one-by-one" else 16
    list(score_files(model, paths[:2] if len(paths) > 1 else paths, batch_size=batch))  # warm-up
    t = time.perf_counter()
    rows = list(score_files(model, paths, batch_size=batch))
    wall = time.perf_counter() - t
    audio = sum(r["duration_s"] for r in rows)
    result = {"audio_s": audio, "wall_s": wall, "errors": sum(1 for r in rows if r["error"])}
else:
    from vqkeras.audio import read_audio
    from vqkeras.enhancing import enhance_many
    model = model_for("se")
    paths = {"enhance-10s": files("f10_*.wav"), "enhance-60s": files("f60.wav"),
             "enhance-60s-exact": files("f60.wav")}[scenario]
    waves = [read_audio(p)[0] for p in paths]
    threshold = 1e9 if scenario == "enhance-60s-exact" else None
    kw = {} if threshold is None else {"chunk_threshold_s": threshold}
    enhance_many(model, [waves[0][:16000 * 10]], **kw)  # warm-up
    t = time.perf_counter()
    out = enhance_many(model, waves, **kw)
    wall = time.perf_counter() - t
    result = {"audio_s": sum(len(w) for w in waves) / 16000, "wall_s": wall}
result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print("RESULT " + json.dumps(result))
"""


def make_audio(folder, nfiles, hour):
    import numpy as np
    import soundfile as sf
    shared = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared",
                          "data", "speech", "librispeech-train-clean-100")
    rng = np.random.default_rng(0)
    if os.path.isdir(shared):
        from vqkeras.audio import read_audio
        names = sorted(os.listdir(shared))[:60]
        pool = np.concatenate([read_audio(os.path.join(shared, n))[0] for n in names])
    else:
        pool = (rng.standard_normal(16000 * 600) * 0.05).astype("float32")

    def cut(seconds):
        n = int(seconds * 16000)
        start = rng.integers(0, len(pool) - n)
        return pool[start:start + n]

    for i in range(nfiles):
        sf.write(os.path.join(folder, f"f4_{i:04d}.wav"), cut(4.0), 16000)
    for i in range(6):
        sf.write(os.path.join(folder, f"f10_{i}.wav"), cut(10.0), 16000)
    sf.write(os.path.join(folder, "f60.wav"), cut(60.0), 16000)
    if hour:
        reps = int(np.ceil(3600 * 16000 / len(pool)))
        sf.write(os.path.join(folder, "f3600.wav"), np.tile(pool, reps)[:3600 * 16000], 16000)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backend", default=os.environ.get("KERAS_BACKEND", "tensorflow"))
    p.add_argument("--files", type=int, default=200)
    p.add_argument("--hour", action="store_true", help="also score a 1-hour file")
    p.add_argument("--only", help="comma-separated scenarios")
    p.add_argument("--engine", choices=["local", "beam"], default="local",
                   help="beam: compare score-folder on the Beam DirectRunner (2 workers) "
                        "with the local engine, in the same run")
    args = p.parse_args()
    scenarios = ["score-folder", "score-one-by-one", "score-60s", "enhance-10s", "enhance-60s",
                 "enhance-60s-exact"] + (["score-1h"] if args.hour else [])
    if args.engine == "beam":
        scenarios = ["score-folder", "score-folder-beam", "score-folder-beam-threads",
                     "score-folder-5x", "score-folder-beam-5x"]
    if args.only:
        scenarios = [s for s in scenarios if s in args.only.split(",")]
    env = dict(os.environ, KERAS_BACKEND=args.backend, TF_CPP_MIN_LOG_LEVEL="3")
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        make_audio(folder, args.files * (5 if args.engine == "beam" else 1), args.hour)
        print(f"backend {args.backend}, {os.cpu_count()} CPU cores")
        for s in scenarios:
            out = subprocess.run([sys.executable, "-c", CHILD, s, folder, str(args.files)],
                                 env=env, capture_output=True, text=True)
            line = [l for l in out.stdout.splitlines() if l.startswith("RESULT ")]
            if not line:
                print(f"{s:18s} FAILED: {out.stderr.strip().splitlines()[-1:]}", flush=True)
                continue
            r = json.loads(line[0][7:])
            results[s] = r
            print(f"{s:18s} {r['audio_s'] / r['wall_s']:8.1f}x real time   "
                  f"({r['audio_s']:.0f} s audio in {r['wall_s']:.2f} s)   peak RSS {r['peak_rss_mb']:.0f} MB",
                  flush=True)
    if "score-folder" in results and "score-one-by-one" in results:
        a, b = results["score-folder"], results["score-one-by-one"]
        print(f"folder batching speed-up over one-at-a-time: "
              f"{(a['audio_s'] / a['wall_s']) / (b['audio_s'] / b['wall_s']):.2f}x")
    if "score-folder" in results and "score-folder-beam" in results:
        a, b = results["score-folder"], results["score-folder-beam"]
        print(f"Beam DirectRunner (2 workers) from pipeline start vs the warmed-up local engine "
              f"on {args.files} x 4 s: {b['wall_s'] / a['wall_s']:.2f}x (not like for like: "
              f"Beam's time includes starting the workers and loading the model in each)")
    if "score-folder" in results and "score-folder-beam-threads" in results:
        a, b = results["score-folder"], results["score-folder-beam-threads"]
        print(f"Beam DirectRunner (2 threads, one process) from pipeline start vs the "
              f"warmed-up local engine: {b['wall_s'] / a['wall_s']:.2f}x")
    names = ("score-folder", "score-folder-beam", "score-folder-5x", "score-folder-beam-5x")
    if all(n in results for n in names):
        a, b, a3, b3 = (results[n]["wall_s"] for n in names)
        extra = 4 * args.files
        local_each, beam_each = (a3 - a) / extra, (b3 - b) / extra
        print(f"marginal cost per extra 4 s file: local {1000 * local_each:.1f} ms, "
              f"Beam {1000 * beam_each:.1f} ms ({beam_each / local_each:.2f}x); "
              f"Beam fixed start-up about {b - beam_each * args.files:.1f} s")
    if args.engine == "beam" and not args.only:
        # like for like: both engines cold, whole command, same files
        from engine_wall_time import compare_engines

        print("whole `vqkeras score` command, process start to exit, both engines cold:")
        compare_engines(args.files, 2, args.backend)
    if "enhance-60s" in results and "enhance-60s-exact" in results:
        a, b = results["enhance-60s"], results["enhance-60s-exact"]
        print(f"chunked vs exact enhancement on 60 s: {b['wall_s'] / a['wall_s']:.2f}x faster")


if __name__ == "__main__":
    main()
