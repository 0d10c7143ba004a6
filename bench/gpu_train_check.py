"""One Keras training check on the current backend and device: a paper model
at batch 64 x 3 s, timed, with its peak memory and whether the loss fell.

    [KERAS_BACKEND=torch] python bench/gpu_train_check.py vqscore-paper AUDIO_DIR \
        [--steps 40] [--warmup 10] [--batch 64] [--fall-steps 60]

The backend is JAX unless KERAS_BACKEND says otherwise (JAX has the fastest
training step on a GPU: the README's H200 figures).

Two phases in one process (one compilation):
1. speed: `--steps` steps on batches held in memory, after `--warmup`
   untimed steps (compilation, k-means initialisation), so the figure is the
   training step itself, comparable with `bench/torch_peer_qe.py`;
2. learning: `--fall-steps` steps on real crops of AUDIO_DIR made by the
   numpy pipeline (no TensorFlow); the loss fell if the mean of the last
   fifth is below the mean of the first fifth.

Prints `RESULT {json}`. Runs where TensorFlow is not installed.
"""
import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402


class LossLog(keras.callbacks.Callback):
    """Loss of every step, read as a float (which also waits for the step)."""

    def __init__(self):
        super().__init__()
        self.losses, self.times = [], []

    def on_train_batch_end(self, batch, logs=None):
        self.losses.append(float(logs["loss"]))
        self.times.append(time.perf_counter())


def peak_memory_mib():
    backend = keras.backend.backend()
    if backend == "torch":
        import torch
        if torch.cuda.is_available():
            return torch.cuda.max_memory_allocated() / 2 ** 20
    if backend == "jax":
        import jax
        stats = jax.devices()[0].memory_stats() or {}
        if "peak_bytes_in_use" in stats:
            return stats["peak_bytes_in_use"] / 2 ** 20
    return float("nan")


def device_name():
    backend = keras.backend.backend()
    if backend == "torch":
        import torch
        return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    if backend == "jax":
        import jax
        return str(jax.devices()[0].device_kind)
    return "?"


def real_batches(audio_dir, batches, batch, seconds, seed=0):
    """`batches` batches of real clean crops from the numpy pipeline."""
    from vqkeras.data.crop_dataset import CropDataset
    from vqkeras.data.file_lists import collect_audio_files

    files = collect_audio_files(audio_dir)
    ds = CropDataset(files, batch_size=batch, crop_seconds=seconds, seed=seed,
                     steps_per_epoch=batches)
    items = [ds[i] for i in range(batches)]
    items = [x[0] if isinstance(x, tuple) else x for x in items]
    return {k: np.concatenate([b[k] for b in items]) for k in items[0]}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("preset")
    p.add_argument("audio_dir")
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--fall-steps", type=int, default=60)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--lr", type=float, default=1e-4)
    args = p.parse_args()

    from vqkeras.models import build_from_preset

    keras.utils.set_random_seed(0)
    t0 = time.perf_counter()
    data = real_batches(args.audio_dir, 16, args.batch, args.seconds)
    data_seconds = time.perf_counter() - t0
    model = build_from_preset(args.preset)
    model.compile(optimizer=keras.optimizers.Adam(args.lr, beta_1=0.5, beta_2=0.9))
    n = args.batch * (args.warmup + args.steps)
    reps = -(-n // len(data["length"]))
    speed_x = {k: np.concatenate([v] * reps)[:n] for k, v in data.items()}
    log = LossLog()
    t0 = time.perf_counter()
    model.fit(speed_x, batch_size=args.batch, epochs=1, shuffle=False, verbose=0, callbacks=[log])
    first_step = log.times[0] - t0
    timed = np.diff(log.times[args.warmup - 1:])
    seconds_per_step = float(np.mean(timed))

    fall = LossLog()
    n = args.batch * args.fall_steps
    reps = -(-n // len(data["length"]))
    fall_x = {k: np.concatenate([v] * reps)[:n] for k, v in data.items()}
    model.fit(fall_x, batch_size=args.batch, epochs=1, shuffle=True, verbose=0, callbacks=[fall])
    losses = log.losses + fall.losses
    k = max(1, len(losses) // 5)
    first, last = float(np.mean(losses[:k])), float(np.mean(losses[-k:]))
    result = {
        "model": args.preset, "backend": keras.backend.backend(), "device": device_name(),
        "batch": args.batch, "seconds_per_step": seconds_per_step,
        "steps_per_s": 1 / seconds_per_step, "samples_per_s": args.batch / seconds_per_step,
        "first_step_s": first_step, "peak_mib": peak_memory_mib(),
        "loss_first": first, "loss_last": last, "loss_fell": last < first,
        "steps_total": len(losses), "crop_prep_s": data_seconds,
    }
    print("RESULT", json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
