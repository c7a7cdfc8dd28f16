#!/usr/bin/env bash
# The CUDA paths of mmdet_dynamic in one run, for a machine with a GPU:
#   1. DDP with NCCL (2 processes where there are 2 GPUs, else 1), SyncBN,
#      through both phases (joint, then the router phase with its Delta
#      pass over an odd number of images) of Dy-YOLOX E-ELAN tiny on
#      raccoon;
#   2. the latency tools with --device cuda (device synchronisation):
#      router_threshold.py and dynamic_tradeoff.py on the trained model.
#
#   bash tools/gpu_check.sh [OUT_DIR]          # 99 s on one H200 (2026-11-30)
#
# Needs the package installed with CUDA torch and mmcv (see README, Install)
# and `make data`. It prints each step's result and exits non-zero at the
# first failure. Not run by CI (no GPU there).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${1:-$ROOT/work_dirs/gpu_check}"
PY="${PYTHON:-python}"
CFG="$ROOT/configs/dynamicdet/dy-yolox_eelan-tiny_40i_raccoon.py"
cd "$ROOT"
"$PY" -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print('[gpu_check]', torch.cuda.get_device_name(0), 'torch', torch.__version__)"
NGPU="$("$PY" -c 'import torch; print(torch.cuda.device_count())')"
mkdir -p "$OUT"
echo "[gpu_check] 1. DDP (NCCL), SyncBN, joint + router phase"
# one process per GPU (NCCL): 2 where there are 2 GPUs, else 1
NPROC=$(( NGPU >= 2 ? 2 : 1 ))
cat > "$OUT/gpu_check_cfg.py" <<PYCFG
_base_ = '$CFG'
model = dict(backbone=dict(norm_cfg=dict(type='SyncBN')))
train_cfg = dict(max_iters=40, val_interval=40)
custom_hooks = [dict(type='RouterTrainingHook', switch_iter=20,
                     delta_num_images=7)]  # odd: uneven across ranks
PYCFG
PORT="${PORT:-29531}" bash tools/dist_train.sh "$OUT/gpu_check_cfg.py" \
    "$NPROC" --work-dir "$OUT/train"
CKPT="$(cat "$OUT/train/last_checkpoint")"
echo "[gpu_check] 2. latency tools on cuda"
"$PY" tools/analysis_tools/router_threshold.py "$OUT/gpu_check_cfg.py" "$CKPT" \
    --hard-ratio 0.5 --device cuda --out-dir "$OUT/threshold"
"$PY" tools/analysis_tools/dynamic_tradeoff.py "$OUT/gpu_check_cfg.py" "$CKPT" \
    --device cuda --out-dir "$OUT/tradeoff"
echo "[gpu_check] done: $OUT"
