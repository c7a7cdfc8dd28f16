#!/usr/bin/env bash
# Distributed testing, as mmdet's dist_test.sh:
#   bash tools/dist_test.sh CONFIG CHECKPOINT NPROC [test.py arguments]
# Environment: NNODES, NODE_RANK, PORT, MASTER_ADDR, PYTHON (see dist_run.sh).
exec bash "$(dirname "$0")/dist_run.sh" test.py "$3" "$1" "$2" "${@:4}"
