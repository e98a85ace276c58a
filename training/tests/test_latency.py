"""The server's latency summary: percentiles within the histogram's 2% from the exact ones."""

import random

import pytest

from trainer.latency import LatencyStats


def test_percentiles_are_within_two_percent_and_never_above_the_maximum():
    generator = random.Random(0)
    latencies = [generator.lognormvariate(-6, 1) for _ in range(20_000)] + [0.0, 1e-9]
    stats = LatencyStats()
    for seconds in latencies:
        stats.record(seconds, 200, 1)
    stats.record(2.5, 400, 0)
    exact = sorted(latencies + [2.5])
    summary = stats.take_summary()
    for q, key in ((0.5, "p50_ms"), (0.9, "p90_ms"), (0.99, "p99_ms")):
        expected = 1000 * exact[int(q * len(exact)) - 1]
        assert summary[key] == pytest.approx(expected, rel=0.021)
    assert summary["max_ms"] == 2500.0
    assert (summary["requests"], summary["instances"]) == (20_003, 20_002)
    assert summary["statuses"] == {"200": 20_002, "400": 1}
    assert summary["requests_per_second"] > 0


def test_each_summary_covers_only_its_interval():
    stats = LatencyStats()
    assert stats.take_summary() is None
    stats.record(0.010, 200, 3)
    assert stats.take_summary()["p99_ms"] == 10.0  # capped at the slowest request
    assert stats.take_summary() is None
