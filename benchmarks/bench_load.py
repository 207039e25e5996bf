"""Benchmark: first load of the embedded generator (GGUF dequantisation) against the cached load.

Not a test: it prints figures. Target on 2 cores: cached load at most 3 s.
Usage: python benchmarks/bench_load.py [--repeats 5]
It uses a fresh temporary cache directory, so your own cache is left alone.
"""

import argparse
import statistics
import tempfile
import time

import labkit  # noqa: F401  (offline first)
from labkit.models import load_generator


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="labkit-bench-") as cache:
        start = time.perf_counter()
        first = load_generator(cache_dir=cache)
        first_s = time.perf_counter() - start
        assert not first.from_cache
        del first
        cached = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            gen = load_generator(cache_dir=cache)
            cached.append(time.perf_counter() - start)
            assert gen.from_cache
            del gen
    median = statistics.median(cached)
    print(f"first load (GGUF -> dequantise -> save safetensors): {first_s:.2f} s")
    print(f"cached load, median of {args.repeats}: {median:.2f} s  (min {min(cached):.2f}, max {max(cached):.2f})")
    print(f"speed-up: {first_s / median:.1f}x   target cached <= 3 s: {'met' if median <= 3 else 'NOT met'}")


if __name__ == "__main__":
    main()
