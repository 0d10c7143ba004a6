#!/usr/bin/env bash
# The prepared check for a lent GPU machine (one H100/H200, Python 3.12 with
# torch and JAX, CUDA, no TensorFlow, no network). Finishes within 8 minutes
# for the check itself.
#
# Here, first:   bash bench/gpu_prepare.sh          (wheels + audio subset)
# There:         bash bench/gpu_check.sh [TRAIN_SECONDS [RECIPE ...]]
#                (device run with carry [".whl", ".gpudata"]); TRAIN_SECONDS may be
#                until:N to train until N s after the start
#
# 1. The plain-PyTorch peer step of the QE model (bench/torch_peer_qe.py),
#    eager and torch.compile'd.
# 2. vqscore-paper and enhancer-paper at batch 64 x 3 s on torch and on JAX
#    (bench/gpu_train_check.py): steps/s, samples/s, peak GPU memory, whether
#    the loss fell; TensorFlow is blocked for every Keras process.
# 3. A table with each backend's step time over the peer's.
# 4. With TRAIN_SECONDS > 0: the given recipes are trained side by side for
#    that long by bench/gpu_ranking_train.sh (JAX backend, numpy pipeline);
#    weights-only copies of their checkpoints come back in $OUT as tar parts.
# GPU_CHECK_QUICK=1 leaves out the torch.compile peer and the pipeline rates.
# $OUT ends with gpu_check.jsonl, summary.txt, logs.tar.gz and the parts.
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/gpu_check}
mkdir -p "$OUT"
script_start=$(date +%s)
train_seconds=${1:-0}   # or until:N, train until N s after this script started (90 s kept for packing)
shift || true
export PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=3 XLA_PYTHON_CLIENT_PREALLOCATE=false
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site:$PWD
else
  export PYTHONPATH=$PWD
fi
# TensorFlow must never be needed on torch/JAX: shadow it (and tensorflow-io)
# with packages whose import fails, as if they were not installed.
for m in tensorflow tensorflow_io; do
  mkdir -p /tmp/notf/$m
  echo "raise ImportError('$m is not available on this machine (gpu_check)')" > /tmp/notf/$m/__init__.py
done
export PYTHONPATH=/tmp/notf:$PYTHONPATH
results=$OUT/gpu_check.jsonl
LOGS=/tmp/gpu_logs; mkdir -p $LOGS
: > "$results"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$LOGS/gpu.txt"
python3 -c "import torch, jax, keras; print('torch', torch.__version__, 'jax', jax.__version__, jax.devices(), 'keras', keras.__version__)"

run() {  # run LABEL TIMEOUT CMD...: keeps the RESULT line, prints failures
  local label=$1 limit=$2; shift 2
  local log=$LOGS/$label.txt
  echo "--- $label"
  timeout "$limit" "$@" > "$log" 2>&1
  local rc=$?
  if grep -q '^RESULT ' "$log"; then
    grep '^RESULT ' "$log" | sed 's/^RESULT //' | tee -a "$results"
  else
    echo "FAILED ($label, exit $rc):"; tail -15 "$log"
  fi
}

check_start=$(date +%s)
run peer 120 python3 bench/torch_peer_qe.py --steps 40
[ -z "${GPU_CHECK_QUICK:-}" ] && run peer_compiled 150 python3 bench/torch_peer_qe.py --steps 40 --compile
for model in vqscore-paper enhancer-paper; do
  for backend in jax torch; do
    run "${model}_${backend}" 150 env KERAS_BACKEND=$backend \
      python3 bench/gpu_train_check.py "$model" .gpudata/check --steps 30 --warmup 8 --fall-steps 50
  done
done
[ -z "${GPU_CHECK_QUICK:-}" ] && [ -f bench/pipeline.py ] && run pipeline 90 env KERAS_BACKEND=torch python3 bench/pipeline.py --audio .gpudata/check \
  --workers 1 8 14 --batches 20 --numpy-only
echo "check took $(( $(date +%s) - check_start )) s"
python3 bench/gpu_summary.py "$results" | tee "$OUT/summary.txt"

case $train_seconds in
  until:*) train_seconds=$(( ${train_seconds#until:} - ($(date +%s) - script_start) - 90 )) ;;
esac
echo "training for $train_seconds s: $*"
if [ "$train_seconds" -gt 0 ] && [ $# -gt 0 ]; then
  LOGS=$LOGS OUT=$OUT bash bench/gpu_ranking_train.sh "$train_seconds" "$@"
fi
tar czf "$OUT/logs.tar.gz" -C /tmp gpu_logs
ls -la "$OUT"
