#!/usr/bin/env bash
# Test mmdet_dynamic on the stack most mmdet 3.x users have, in a second
# environment beside the development one:
#
#   Python 3.10, torch 2.1.2 (PyPI's wheel), mmcv 2.1.0 compiled with ops
#   against it, and mmengine / mmdet at the lowest versions the package's
#   ranges allow (mmdet_dynamic/dependencies.py), then this package's wheel
#   with its [deploy] and [tests] extras, and the test suite.
#
#   bash tools/compat_check.sh            # or: make compat
#
# Environment: COMPAT_VENV (default ./.venv-compat), COMPAT_PYTHON (default
# python3.10), PYTEST_ARGS (extra pytest arguments), MAX_JOBS (mmcv compile
# jobs). The first run downloads torch 2.1.2 with its CUDA libraries (about
# 2.5 GB; it runs on the CPU) and compiles mmcv (about 10 minutes on 2
# cores); later runs reuse the environment.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${COMPAT_VENV:-$ROOT/.venv-compat}"
PYTHON="${COMPAT_PYTHON:-python3.10}"
TORCH=2.1.2
MMCV=2.1.0

log() { printf '[compat_check] %s\n' "$*"; }

# the lowest versions of the supported ranges, read from the package
lowest() {
    sed -n "s/^    '$1': ('\([^']*\)'.*/\1/p" "$ROOT/mmdet_dynamic/dependencies.py"
}
MMENGINE="$(lowest mmengine)"
MMDET="$(lowest mmdet)"

if [ ! -x "$VENV/bin/python" ]; then
    log "creating $VENV with $PYTHON"
    "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"
# torch 2.1 wheels are built against numpy 1.x ("Numpy is not available"
# under numpy 2), and opencv-python >= 4.12 asks for numpy 2: every install
# below keeps numpy < 2, as such environments do
CONSTRAINTS="$(mktemp)"
echo 'numpy<2' > "$CONSTRAINTS"
export PIP_CONSTRAINT="$CONSTRAINTS"
PIP=("$PY" -m pip install --disable-pip-version-check -q)

log "build tools, torch $TORCH (PyPI)"
"${PIP[@]}" "setuptools>=77.0.3,<81" wheel ninja
"${PIP[@]}" "torch==$TORCH" "numpy<2"
if ! "$PY" -c "import mmcv, mmcv.ops; assert mmcv.__version__ == '$MMCV'" 2>/dev/null; then
    log "mmcv $MMCV with ops, compiled against torch $TORCH"
    MMCV_WITH_OPS=1 FORCE_CUDA=0 MAX_JOBS="${MAX_JOBS:-$(nproc)}" \
        "${PIP[@]}" --no-build-isolation "mmcv==$MMCV"
fi
log "mmengine $MMENGINE, mmdet $MMDET (the lowest the ranges allow)"
"${PIP[@]}" --no-build-isolation "mmengine==$MMENGINE" "mmdet==$MMDET"

log "this package's wheel with [deploy,tests]"
DIST="$(mktemp -d)"
trap 'rm -rf "$DIST" "$CONSTRAINTS"' EXIT
"$PY" -m pip wheel -q --no-deps --no-build-isolation -w "$DIST" "$ROOT"
WHEEL="$(ls "$DIST"/mmdet_dynamic-*.whl)"
"${PIP[@]}" --force-reinstall --no-deps "$WHEEL"
"${PIP[@]}" --no-build-isolation "$WHEEL[deploy,tests]"
"$PY" -c "import torch, mmcv, mmengine, mmdet, mmdet_dynamic, sys; print('[compat_check] python', sys.version.split()[0], 'torch', torch.__version__, 'mmcv', mmcv.__version__, 'mmengine', mmengine.__version__, 'mmdet', mmdet.__version__, 'mmdet_dynamic', mmdet_dynamic.__version__)"

log "test suite (the installed wheel, the repository's tests and data)"
cd "$ROOT"
# pytest's console script with --import-mode=append: the installed package
# (site-packages, earlier on sys.path) is imported, not the source tree
set +e
"$VENV/bin/pytest" tests -p no:cacheprovider --import-mode=append \
    ${PYTEST_ARGS:-}
rc=$?
set -e
if [ $rc -eq 5 ]; then echo "pytest: no tests were collected"; rc=0; fi
exit $rc
