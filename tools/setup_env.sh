#!/usr/bin/env bash
# Create .venv and install this repository's development stack
# (requirements/dev.txt: exact versions) plus mmdet_dynamic (editable), with
# its [deploy] and [tests] extras. The package itself declares ranges
# (requirements/runtime.txt); this script is for contributors and the demo.
#
#   bash tools/setup_env.sh            # or: make venv
#
# Idempotent: when everything is already installed and importable it returns in
# seconds. It gets past these traps (docs/install_notes.md):
#   * setuptools is pinned to >=77.0.3,<81 (mmcv/mmengine setup.py import pkg_resources);
#   * mmcv 2.1.0 has no wheel for torch 2.13: it is compiled with ops
#     (MMCV_WITH_OPS=1, --no-build-isolation, ninja) against the installed torch;
#   * torch is installed as 2.13.0 (CPU) before anything that depends on it, so no
#     resolver step pulls a CUDA build;
#   * openmim is installed without opendatalab/openxlab, which would downgrade
#     setuptools to 60.
# Environment: VENV (default ./.venv), PYTHON (default python3.11 or python3),
# MAX_JOBS (compile jobs, default: number of cores).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
if [ -z "${PYTHON:-}" ]; then
    PYTHON="$(command -v python3.11 || command -v python3)"
fi
STAMP="$VENV/.mmdet_dynamic_stamp"

stamp_value() {
    cat "$ROOT/requirements/"*.txt "$ROOT/setup.py" | sha256sum | cut -d' ' -f1
}

log() { printf '[setup_env] %s\n' "$*"; }

if [ ! -x "$VENV/bin/python" ]; then
    log "creating virtual environment $VENV with $PYTHON"
    "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$(stamp_value)" ] \
    && "$PY" -c "import mmcv.ops, mmdet, mmengine, pycocotools, mim, onnx, onnxruntime, mmdet_dynamic" 2>/dev/null; then
    log "environment up to date ($VENV)"
    exit 0
fi

PIP=("$PY" -m pip install --disable-pip-version-check)

log "build tools (setuptools<81, wheel, ninja)"
"${PIP[@]}" -q -r "$ROOT/requirements/build.txt"

log "torch 2.13.0 (CPU)"
pinned() {  # the version of $1 in requirements/dev.txt
    sed -n "s/^$1==//p" "$ROOT/requirements/dev.txt"
}
"${PIP[@]}" -q "torch==$(pinned torch)"

MMCV="$(pinned mmcv)"
if ! "$PY" -c "import mmcv, mmcv.ops; assert mmcv.__version__ == '$MMCV'" 2>/dev/null; then
    log "mmcv $MMCV with ops, compiled against torch (about 9 minutes on 2 cores the first time;"
    log "pip's wheel cache makes later installs instant)"
    MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}" FORCE_CUDA=0 \
        "${PIP[@]}" --no-build-isolation "mmcv==$MMCV"
fi

log "mmengine, mmdet, pycocotools, test tools"
"${PIP[@]}" -q --no-build-isolation -r "$ROOT/requirements/dev.txt" \
    -r "$ROOT/requirements/runtime.txt" -r "$ROOT/requirements/deploy.txt" \
    -r "$ROOT/requirements/tests.txt"

log "openmim (mim train/test; its download-only dependencies left out)"
"${PIP[@]}" -q -r "$ROOT/requirements/mim.txt"
"${PIP[@]}" -q --no-deps "openmim==0.3.9"

log "mmdet_dynamic (editable)"
# setuptools' develop mode (--no-use-pep517): the installed distribution's
# location is this folder, where mmengine looks for the pure-Python configs
# (mmdet_dynamic/configs) of `read_base()` imports; a PEP 660 editable
# install would point it at site-packages instead.
"${PIP[@]}" -q --no-build-isolation --no-deps --no-use-pep517 -e "$ROOT"

"$PY" -c "import mmcv.ops, mmdet, mmdet_dynamic; print('[setup_env] ok: mmcv', mmcv.__version__, 'mmdet', mmdet.__version__, 'mmdet_dynamic', mmdet_dynamic.__version__)"
stamp_value > "$STAMP"
