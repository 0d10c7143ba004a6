#!/usr/bin/env bash
# Ranking-recipe training on a lent GPU (JAX unless KERAS_BACKEND says otherwise, numpy pipeline, no TensorFlow).
# Here first: bash bench/gpu_prepare.sh (wheels + .gpudata). There (device run, carry
# [".whl", ".gpudata"]):  bash bench/gpu_ranking_train.sh SECONDS RECIPE...
# Trains the recipes side by side for SECONDS (then killed; periodic checkpoints are
# written atomically), then writes weights-only copies of
# their periodic checkpoints (and history.csv) into $OUT as <=15 MB tar parts.
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/gpu_ranking}
mkdir -p "$OUT"
LOGS=${LOGS:-$OUT}  # gpu_check.sh keeps logs apart: at most 8 files come back from $OUT
mkdir -p "$LOGS"
seconds=$1; shift
export PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=3 KERAS_BACKEND=${KERAS_BACKEND:-jax}
# runs side by side share the GPU: JAX must not take most of its memory up front
export XLA_PYTHON_CLIENT_PREALLOCATE=false
# one BLAS/OpenMP thread per process: the pipeline workers are processes
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
  --target /tmp/site .whl/*.whl || exit 1
# (that machine has no TensorFlow: vqkeras runs there on JAX or torch)
export PYTHONPATH=/tmp/site:$PWD
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
pids=()
for recipe in "$@"; do
  name=$(basename "$recipe" .yaml)
  mkdir -p "runs/gpu/$name"
  (timeout -s KILL "$seconds" python3 -m vqkeras.cli.main train "$recipe" \
     -o "runs/gpu/$name" > "$LOGS/train_$name.log" 2>&1) &
  pids+=($!)
done
wait "${pids[@]}"
mkdir -p /tmp/slim
for recipe in "$@"; do
  name=$(basename "$recipe" .yaml)
  tail -c 3000 "$LOGS/train_$name.log"
  mkdir -p "/tmp/slim/$name"
  cp "runs/gpu/$name/history.csv" "/tmp/slim/$name/" 2>/dev/null
  python3 - "runs/gpu/$name" "/tmp/slim/$name" <<'PY'
import glob, os, sys
from vqkeras.api import load_model
src, dst = sys.argv[1], sys.argv[2]
paths = sorted(glob.glob(os.path.join(src, "model_*.keras")))
if len(paths) > 6:  # at most 6 per run come back: spread over the run, last kept
    step = len(paths) / 6
    paths = [paths[min(len(paths) - 1, int(round((i + 1) * step)) - 1)] for i in range(6)]
for p in paths:
    m = load_model(p, task=None)
    fresh = m.__class__.from_config(m.get_config())
    fresh.set_weights(m.get_weights())
    fresh.save(os.path.join(dst, os.path.basename(p)))
    print("slim", p)
PY
done
(cd /tmp/slim && tar cf - .) | split -b 15M - "$OUT/ckpt.tar.part-"
ls -la "$OUT"
