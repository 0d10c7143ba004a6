#!/usr/bin/env bash
# Prepares, on this (CPU) machine, what bench/gpu_check.sh needs on the lent
# GPU machine, which has Python 3.12, torch, JAX and CUDA but no TensorFlow
# and no network:
#   .whl/      wheels of what that machine lacks (keras and its small needs,
#              soundfile); about 4.5 MB
#   .gpudata/  a size-capped clean-speech subset of the training speakers
#              (16 kHz FLAC, at most 38 MiB) and a few files for the check
# Both folders are git-ignored; name them in the device run's `carry`.
#
#   bash bench/gpu_prepare.sh [SHARED_DATA=../shared/data]
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${1:-../shared/data}
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo /.whl/ >> .git/info/exclude
grep -qx '/.gpudata/' .git/info/exclude 2>/dev/null || echo /.gpudata/ >> .git/info/exclude
rm -rf .whl && mkdir -p .whl
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
  --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl \
  keras==3.15.1 namex==0.1.0 optree==0.20.0 soundfile==0.14.0 cffi==2.1.1 pycparser==3.12
rm -rf .gpudata
python bench/gpu_audio_subset.py "$shared" .gpudata --megabytes 38
du -sh .whl .gpudata
