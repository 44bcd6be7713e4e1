"""The ganbench command line: train | eval | run | collect | status | report | list."""
from __future__ import annotations
from .errors import CLIError  # noqa: F401

import argparse
import json
import os
import re
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

from . import suite_cli

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


def _parse_value(text: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def parse_sets(items: Optional[List[str]]) -> Dict[str, Any]:
    """``--set optim.lr=1e-4 --set stabilise.label_smoothing=0.1`` -> nested dict."""
    out: Dict[str, Any] = {}
    for item in items or []:
        if "=" not in item:
            raise CLIError(f"--set expects KEY=VALUE (e.g. optim.lr=1e-4), got {item!r}")
        key, val = item.split("=", 1)
        node = out
        parts = key.strip().split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = _parse_value(val)
    return out


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return v


def cmd_train(a) -> int:
    from .train import train
    from .validate import resolve

    layer: Dict[str, Any] = {"dataset": a.dataset}
    for key, val in [("model", a.model), ("steps", a.steps), ("batch_size", a.batch_size), ("seed", a.seed),
                     ("log_every", a.log_every), ("checkpoint_every", a.checkpoint_every)]:
        if val is not None:
            layer[key] = val
    ev: Dict[str, Any] = {}
    if a.extractor is not None:
        ev["extractor"] = a.extractor
    if a.num_samples is not None:
        ev["num_samples"] = a.num_samples
    if a.eval_every is not None:
        ev["every"] = a.eval_every
    if ev:
        layer["eval"] = ev
    runtime = {"device": a.device, "data_root": a.data_root, "threads": a.threads}
    spec = resolve(a.loss, layer, parse_sets(a.set), {k: v for k, v in runtime.items() if v is not None},
                   where="command line")
    _check_device(spec.device)
    safe_ds = re.sub(r"[^A-Za-z0-9._-]+", "_", spec.dataset).strip("_")[-60:]  # folder:/a/b?size=64 -> one name
    out = Path(a.out) if a.out else Path("results") / "single" / f"{spec.loss}-{safe_ds}-s{spec.seed}-{spec.run_id}"
    print(f"run {spec.run_id}: {spec.loss} on {spec.dataset} ({spec.steps} D steps) -> {out}", file=sys.stderr)
    rec = train(spec, out, progress=not a.no_progress)
    summary = {"run_id": rec["run_id"], "status": rec["status"], "reason": rec["reason"], "out": str(out),
               "steps_per_s": rec["cost"]["steps_per_s"], "final": rec["metrics"]["final"]}
    print(json.dumps(summary, indent=1))
    return 0 if rec["status"] in ("done", "diverged") else 1


def _check_device(device: str) -> None:
    import torch

    if device.startswith("cuda") and not torch.cuda.is_available():
        raise CLIError(f"--device {device}: CUDA is not available on this machine; use --device cpu")
    if not (device == "cpu" or device.startswith("cuda")):
        raise CLIError(f"--device {device!r}: valid choices are cpu, cuda, cuda:N")


def cmd_eval(a) -> int:
    from .rescore import rescore

    res = rescore(Path(a.run_dir), extractor=a.extractor, num_samples=a.num_samples, device=a.device,
                  data_root=a.data_root)
    print(json.dumps(res, indent=1, default=str))
    return 0


def cmd_list(a) -> int:
    from .data import DATASETS, splits_of
    from .losses import LOSSES
    from .models import ARCHS, arch_params

    if a.what == "losses":
        rows = [{**cls.describe(), "name": n, "source": LOSSES.source(n)} for n, cls in LOSSES.items()]
        if a.json:
            print(json.dumps(rows, indent=1))
        else:
            for r in rows:
                caps = ", ".join(f"{k}={v}" for k, v in r["caps"].items() if v not in (False, None))
                print(f"{r['name']:9s} {r['summary']}\n          source: {r['source']}\n          needs: {caps}\n"
                      f"          defaults: {json.dumps(r['defaults'])}  params: {json.dumps(r['loss_params'])}\n"
                      f"          cite: {r['citation']}")
    elif a.what == "datasets":
        rows = [{"name": n, "kind": i.kind, "shape": list(i.shape), "classes": i.num_classes,
                 "splits": list(splits_of(i)), "needs_data_root": i.needs_root, "description": i.description,
                 "source": DATASETS.source(n)}
                for n, i in DATASETS.items()]
        if a.json:
            print(json.dumps(rows, indent=1))
        else:
            for r in rows:
                print(f"{r['name']:14s} {r['kind']:6s} {'x'.join(map(str, r['shape'])):8s} {r['source']:10s} "
                      f"{r['description']}")
            print("user datasets, named by their files (bench/data/user.py): folder:PATH (images; class "
                  "sub-folders = labels), npz:PATH / npy:PATH (arrays x [, y]); images take ?size=S&crop=C&mode=gray|rgb, "
                  "e.g. folder:/data/anime?size=64&crop=160")
    elif a.what == "models":
        rows = [{"name": n, "params": arch_params(n), "summary": _first_line(sys.modules[fn.__module__].__doc__),
                 "source": ARCHS.source(n)} for n, fn in ARCHS.items()]
        if a.json:
            print(json.dumps(rows, indent=1))
        else:
            for r in rows:
                print(f"{r['name']:8s} {r['source']:10s} {r['summary']}  params: {json.dumps(r['params'])}")
    elif a.what == "suites":
        from .suite import list_suites

        rows = list_suites(Path(a.suites_dir))
        if a.json:
            print(json.dumps(rows, indent=1))
        else:
            for r in rows:
                print(f"{r['file']:28s} {r['name']:16s} runs: {r['runs']:5d}  {r.get('description', '')}")
    return 0


def _first_line(doc: Optional[str]) -> str:
    lines = (doc or "").strip().splitlines()
    return lines[0] if lines else ""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ganbench", description="Benchmark GAN objectives fairly.")
    sub = p.add_subparsers(dest="cmd", required=True)

    t = sub.add_parser("train", help="train one run and write its record, checkpoints and samples")
    t.add_argument("--loss", required=True, help="objective name (ganbench list losses)")
    t.add_argument("--dataset", required=True, help="dataset name (ganbench list datasets)")
    t.add_argument("--model", help="architecture: dcgan, infogan, mlp (default: mlp for 2-D data, dcgan for images)")
    t.add_argument("--steps", type=_positive_int, help="discriminator updates (protocol count)")
    t.add_argument("--batch-size", type=_positive_int)
    t.add_argument("--seed", type=int)
    t.add_argument("--device", default=None, help="cpu (default), cuda or cuda:N")
    t.add_argument("--out", help="output folder (default results/single/<loss>-<dataset>-s<seed>-<run_id>)")
    t.add_argument("--data-root", help="folder holding real datasets (default $GANBENCH_DATA)")
    t.add_argument("--threads", type=_positive_int, help="torch CPU threads")
    t.add_argument("--log-every", type=_positive_int)
    t.add_argument("--checkpoint-every", type=_positive_int)
    t.add_argument("--eval-every", type=int, help="evaluate every N steps (0: only at the end)")
    t.add_argument("--extractor", help="auto, classifier, inception, inception-offline, modes, none")
    t.add_argument("--num-samples", type=_positive_int, help="generated samples for evaluation")
    t.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="any run setting, e.g. optim.lr=1e-4, loss_params.gp_weight=5, stabilise.label_smoothing=0.1")
    t.add_argument("--no-progress", action="store_true")
    t.set_defaults(fn=cmd_train)

    e = sub.add_parser("eval", help="re-score a finished run's final checkpoint")
    e.add_argument("run_dir")
    e.add_argument("--extractor")
    e.add_argument("--num-samples", type=_positive_int)
    e.add_argument("--device", default="cpu")
    e.add_argument("--data-root")
    e.set_defaults(fn=cmd_eval)

    ls = sub.add_parser("list", help="list losses, datasets, models or suites")
    ls.add_argument("what", choices=["losses", "datasets", "models", "suites"])
    ls.add_argument("--json", action="store_true")
    ls.add_argument("--suites-dir", default="suites")
    ls.set_defaults(fn=cmd_list)

    suite_cli.add_commands(sub)
    return p


def main(argv: Optional[List[str]] = None) -> int:
    from .errors import GanbenchError

    parser = build_parser()
    a = parser.parse_args(argv)
    try:
        return a.fn(a)
    except (GanbenchError, FileNotFoundError) as e:
        print(f"ganbench {a.cmd}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
