"""Input-pipeline throughput: crops per second at batch 64 x 3 s for the
numpy pipeline (CropDataset, worker processes) and the tf.data pipeline,
and the CPU cores a GPU training step would need to be fed.

    python bench/pipeline.py [--sources DIR ...] [--batch 64] [--crop-seconds 3]
        [--batches 30] [--workers 1,2] [--numpy-only]
        [--step-seconds NAME=SECONDS,...] [--cores 16] [--transform ranking [--copies 1]]

The audio is decoded once (timed separately); each figure is the rate at
which `fit` would receive finished batches (numpy arrays) after two warm-up
batches. Without TensorFlow the tf.data rows are skipped. A GPU step of `t`
seconds at batch `B` consumes `B / t` crops per second; the needed workers
follow from the measured per-worker rate (one core each, plus one for the
training process). The default step times are the README's H200 figures
(Keras 3.15.1, batch 64 x 3 s). `--transform ranking` adds the ranking
objective's synthetic degradations with `RankingPairs`' defaults (speed
perturbation 0.9-1.1, every damage kind), which is what a ranking run's
workers do: with `--copies 1` (default) half the batch is clean crops and
half degraded copies; `--copies 2` is the default recipe's layout (a third
clean, e.g. 21 + 42 crops at batch 64).
"""
import argparse
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

DEFAULT_SOURCES = [os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "..", "shared", "data", "speech", "librispeech-train-clean-100")]


def _rate(next_batch, batches, batch_size):
    for _ in range(2):  # warm-up: pool start, first tf.data trace
        next_batch()
    start = time.perf_counter()
    for _ in range(batches):
        next_batch()
    return batches * batch_size / (time.perf_counter() - start)


# Seconds per training step at batch 64 x 3 s on a lent H200 (README).
H200_STEPS = ("vqscore-paper/jax=0.00557,vqscore-paper/torch=0.0862,"
              "enhancer-paper/jax=0.0168,enhancer-paper/torch=0.0752")


def _transform(args):
    if args.transform == "ranking":
        from vqkeras.data.ranking_pairs import RankingPairs
        return args.batch // (1 + args.copies), RankingPairs(copies=args.copies)
    return args.batch, None


def _crops_per_batch(args):
    clean, _ = _transform(args)
    return clean * (1 + args.copies) if args.transform == "ranking" else clean


def numpy_rate(store, args, workers, processes=True):
    from vqkeras.data.crop_dataset import CropDataset

    clean, transform = _transform(args)
    ds = CropDataset(store, batch_size=clean, crop_seconds=args.crop_seconds,
                     steps_per_epoch=args.batches + 2, workers=workers,
                     use_multiprocessing=processes, transform=transform)
    counter = iter(range(args.batches + 2))
    try:
        return _rate(lambda: ds[next(counter)], args.batches, _crops_per_batch(args))
    finally:
        ds.close()


def tf_rate(store, args, workers):
    from vqkeras.data.training_dataset import make_training_dataset
    from vqkeras.tf_guard import import_tensorflow

    tf = import_tensorflow()
    clean, transform = _transform(args)
    ds = make_training_dataset(store, batch_size=clean, crop_seconds=args.crop_seconds,
                               transform=transform)
    options = tf.data.Options()
    options.threading.private_threadpool_size = workers
    iterator = ds.with_options(options).as_numpy_iterator()
    return _rate(lambda: next(iterator), args.batches, _crops_per_batch(args))


def _parse_steps(text):
    steps = {}
    for item in filter(None, (text or "").split(",")):
        name, _, value = item.partition("=")
        steps[name.strip()] = float(value)
    return steps


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sources", "--audio", nargs="+", default=DEFAULT_SOURCES)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--crop-seconds", type=float, default=3.0)
    p.add_argument("--batches", type=int, default=30)
    p.add_argument("--workers", nargs="+", default=["1,2"],
                   help="worker counts, comma- or space-separated (default 1,2)")
    p.add_argument("--numpy-only", action="store_true",
                   help="leave out the tf.data rows")
    p.add_argument("--step-seconds", default=H200_STEPS,
                   help="GPU step times at this batch, NAME=SECONDS,... (default: the "
                        "README's H200 figures)")
    p.add_argument("--transform", choices=["none", "ranking"], default="none")
    p.add_argument("--copies", type=int, default=1,
                   help="damaged copies per clean crop with --transform ranking (default 1: "
                        "half clean, half damaged; the default recipe uses 2)")
    p.add_argument("--cores", type=int, default=16)
    args = p.parse_args()
    import keras

    from vqkeras.data.file_lists import collect_audio_files
    from vqkeras.data.waveform_store import WaveformStore
    from vqkeras.tf_guard import tensorflow_available

    files = collect_audio_files(args.sources)
    start = time.perf_counter()
    store = WaveformStore.from_files(files, verbose=False)
    decode_np = time.perf_counter() - start
    print(f"{len(store)} files, {store.total_seconds() / 60:.1f} min of audio; backend "
          f"{keras.backend.backend()}; {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f}")
    print(f"decode once: soundfile {decode_np:.1f} s")
    with_tf = tensorflow_available() and not args.numpy_only
    if with_tf:
        from vqkeras.data.training_dataset import decode_store
        start = time.perf_counter()
        decode_store(files)
        print(f"decode once: tf.data (tensorflow-io) {time.perf_counter() - start:.1f} s")

    workers = [int(w) for item in args.workers for w in item.split(",") if w]
    rows = [("numpy, in the training process", numpy_rate(store, args, 0))]
    for w in workers:
        rows.append((f"numpy, {w} worker process{'es' if w > 1 else ''}",
                     numpy_rate(store, args, w)))
    for w in workers:
        rows.append((f"numpy, {w} worker thread{'s' if w > 1 else ''}",
                     numpy_rate(store, args, w, processes=False)))
    for w in workers if with_tf else []:
        rows.append((f"tf.data, {w} thread{'s' if w > 1 else ''}", tf_rate(store, args, w)))
    what = ""
    if args.transform == "ranking":
        clean, _ = _transform(args)
        what = (" (half clean, half degraded copies)" if args.copies == 1 else
                f" ({clean} clean + {clean * args.copies} degraded copies)")
    print(f"\ncrops/s at batch {_crops_per_batch(args)} x {args.crop_seconds:g} s{what}")
    for name, rate in rows:
        print(f"  {name:34s} {rate:8.0f} crops/s  ({rate / _crops_per_batch(args):6.1f} batches/s)")

    one_worker = dict(rows)[f"numpy, {workers[0]} worker process{'es' if workers[0] > 1 else ''}"]
    per_worker = one_worker / workers[0]
    steps = _parse_steps(args.step_seconds)
    print(f"\nFeeding a GPU step of t s at batch {args.batch} takes {args.batch}/t crops/s; "
          f"at {per_worker:.0f} crops/s per numpy worker (measured here) that is "
          f"ceil({args.batch}/t / {per_worker:.0f}) workers + 1 core for training.")
    if not steps:
        print("No --step-seconds given: hypothetical step times below.")
        steps = {f"t={t:g} s": t for t in (0.05, 0.1, 0.2, 0.4)}
    for name, t in steps.items():
        need = args.batch / t
        n = math.ceil(need / per_worker)
        verdict = "fits" if n + 1 <= args.cores else "does NOT fit"
        print(f"  {name:24s} step {t * 1000:6.1f} ms -> {need:7.0f} crops/s -> {n:3d} workers "
              f"({verdict} in {args.cores} cores)")


if __name__ == "__main__":
    main()
