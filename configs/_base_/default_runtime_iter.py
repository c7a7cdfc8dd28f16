# This package's runtime (./default_runtime.py), switched to iteration-based
# logging and checkpointing for the iteration-based CPU schedule. The last
# iteration is always checkpointed (save_last), plus every `interval`.
_base_ = './default_runtime.py'

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10),
    checkpoint=dict(
        type='CheckpointHook',
        by_epoch=False,
        interval=1000,
        save_last=True,
        max_keep_ckpts=3))
log_processor = dict(by_epoch=False)
