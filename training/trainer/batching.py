"""Micro-batching: instances from concurrent requests share one forward pass.

A batch is run when it reaches `max_batch_size` rows or `max_wait_seconds` after its first
request, whichever comes first (0: on the event loop's next turn, i.e. together with whatever
requests the same network read delivered). The forward pass runs on the event loop thread:
at this model's size it takes ~0.1 ms, less than handing it to another thread would cost.
"""

import asyncio


class MicroBatcher:
    def __init__(self, run_batch, max_batch_size=256, max_wait_seconds=0.0):
        self.run_batch = run_batch  # list of rows -> list of results, one per row
        self.max_batch_size = max_batch_size
        self.max_wait_seconds = max_wait_seconds
        self._pending = []  # (rows of one request, its future)
        self._pending_rows = 0
        self._timer = None
        self.batches = 0  # since the last take_counts()
        self.rows = 0

    def submit(self, rows):
        """A future resolved with run_batch's results for `rows`, in order."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._pending.append((rows, future))
        self._pending_rows += len(rows)
        if self._pending_rows >= self.max_batch_size:
            self.flush()
        elif self._timer is None:
            if self.max_wait_seconds > 0:
                self._timer = loop.call_later(self.max_wait_seconds, self.flush)
            else:
                self._timer = loop.call_soon(self.flush)
        return future

    def flush(self):
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        pending, self._pending, self._pending_rows = self._pending, [], 0
        if not pending:
            return
        batch = [row for rows, _ in pending for row in rows]
        try:
            results = self.run_batch(batch)
        except Exception as error:  # every waiting request gets the error, the server goes on
            for _, future in pending:
                if not future.done():
                    future.set_exception(error)
            return
        self.batches += 1
        self.rows += len(batch)
        start = 0
        for rows, future in pending:
            if not future.done():  # done: cancelled because its client went away
                future.set_result(results[start : start + len(rows)])
            start += len(rows)

    def take_counts(self):
        """(batches, rows) run since the last call."""
        counts = self.batches, self.rows
        self.batches = self.rows = 0
        return counts
