#!/usr/bin/env bash
# Training on a Slurm cluster, as mmdet's slurm_train.sh:
#   GPUS=16 bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [train.py arguments]
# Environment: GPUS, GPUS_PER_NODE, CPUS_PER_TASK, SRUN_ARGS, PYTHON (see
# slurm_run.sh).
exec bash "$(dirname "$0")/slurm_run.sh" train.py "$1" "$2" "$3" \
    --work-dir="$4" "${@:5}"
