"""Paired timing helper for ratio benchmarks: the two sides run interleaved in the same
process, and each side's best round is kept (the least disturbed by other load)."""
import time


def best_of(fn, rounds):
    best = float("inf")
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def paired(benchmark, ours, baseline, rounds=3, warmup=1, label="ratio"):
    """Runs ``ours`` under pytest-benchmark and ``baseline`` interleaved with it; returns
    ours/baseline (best rounds) and records both in benchmark.extra_info."""
    for _ in range(warmup):
        ours()
        baseline()
    base_times = []

    def setup():
        t = time.perf_counter()
        baseline()
        base_times.append(time.perf_counter() - t)

    benchmark.pedantic(ours, setup=setup, rounds=rounds, iterations=1)
    t_ours = benchmark.stats.stats.min
    t_base = min(base_times)
    ratio = t_ours / t_base
    benchmark.extra_info.update({"ours_s": t_ours, "baseline_s": t_base, label: ratio})
    print(f"\n{benchmark.name}: ours {t_ours * 1e3:.1f} ms, baseline {t_base * 1e3:.1f} ms, {label} {ratio:.3f}")
    return ratio
