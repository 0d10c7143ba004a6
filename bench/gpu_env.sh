# Sourced by bench/gpu_check.sh and bench/gpu_session.sh on a lent GPU machine
# (Python 3.12 with torch, JAX and CUDA, no TensorFlow, no network): installs
# the carried wheels (GPU_WHEELS, default .whl; none there: nothing to
# install) into /tmp/site, puts the repository on PYTHONPATH, and shadows
# TensorFlow with packages whose import fails, so a Keras process that
# needed it would fail here as it would there.
export PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=3 KERAS_BACKEND=${KERAS_BACKEND:-jax}
gpu_wheels=${GPU_WHEELS:-.whl}
if ls "$gpu_wheels"/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site "$gpu_wheels"/*.whl || { echo "installing $gpu_wheels failed" >&2; exit 1; }
  export PYTHONPATH=/tmp/site:$PWD
else
  export PYTHONPATH=$PWD
fi
gpu_notf=$(mktemp -d)
for m in tensorflow tensorflow_io; do
  mkdir -p "$gpu_notf/$m"
  echo "raise ImportError('$m is not available on this machine (bench/gpu_env.sh)')" > "$gpu_notf/$m/__init__.py"
done
export PYTHONPATH=$gpu_notf:$PYTHONPATH
