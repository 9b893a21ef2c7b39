#!/usr/bin/env bash
# Train the weave model on one fold on the GPU machine: Keras on JAX, from the compact npz, with no
# RDKit, TensorFlow or network needed there. Make the npz here first (build/ is git-ignored, so it
# travels to the machine only as a carried path):
#
#     PYTHONPATH=. nice -n 10 python scripts/export_weave_data.py build/weave/qm9_weave.npz
#
# then, on the machine (the device tool, carrying build/weave), one property per call, because one
# call may run 10 minutes at most and training stops itself after --max-minutes 8:
#
#     bash scripts/run_weave_device.sh build/weave/qm9_weave.npz alpha 0 [more train_weave.py options]
#
# Results JSON and weights land in $OUT/weave (solutions/weave when OUT is unset).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 3 ]; then
    echo "usage: $0 NPZ alpha|zpve|both FOLD [train_weave.py options]" >&2
    exit 2
fi
data=$1 property=$2 fold=$3
shift 3
export KERAS_BACKEND=jax PYTHONPATH=".${PYTHONPATH:+:$PYTHONPATH}"
export XLA_PYTHON_CLIENT_PREALLOCATE=false  # take GPU memory as needed, not 75 % up front
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
exec python scripts/train_weave.py --data "$data" --property "$property" --fold "$fold" --budget full \
    --out "${OUT:-solutions}/weave" --max-minutes 8 --workers 4 "$@"
