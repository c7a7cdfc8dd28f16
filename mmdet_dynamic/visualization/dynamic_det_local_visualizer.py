# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""mmdet's local visualiser, with the route a dynamic detector took."""
from typing import Optional, Tuple

import numpy as np
from mmdet.structures import DetDataSample
from mmdet.visualization import DetLocalVisualizer

from mmdet_dynamic.registry import VISUALIZERS


@VISUALIZERS.register_module()
class DynamicDetLocalVisualizer(DetLocalVisualizer):
    """:class:`mmdet.visualization.DetLocalVisualizer` that also writes, in
    the corner of the prediction, the route a
    :class:`~mmdet_dynamic.models.detectors.DynamicCascadeDetector` sent the
    image through and its difficulty score (``route: hard  phi 0.734``).

    For samples without a ``route`` (a plain detector) it draws exactly what
    ``DetLocalVisualizer`` draws. The dynamic configs use it, so
    ``tools/test.py --show-dir`` and ``DetInferencer`` show the route. The
    label is drawn over the predicted boxes, on the prediction panel only.
    """

    route_colors = dict(easy=(46, 160, 67), hard=(214, 39, 40))

    def __init__(self, name: str = 'visualizer', **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        # set for the duration of one add_datasample call: the label, and
        # how many ground-truth panels are drawn before the prediction's
        self._route_label: Optional[Tuple[str, Optional[float]]] = None
        self._panels_before_pred = 0

    def add_datasample(self,
                       name: str,
                       image: np.ndarray,
                       data_sample: Optional[DetDataSample] = None,
                       draw_gt: bool = True,
                       draw_pred: bool = True,
                       show: bool = False,
                       wait_time: float = 0,
                       out_file: Optional[str] = None,
                       pred_score_thr: float = 0.3,
                       step: int = 0) -> None:
        """As ``DetLocalVisualizer.add_datasample``; the prediction panel
        gets the route label on top of its boxes."""
        route = data_sample.get('route') if data_sample is not None \
            else None
        if route is not None and draw_pred:
            self._route_label = (route, data_sample.get('difficulty_score'))
            self._panels_before_pred = int(draw_gt
                                           and 'gt_instances' in data_sample)
        try:
            super().add_datasample(name, image, data_sample, draw_gt,
                                   draw_pred, show, wait_time, out_file,
                                   pred_score_thr, step)
        finally:
            self._route_label = None

    def _draw_instances(self, image: np.ndarray, instances, classes,
                        palette) -> np.ndarray:
        drawn = super()._draw_instances(image, instances, classes, palette)
        if self._route_label is None:
            return drawn
        if self._panels_before_pred:  # this was the ground-truth panel
            self._panels_before_pred -= 1
            return drawn
        return self.draw_route(drawn, *self._route_label)

    def draw_route(self, image: np.ndarray, route: str,
                   score: Optional[float]) -> np.ndarray:
        """``image`` (H, W, 3, RGB) with ``route: <route>  phi <score>``
        written in its top-left corner."""
        text = f'route: {route}'
        if score is not None:
            text += f'  phi {score:.3f}'
        self.set_image(image)
        size = max(10, int(0.04 * min(image.shape[:2])))
        self.draw_texts(
            text,
            np.array([[4, 4]]),
            font_sizes=size,
            colors='white',
            bboxes=[
                dict(
                    facecolor=[c / 255 for c in self.route_colors.get(
                        route, (80, 80, 80))],
                    alpha=0.85,
                    pad=3,
                    edgecolor='none')
            ])
        return self.get_image()
