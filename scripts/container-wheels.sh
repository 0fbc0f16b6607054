#!/usr/bin/env bash
# Put the CPU build of torch 2.13.0 (cp311, Linux x86_64) into wheels/ for the Containerfile.
#   bash scripts/container-wheels.sh                 # asks pip for torch==2.13.0 without an index:
#                                                    # the wheel pip finds locally (find-links), as
#                                                    # `make bootstrap` does
#   bash scripts/container-wheels.sh PATH/TO/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl
# Refuses a CUDA build (its wheel name has no +cpu): from PyPI, torch 2.13.0 on Linux x86_64 is
# the CUDA build and pulls several GB of nvidia-* packages.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p wheels
if [ "$#" -gt 0 ]; then
  cp -- "$@" wheels/
else
  python3 -m pip download --quiet --no-deps --no-index --only-binary=:all: --python-version 3.11 \
    --platform manylinux_2_28_x86_64 --dest wheels "torch==2.13.0" || {
    echo "examforge: pip found no torch 2.13.0 wheel without an index; give the CPU wheel's path:" >&2
    echo "  bash scripts/container-wheels.sh torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl" >&2
    exit 1
  }
fi
shopt -s nullglob
wheels=(wheels/torch-2.13.0*.whl)
[ "${#wheels[@]}" -gt 0 ] || { echo "examforge: no torch 2.13.0 wheel in wheels/" >&2; exit 1; }
for w in "${wheels[@]}"; do
  case "$w" in
    *+cpu-cp311-*) echo "examforge: $w ready for the Containerfile." >&2 ;;
    *) echo "examforge: $w is not the CPU build for Python 3.11 (+cpu-cp311); remove it." >&2; exit 1 ;;
  esac
done
