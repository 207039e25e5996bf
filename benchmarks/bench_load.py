"""Benchmark: first load of the embedded generator (GGUF dequantisation) against the cached load.

Not a test: it prints figures. Target on 2 cores: cached load at most 3 s.
Usage: python benchmarks/bench_load.py [--repeats 5] [--write]
It uses a fresh temporary cache directory, so your own cache is left alone. With --write it records both figures in
data/run_times.json ("generator_load"), where `labkit doctor`, notebook 00 and the README's troubleshooting read them.
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import tempfile
import time

import labkit  # noqa: F401  (offline first)
from labkit.data import RUN_TIMES_PATH, load_run_times
from labkit.models import load_generator


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--write", action="store_true", help="record the figures in data/run_times.json")
    args = parser.parse_args()
    print(f"cpu_count={os.cpu_count()} load_avg={os.getloadavg()[0]:.1f}")
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
    if args.write:
        times = load_run_times()
        times["generator_load"] = {"first_s": round(first_s, 1), "cached_s": round(median, 1),
                                   "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, CPU",
                                   "date": datetime.date.today().isoformat()}
        RUN_TIMES_PATH.write_text(json.dumps(times, indent=1) + "\n")
        print(f"wrote {RUN_TIMES_PATH} (generator_load)")


if __name__ == "__main__":
    main()
