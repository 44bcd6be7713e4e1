"""GPU check: one short prepared measurement of the CUDA paths, written as a JSON summary.

    python tests/perf/gpu_check.py --out gpu_check.json            # on a machine with a CUDA GPU
    python tests/perf/gpu_check.py --device cpu --steps 5 --fid-samples 200   # a smoke run anywhere

Measures, on the MNIST network of the protocol (``infogan`` architecture, batch 64, NS loss):
steps/s unpacked and packed at K = 1, 8, 32; unpacked with the fast paths (bf16 autocast +
channels_last; torch.compile); and the time to score 10,000 generated samples with FID
(``inception-offline``, the 2015-12-05 Inception network) against cached reference statistics.
Uses mnist-5k (shipped) unless --dataset/--data-root name real data."""
from __future__ import annotations

import argparse
import json
import platform
import time

import torch


def sync(device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def steps_per_s(fn, steps, device, warmup=3):
    for i in range(warmup):
        fn(i)
    sync(device)
    t = time.perf_counter()
    for i in range(steps):
        fn(warmup + i)
    sync(device)
    return steps / (time.perf_counter() - t)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--dataset", default="mnist-5k")
    ap.add_argument("--data-root")
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--packs", default="1,8,32")
    ap.add_argument("--fid-samples", type=int, default=10000)
    ap.add_argument("--out", default="gpu_check.json")
    a = ap.parse_args()
    if a.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("gpu_check: no CUDA device here (use --device cpu for a smoke run)")

    from bench.validate import resolve
    from bench.engine import PackedStep, Run, SoloStep
    from bench.train import device_name

    base = {"dataset": a.dataset, "model": "infogan", "batch_size": 64, "steps": 10 ** 6, "log_every": 10 ** 6,
            "eval": {"extractor": "none"}, "device": a.device, "data_root": a.data_root}
    out = {"device": device_name(torch.device(a.device)), "torch": torch.__version__, "platform": platform.platform(),
           "steps": a.steps, "network": "infogan (Lucic et al. 2018), batch 64, ns"}

    def unpacked(fast):
        run = Run(resolve("ns", base, {"fast": fast}))
        run.attach_data()
        return SoloStep(run).step

    res = {"unpacked": steps_per_s(unpacked({}), a.steps, a.device)}
    for name, fast in [("bf16+channels_last", {"bf16": True, "channels_last": True}), ("compile", {"compile": True})]:
        try:
            res[f"unpacked {name}"] = steps_per_s(unpacked(fast), a.steps, a.device, warmup=5)
        except Exception as e:  # report, do not hide
            res[f"unpacked {name}"] = f"failed: {type(e).__name__}: {e}"
    for k in [int(x) for x in a.packs.split(",")]:
        pk = PackedStep([resolve("ns", base, {"seed": s}) for s in range(k)])
        for r in pk.members:
            r.attach_data()
        sps = steps_per_s(pk.step, a.steps, a.device)
        res[f"packed K={k}"] = sps
        res[f"packed K={k} run-steps/s"] = sps * k
    out["steps_per_s"] = res

    from bench.config import EvalSpec
    from bench.metrics import evaluate

    run = Run(resolve("ns", base))
    spec = EvalSpec(extractor="inception-offline", metrics=["fid"], num_samples=a.fid_samples, batch_size=250)
    t = time.perf_counter()
    evaluate(run.sample_fn(0), a.dataset, spec, device=a.device, data_root=a.data_root)
    first = time.perf_counter() - t
    t = time.perf_counter()
    s = evaluate(run.sample_fn(0), a.dataset, spec, device=a.device, data_root=a.data_root)
    out["fid"] = {"num_samples": a.fid_samples, "n_real": s.provenance.get("n_real"), "extractor": "inception-offline",
                  "first_call_s": first, "cached_reference_s": time.perf_counter() - t}
    with open(a.out, "w") as fh:
        json.dump(out, fh, indent=1)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
