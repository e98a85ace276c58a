"""Request latencies for the server's periodic summary: a log-scale histogram (buckets 2% apart),
so memory stays constant however many requests an interval brings; percentiles are accurate to 2%."""

import math
import time

_GROWTH = math.log(1.02)
_SMALLEST = 1e-6  # seconds: bucket 0 holds everything up to a microsecond


class LatencyStats:
    def __init__(self):
        self.reset()

    def reset(self):
        self.buckets, self.statuses = {}, {}
        self.requests = self.instances = 0
        self.slowest = 0.0
        self.since = time.monotonic()

    def record(self, seconds, status, instances):
        bucket = int(math.log(seconds / _SMALLEST) / _GROWTH) if seconds > _SMALLEST else 0
        self.buckets[bucket] = self.buckets.get(bucket, 0) + 1
        self.statuses[status] = self.statuses.get(status, 0) + 1
        self.requests += 1
        self.instances += instances
        self.slowest = max(self.slowest, seconds)

    def percentile_seconds(self, q):
        """The upper edge of the bucket holding the q-quantile (never above the slowest request)."""
        rank, seen = q * self.requests, 0
        for bucket in sorted(self.buckets):
            seen += self.buckets[bucket]
            if seen >= rank:
                return min(_SMALLEST * math.exp((bucket + 1) * _GROWTH), self.slowest)
        return self.slowest

    def take_summary(self):
        """The fields of one summary log line, then start a new interval; None if nothing was served."""
        if not self.requests:
            self.reset()
            return None
        elapsed = time.monotonic() - self.since
        summary = {
            "requests": self.requests,
            "instances": self.instances,
            "requests_per_second": round(self.requests / elapsed, 1),
            **{f"p{round(q * 100)}_ms": round(1000 * self.percentile_seconds(q), 3) for q in (0.5, 0.9, 0.99)},
            "max_ms": round(1000 * self.slowest, 3),
            "statuses": {str(status): n for status, n in sorted(self.statuses.items())},
        }
        self.reset()
        return summary
