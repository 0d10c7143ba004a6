#!/usr/bin/env bash
# One lent-GPU session of training in one device command: checks the carried
# speech pack against its manifest, trains the ranking QE model from the
# bundled default and from scratch and the enhancer stages 1 and 2 (JAX,
# batch 64, time-boxed to fit), and leaves in $OUT at most 8 files of at most
# 16 MiB: session.json, logs.tar.gz and ckpt.tar.part-* (weights-only copies).
#
# Here, first:  bash bench/gpu_prepare.sh                (wheels + speech pack)
# There:        bash bench/gpu_session.sh [--seconds 540] (device run, carry
#               [".whl", ".gpudata"], timeout_s 600)
# Then here:    cat ckpt.tar.part-* | tar x
# Options are bench/gpu_session.py's `run` options (--help).
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/gpu_session/out}
source bench/gpu_env.sh
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
exec python3 bench/gpu_session.py run --out "$OUT" "$@"
