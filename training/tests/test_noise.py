import json

import numpy as np
import pytest

from diffit.noise import fmix32, normal, normal_tensor, random_bits, uniform

from conftest import REPO


def test_fixed_reference_values():
    # Hand-checked constants: MurmurHash3 fmix32 of 1 and of 0xDEADBEEF.
    assert int(fmix32(np.array([0], np.uint32))[0]) == 0
    assert int(fmix32(np.array([1], np.uint32))[0]) == 0x514E28B7
    assert [int(v) for v in random_bits(42, np.arange(3))] == [3613322820, 3281712100, 1800668265]
    np.testing.assert_allclose(normal(42, 4), [0.05195399, 1.29372108, 0.48498508, -1.68871415], atol=1e-7)


def test_matches_committed_fixture():
    reference = json.loads((REPO / "fixtures" / "noise_reference.json").read_text())
    for case in reference["cases"]:
        seed = case["seed"]
        assert [int(v) for v in random_bits(seed, np.arange(8))] == case["bits_0_8"]
        np.testing.assert_array_equal(uniform(seed, np.arange(8)), case["uniform_0_8"])
        np.testing.assert_array_equal(normal(seed, 8), np.float32(case["normal_0_8"]))
        np.testing.assert_array_equal(normal(seed, 4, offset=1000), np.float32(case["normal_offset_1000_4"]))


def test_statistics_and_layout():
    x = normal(123, 200_000)
    assert abs(x.mean()) < 0.01 and abs(x.std() - 1) < 0.01
    assert abs((x**4).mean() - 3) < 0.1  # Gaussian kurtosis
    tensor = normal_tensor(9, (4, 1, 8, 8))
    np.testing.assert_array_equal(tensor[:2], normal_tensor(9, (2, 1, 8, 8)))  # image b is batch-size independent
    assert not np.array_equal(normal(1, 16), normal(2, 16))


def test_rejects_bad_seed():
    with pytest.raises(ValueError):
        normal(-1, 4)
    with pytest.raises(ValueError):
        normal(2**32, 4)
