"""Seed packing and fast paths on this machine, as ratios against a baseline in the same run.
On CPU the packing gain is small (the large gain is a GPU matter: tests/perf/gpu_check.py)."""
import torch
from timing import paired

from bench.validate import resolve
from bench.engine import PackedStep, Run, SoloStep

K, STEPS = 8, 10
BASE = {"dataset": "mnist-5k", "model": "dcgan", "model_params": {"width": 16}, "batch_size": 32,
        "steps": 10 ** 6, "log_every": 10 ** 6, "eval": {"extractor": "none"}}


def solo_steps(specs):
    runs = [SoloStep(Run(s)) for s in specs]
    for r in runs:
        r.run.attach_data()
    state = {"i": 0}

    def go():
        for r in runs:
            for i in range(state["i"], state["i"] + STEPS):
                _, _, fake, ctx, _ = r.d_update(i, keep_fake=True)
                r.g_update(i, fake, ctx)
        state["i"] += STEPS
    go.runs = runs
    return go


def packed_steps(specs):
    pk = PackedStep(specs)
    for r in pk.members:
        r.attach_data()
    state = {"i": 0}

    def go():
        for i in range(state["i"], state["i"] + STEPS):
            pk.step(i)
        state["i"] += STEPS
    return go


def test_packed_k8_vs_8_sequential(benchmark):
    specs = [resolve("ns", BASE, {"seed": s}) for s in range(K)]
    ratio = paired(benchmark, packed_steps(specs), solo_steps(specs), rounds=2, label="packed/sequential")
    assert ratio < 2.0  # loose: on CPU packing must not be much slower than running the seeds one by one


def test_fast_paths_vs_plain(benchmark):
    """Reports fast/plain time ratios; asserts only what does not depend on the CPU: both paths
    train (finite weights that moved). bf16 on a CPU without native bf16 units is emulated and
    measured 5-15x slower than float32 on AVX2 machines, so no ratio bound is meaningful here;
    whether the fast paths pay off is checked on a GPU (tests/perf/gpu_check.py)."""
    ratios = {}
    for name, fast in [("channels_last", {"channels_last": True}), ("bf16", {"bf16": True})]:
        plain = solo_steps([resolve("ns", BASE)])
        f = solo_steps([resolve("ns", BASE, {"fast": fast})])
        before = _weights(f)
        t_plain = min(_time(plain) for _ in range(2))
        t_fast = min(_time(f) for _ in range(2))
        after = _weights(f)
        assert torch.isfinite(after).all(), name
        assert not torch.equal(before, after), f"{name}: the fast path did not update the weights"
        ratios[name] = t_fast / t_plain
    benchmark.extra_info.update({f"{k}/plain": v for k, v in ratios.items()})
    print("\nfast/plain on this CPU:", {k: round(v, 3) for k, v in ratios.items()})
    benchmark.pedantic(lambda: None, rounds=1)


def _weights(go):
    run = go.runs[0].run
    return torch.cat([p.detach().float().flatten() for p in run.G.parameters()]
                     + [p.detach().float().flatten() for p in run.D.parameters()]).clone()


def _time(fn):
    import time

    t = time.perf_counter()
    fn()
    return time.perf_counter() - t
