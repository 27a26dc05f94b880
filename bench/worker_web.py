"""What the bench reads from a worker's web server: readiness and Prometheus metrics."""

from __future__ import annotations

import time
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

# metric name -> (labels, value) of each sample
Samples = dict[str, list[tuple[dict[str, str], float]]]


def _get(url: str) -> tuple[int, str] | None:
    """Status and body; None while the web server is not up yet."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except (urllib.error.URLError, ConnectionError):
        return None


def _families(url: str) -> list | None:
    """The worker's metric families; None while the web server is not up."""
    answer = _get(f"{url}/metrics")
    return None if answer is None else list(text_string_to_metric_families(answer[1]))


def metrics(url: str) -> Samples | None:
    families = _families(url)
    if families is None:
        return None
    return {
        family.name: [(s.labels, s.value) for s in family.samples if s.name == family.name]
        for family in families
    }


def histogram(url: str, name: str) -> dict[float, float] | None:
    """A histogram's cumulative counts by upper bound (``inf`` last); None while the web
    server is not up."""
    families = _families(url)
    if families is None:
        return None
    return {
        float(sample.labels["le"]): sample.value
        for family in families
        if family.name == name
        for sample in family.samples
        if sample.name == f"{name}_bucket"
    }


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of a metric's samples that carry ``labels``."""
    return sum(
        value
        for sample_labels, value in samples.get(name, [])
        if labels.items() <= sample_labels.items()
    )


def wait_until_ready(url: str, timeout: float = 120.0, poll: float = 0.5) -> float:
    """Wait for ``/ready`` to answer 200 (partitions assigned, tables recovered); returns
    the seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        answer = _get(f"{url}/ready")
        if answer is not None and answer[0] == 200:
            return time.monotonic() - started
        time.sleep(poll)
    raise TimeoutError(f"the worker at {url} was not ready within {timeout:.0f} s")
