"""The model stand-in's latency: a heavy tail that slows the same calls in every run."""

import pytest

from bench.standins import model_delay, parse_tail


def test_the_heavy_tail_slows_one_call_in_each_ten_the_same_ones_every_run():
    tail = parse_tail("0.1:8")
    assert tail == (0.1, 8.0)
    slow = [n for n in range(1, 201) if model_delay(n, 1.0, tail) == 8.0]
    assert slow == [n for n in range(1, 201) if model_delay(n, 1.0, tail) == 8.0]
    assert [(n - 1) // 10 for n in slow] == list(range(20))  # exactly one in each block of ten
    assert {n % 10 for n in slow} != {0}  # not always the last of its block
    quarter = [n for n in range(1, 41) if model_delay(n, 1.0, (0.25, 3.0)) == 3.0]
    assert [(n - 1) // 4 for n in quarter] == list(range(10))
    assert model_delay(7, 1.0, None) == 1.0
    with pytest.raises(ValueError):
        parse_tail("2:8")
