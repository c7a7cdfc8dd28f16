#!/usr/bin/env bash
# Distributed training on one or more machines, as mmdet's dist_train.sh:
#   bash tools/dist_train.sh CONFIG NPROC [train.py arguments]
# Environment: NNODES, NODE_RANK, PORT, MASTER_ADDR, PYTHON (see dist_run.sh).
exec bash "$(dirname "$0")/dist_run.sh" train.py "$2" "$1" "${@:3}"
