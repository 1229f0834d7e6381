"""Prometheus metrics, kept in process (each worker serves its own)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: Counter[tuple[str, str, int]] = Counter()
        self.latency_buckets: Counter[tuple[str, float]] = Counter()
        self.latency_sum: dict[str, float] = {}
        self.latency_count: Counter[str] = Counter()
        self.verdicts: Counter[str] = Counter()

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        with self._lock:
            self.requests[(method, route, status)] += 1
            self.latency_sum[route] = self.latency_sum.get(route, 0.0) + seconds
            self.latency_count[route] += 1
            for bound in BUCKETS:
                if seconds <= bound:
                    self.latency_buckets[(route, bound)] += 1

    def verdict(self, outcome: str) -> None:
        with self._lock:
            self.verdicts[outcome] += 1

    def render(
        self,
        gauges: dict[str, float],
        batch_sizes: list[int],
        counters: Sequence[tuple[str, Mapping[str, str], float]] = (),
    ) -> str:
        """The Prometheus text: the request and verdict counters kept here, the batch sizes,
        ``gauges`` (``zhengyin_<name>``) and ``counters`` given as ``(name, labels, value)``
        (``zhengyin_<name>_total``: errors of the background loops, rewinds, repairs)."""
        lines = ["# TYPE zhengyin_http_requests_total counter"]
        with self._lock:
            for (method, route, status), n in sorted(self.requests.items()):
                lines.append(
                    f'zhengyin_http_requests_total{{method="{method}",route="{route}",'
                    f'status="{status}"}} {n}'
                )
            lines.append("# TYPE zhengyin_http_request_seconds histogram")
            for route in sorted(self.latency_count):
                for bound in BUCKETS:
                    lines.append(
                        f'zhengyin_http_request_seconds_bucket{{route="{route}",'
                        f'le="{bound}"}} {self.latency_buckets[(route, bound)]}'
                    )
                lines.append(
                    f'zhengyin_http_request_seconds_bucket{{route="{route}",le="+Inf"}} '
                    f"{self.latency_count[route]}"
                )
                lines.append(
                    f'zhengyin_http_request_seconds_sum{{route="{route}"}} '
                    f"{self.latency_sum[route]:.6f}"
                )
                lines.append(
                    f'zhengyin_http_request_seconds_count{{route="{route}"}} '
                    f"{self.latency_count[route]}"
                )
            lines.append("# TYPE zhengyin_verdicts_total counter")
            for outcome in ("valid", "invalid", "error"):
                lines.append(
                    f'zhengyin_verdicts_total{{verdict="{outcome}"}} {self.verdicts[outcome]}'
                )
        lines.append("# TYPE zhengyin_batch_size summary")
        lines.append(f"zhengyin_batch_size_count {len(batch_sizes)}")
        lines.append(f"zhengyin_batch_size_sum {sum(batch_sizes)}")
        for name, value in sorted(gauges.items()):
            lines.append(f"# TYPE zhengyin_{name} gauge")
            lines.append(f"zhengyin_{name} {value}")
        typed: set[str] = set()
        for name, labels, value in sorted(counters, key=lambda c: (c[0], sorted(c[1].items()))):
            if name not in typed:
                lines.append(f"# TYPE zhengyin_{name}_total counter")
                typed.add(name)
            shown = ",".join(f'{k}="{_label(v)}"' for k, v in sorted(labels.items()))
            lines.append(f"zhengyin_{name}_total{{{shown}}} {value:g}")
        return "\n".join(lines) + "\n"


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


Clock = Callable[[], float]
