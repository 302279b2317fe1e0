import math

import torch

from diffit.attention_stats import layer_stats, token_distances


def test_uniform_and_one_hot_hand_cases():
    n = 4  # a 2x2 window
    uniform = torch.full((1, 1, 1, n, n), 1 / n)
    entropy, distance = layer_stats(uniform, window=2, stride=1)
    assert math.isclose(entropy, math.log(4), rel_tol=1e-6)
    # From any corner of a 2x2 window: distances 0, 1, 1, sqrt(2) -> mean (2 + sqrt 2) / 4
    assert math.isclose(distance, (2 + math.sqrt(2)) / 4, rel_tol=1e-6)
    self_only = torch.eye(n).reshape(1, 1, 1, n, n)
    entropy, distance = layer_stats(self_only, window=2, stride=2)
    assert abs(entropy) < 1e-6 and distance == 0
    assert token_distances(2, 2)[0, 3] == 2 * math.sqrt(2)
