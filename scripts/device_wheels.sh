#!/usr/bin/env bash
# Download the wheels the GPU machine lacks for scripts/run_weave_device.sh into .whl/ (git-ignored,
# carried to the machine, installed there by run_weave_device.sh). Run here, where pip reaches PyPI:
#
#     bash scripts/device_wheels.sh              # cp312 wheels for the GPU machine (Python 3.12.3)
#     bash scripts/device_wheels.sh 3.11 DIR     # the same for another Python into DIR (emulation)
#
# The machine has JAX, numpy, absl-py, h5py, ml-dtypes, packaging, rich, tqdm and typing-extensions
# but no keras, namex or optree (keras's other Requires-Dist are there; optree needs only
# typing-extensions). The versions are the ones this course is developed and tested with; the
# three wheels take about 2 MiB.
set -euo pipefail
cd "$(dirname "$0")/.."
python_version=${1:-3.12}
dest=${2:-.whl}
wheels=(keras==3.15.1 namex==0.1.0 optree==0.20.0)

mkdir -p "$dest"
# One version of each package only: two would stop the install on the machine.
for pin in "${wheels[@]}"; do
    rm -f "$dest/${pin%%==*}"-*.whl
done
python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version "$python_version" --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d "$dest" "${wheels[@]}"
ls -l "$dest"
du -sh "$dest"
