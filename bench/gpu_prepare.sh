#!/usr/bin/env bash
# Prepares, on this (CPU) machine, what bench/gpu_session.sh and
# bench/gpu_check.sh need on the lent GPU machine, which has Python 3.12,
# torch, JAX and CUDA but no TensorFlow and no network:
#   .whl/      wheels of what that machine lacks (keras and its small needs,
#              soundfile); about 4.5 MB
#   .gpudata/  all the training-split clean speech, packed small enough to
#              travel (bench/pack_speech.py: 40 kbit/s Opus, 36 MiB, with a manifest
#              that the device side checks on arrival) and check.csv
# Both folders are git-ignored; name them in the device run's `carry`. A
# device call carries at most 64 MiB: the repository, .whl and .gpudata.
#
#   bash bench/gpu_prepare.sh [SHARED_DATA=../shared/data]
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${1:-../shared/data}
mkdir -p .git/info
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo /.whl/ >> .git/info/exclude
grep -qx '/.gpudata/' .git/info/exclude 2>/dev/null || echo /.gpudata/ >> .git/info/exclude
rm -rf .whl && mkdir -p .whl
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
  --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl \
  keras==3.15.1 namex==0.1.0 optree==0.20.0 soundfile==0.14.0 cffi==2.1.1 pycparser==3.12
rm -rf .gpudata
python bench/pack_speech.py "$shared" .gpudata
du -sh .whl .gpudata
# what a device call carries: tracked and untracked-not-ignored files, and the two carried folders
bytes() { xargs -0 stat -c %s 2>/dev/null | awk '{s += $1} END {print s + 0}'; }
tree=$( (git ls-files -z --cached --others --exclude-standard || true) | bytes || true)
carried=$(find .whl .gpudata -type f -print0 | bytes || true)
total=$(( (tree + carried) / 1048576 ))
echo "a device call with carry [.whl, .gpudata] carries ${total} MiB (limit 64)"
[ "$total" -lt 63 ] || { echo "too large to travel: make the pack smaller (--kbps)" >&2; exit 1; }
