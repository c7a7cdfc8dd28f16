# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Check that a neck receives the feature maps its config declares."""
from typing import Sequence

from torch import Tensor


def check_neck_inputs(neck: str, in_channels: Sequence[int],
                      inputs: Sequence[Tensor]) -> None:
    """Raise a clear error when backbone outputs and ``in_channels`` differ.

    Args:
        neck (str): The neck's class name, for the message.
        in_channels (Sequence[int]): Channels the neck was built for.
        inputs (Sequence[Tensor]): Backbone features, each (N, C_i, H_i, W_i).

    Raises:
        ValueError: Naming both channel lists and the config key to fix.
    """
    got = [int(x.shape[1]) for x in inputs]
    if got != list(in_channels):
        raise ValueError(
            f'{neck} was built with in_channels={list(in_channels)} but the '
            f'backbone gives feature maps with channels {got}. Set '
            f'model.neck.in_channels={got} (or change the backbone\'s '
            'out_indices) so that the two lists match.')
