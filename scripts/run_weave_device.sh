#!/usr/bin/env bash
# Train the weave model on one fold on the GPU machine: Keras on JAX, from the compact npz, with no
# RDKit, TensorFlow or network needed there. Prepare here, once (build/ and .whl/ are git-ignored,
# so they travel to the machine only as carried paths: 38 MiB, plus 7.6 MiB of tracked files):
#
#     PYTHONPATH=. nice -n 10 python scripts/export_weave_data.py build/weave/qm9_weave.npz   # 35.2 MiB
#     bash scripts/device_wheels.sh   # keras, namex, optree for cp312 into .whl/ (2.8 MiB)
#
# then one device `run` per property and fold (one call may run 10 minutes at most; training
# stops itself before --max-minutes 8 would be passed, then tests on the whole fold):
#
#     carry:     ["build/weave", ".whl"]
#     timeout_s: 600
#     command:   bash scripts/run_weave_device.sh build/weave/qm9_weave.npz alpha 0
#
# (zpve instead of alpha, another fold instead of 0; more train_weave.py options may follow). The
# wheels in .whl/, if any, are installed into /tmp/site first. Results JSON (test MAE, learning
# curve, timing), the best weights and a log land in $OUT/weave (solutions/weave when OUT is unset):
# three files per property (five for "both", whose two trainings get 3.5 minutes each), one folder
# down, about 1.3 MiB each: all of it comes back from the machine. Copy them into solutions/weave/
# and commit. Tested without a GPU by emulation (README, "Module 4's weave models on the GPU
# machine"); PYTHON, DEVICE_WHEELS and DEVICE_SITE override python3, .whl and /tmp/site for that.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 3 ]; then
    echo "usage: $0 NPZ alpha|zpve|both FOLD [train_weave.py options]" >&2
    exit 2
fi
data=$1 property=$2 fold=$3
shift 3
python=${PYTHON:-python3}
if [ ! -f "$data" ]; then
    echo "$data is missing: make it with scripts/export_weave_data.py and carry its folder" >&2
    exit 2
fi
wheels=${DEVICE_WHEELS:-.whl}  # another folder only to emulate the machine with another Python
if compgen -G "$wheels/*.whl" > /dev/null; then
    # The machine lacks keras, namex and optree (scripts/device_wheels.sh fetched them here).
    site=${DEVICE_SITE:-/tmp/site}
    "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$site" "$wheels"/*.whl
    export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
fi
export KERAS_BACKEND=jax PYTHONPATH=".${PYTHONPATH:+:$PYTHONPATH}"
export XLA_PYTHON_CLIENT_PREALLOCATE=false  # take GPU memory as needed, not 75 % up front
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || true
# Training stops before this many minutes would be passed (per property); then the whole test fold is
# predicted. Later options override it (argparse keeps the last).
minutes=8
[ "$property" = both ] && minutes=3.5
out="${OUT:-solutions}/weave"
mkdir -p "$out"
# No progress bar: the learning curve goes into the JSON, and the log keeps one line per epoch.
"$python" -u scripts/train_weave.py --data "$data" --property "$property" --fold "$fold" --budget full \
    --out "$out" --max-minutes "$minutes" --workers 8 --quiet --log-epochs "$@" 2>&1 | tee "$out/weave_${property}_fold${fold}_full.log"
ls -l "$out"
