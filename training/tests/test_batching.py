"""MicroBatcher: concurrent submissions share one run; size and wait bounds; errors and cancellations."""

import asyncio
import time

import pytest

from trainer.batching import MicroBatcher


class Recorder:
    def __init__(self, fail=False):
        self.batches, self.fail = [], fail

    def __call__(self, rows):
        self.batches.append(list(rows))
        if self.fail:
            raise RuntimeError("model broke")
        return [row * 10 for row in rows]


def run(coroutine):
    return asyncio.run(coroutine)


def test_submissions_of_one_loop_turn_share_a_batch_and_get_their_own_results():
    recorder = Recorder()

    async def main():
        batcher = MicroBatcher(recorder, max_batch_size=100, max_wait_seconds=0)
        futures = [batcher.submit([i, i + 1]) for i in range(0, 10, 2)]
        return await asyncio.gather(*futures), batcher

    results, batcher = run(main())
    assert results == [[0, 10], [20, 30], [40, 50], [60, 70], [80, 90]]
    assert recorder.batches == [list(range(10))]
    assert (batcher.batches, batcher.rows) == (1, 10)


def test_a_full_batch_runs_at_once_and_the_rest_waits_for_the_next():
    recorder = Recorder()

    async def main():
        batcher = MicroBatcher(recorder, max_batch_size=4, max_wait_seconds=10)
        first = [batcher.submit([i]) for i in range(4)]
        assert recorder.batches == [[0, 1, 2, 3]]  # ran inside the 4th submit, no waiting
        second = batcher.submit([4])
        assert all(f.done() for f in first) and not second.done()
        batcher.flush()
        return await second

    assert run(main()) == [40]
    assert recorder.batches == [[0, 1, 2, 3], [4]]


def test_a_partial_batch_waits_at_most_the_wait_bound():
    recorder = Recorder()

    async def main():
        batcher = MicroBatcher(recorder, max_batch_size=100, max_wait_seconds=0.05)
        started = time.perf_counter()
        first = batcher.submit([1])
        await asyncio.sleep(0.01)
        second = batcher.submit([2])  # joins the batch the first one opened
        results = await asyncio.gather(first, second)
        return results, time.perf_counter() - started

    results, waited = run(main())
    assert results == [[10], [20]] and recorder.batches == [[1, 2]]
    assert 0.04 <= waited < 1.0


def test_a_failing_batch_fails_every_request_in_it_and_the_next_batch_runs():
    async def main():
        recorder = Recorder(fail=True)
        batcher = MicroBatcher(recorder, max_wait_seconds=0)
        futures = [batcher.submit([1]), batcher.submit([2])]
        outcomes = await asyncio.gather(*futures, return_exceptions=True)
        recorder.fail = False
        return outcomes, await batcher.submit([3])

    outcomes, later = run(main())
    assert all(isinstance(o, RuntimeError) and str(o) == "model broke" for o in outcomes)
    assert later == [30]


def test_a_cancelled_request_does_not_break_the_others():
    recorder = Recorder()

    async def main():
        batcher = MicroBatcher(recorder, max_wait_seconds=0)
        gone, kept = batcher.submit([1]), batcher.submit([2])
        gone.cancel()
        return await kept, gone

    kept, gone = run(main())
    assert kept == [20] and gone.cancelled()
    with pytest.raises(asyncio.CancelledError):
        gone.result()
