# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""mmdet's ``DetInferencer`` for dynamic detectors."""
from typing import Optional

from mmdet.apis import DetInferencer
from mmdet.structures import DetDataSample

ROUTE_KEYS = ('route', 'difficulty_score')


class DynamicDetInferencer(DetInferencer):
    """:class:`mmdet.apis.DetInferencer` in this package's scope, whose
    prediction dicts also carry each image's ``route`` (``'easy'`` or
    ``'hard'``) and ``difficulty_score``.

    mmdet's own ``DetInferencer(model, weights, scope='mmdet_dynamic')``
    works on the dynamic configs too: its ``DetDataSample`` results
    (``return_datasamples=True``) carry the route, and the drawn images show
    it (the configs' :class:`DynamicDetLocalVisualizer`); only its result
    dicts leave the route out, which this class adds.

    Args:
        model (str, optional): Config path (or a model name known to mim).
        weights (str, optional): Checkpoint path.
        device (str, optional): Device, e.g. ``'cpu'``.
        scope (str): Registry scope. Defaults to ``'mmdet_dynamic'``.
        palette (str): Colour palette, as in ``DetInferencer``.
        show_progress (bool): Show a progress bar.

    Example:
        >>> inferencer = DynamicDetInferencer(
        ...     'configs/dynamicdet/dy-faster-rcnn_r18_fpn_40i_raccoon.py',
        ...     'work_dirs/demo/iter_120.pth', device='cpu')
        >>> result = inferencer('data/raccoon/images/raccoon-1.jpg')
        >>> result['predictions'][0]['route']
        'easy'
    """

    def __init__(self,
                 model: Optional[str] = None,
                 weights: Optional[str] = None,
                 device: Optional[str] = None,
                 scope: Optional[str] = 'mmdet_dynamic',
                 palette: str = 'none',
                 show_progress: bool = True) -> None:
        import mmdet_dynamic  # noqa: F401
        super().__init__(model, weights, device, scope, palette,
                         show_progress)

    def pred2dict(self,
                  data_sample: DetDataSample,
                  pred_out_dir: str = '') -> dict:
        """``DetInferencer.pred2dict`` plus ``route`` and
        ``difficulty_score`` when the sample has them."""
        result = super().pred2dict(data_sample, pred_out_dir)
        for key in ROUTE_KEYS:
            if key in data_sample:
                result[key] = data_sample.get(key)
        return result
