#!/usr/bin/env bash
# The prepared speed check for a lent GPU machine (one H100/H200, Python 3.12
# with torch and JAX, CUDA, no TensorFlow, no network). Finishes within 8
# minutes. (Training in a session: bench/gpu_session.sh.)
#
# Here, first:   bash bench/gpu_prepare.sh          (wheels + speech pack)
# There:         bash bench/gpu_check.sh            (device run with carry [".whl", ".gpudata"])
#
# 1. The plain-PyTorch peer step of the QE model (bench/torch_peer_qe.py),
#    eager and torch.compile'd.
# 2. vqscore-paper and enhancer-paper at batch 64 x 3 s on torch and on JAX
#    (bench/gpu_train_check.py, on the pack's check.csv files): steps/s,
#    samples/s, peak GPU memory, whether the loss fell; TensorFlow is
#    blocked for every Keras process (bench/gpu_env.sh).
# 3. A table with each backend's step time over the peer's.
# GPU_CHECK_QUICK=1 leaves out the torch.compile peer and the pipeline rates.
# $OUT ends with gpu_check.jsonl, summary.txt and logs.tar.gz.
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/gpu_check}
mkdir -p "$OUT"
export XLA_PYTHON_CLIENT_PREALLOCATE=false
source bench/gpu_env.sh
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
      python3 bench/gpu_train_check.py "$model" .gpudata/check.csv --steps 30 --warmup 8 --fall-steps 50
  done
done
[ -z "${GPU_CHECK_QUICK:-}" ] && [ -f bench/pipeline.py ] && run pipeline 90 env KERAS_BACKEND=torch python3 bench/pipeline.py --audio .gpudata/check.csv \
  --workers 1 8 14 --batches 20 --numpy-only
echo "check took $(( $(date +%s) - check_start )) s"
python3 bench/gpu_summary.py "$results" | tee "$OUT/summary.txt"

tar czf "$OUT/logs.tar.gz" -C /tmp gpu_logs
ls -la "$OUT"
