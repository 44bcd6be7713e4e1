"""The one training loop. It drives a step kind (``SoloStep`` for one run, ``PackedStep`` for
K runs packed by seed) and owns everything around the update itself: the schedule (n_critic
through the step kind, logging, evaluation, checkpoints), fault injection, divergence, run
failures and the records.

``steps`` counts discriminator updates, as the published protocol does. Checkpoints hold
everything needed to continue exactly (networks, optimisers, random streams, objective state,
curves, best scores); a resumed run ends bit-identical to an uninterrupted one on CPU.

What ends a run, per member of the unit:
- a non-finite loss (seen at the next logging, evaluation or checkpoint point) or non-finite
  samples: status ``diverged`` with the step;
- an exception in that member's own work (its evaluation, samples, checkpoint, an injected
  failure): status ``failed`` with the reason and ``traceback.txt``;
- its siblings in a pack go on (the member is frozen). An exception in the shared packed update
  cannot be pinned on one member: ``PackedStepError`` is raised and ``train_unit`` retries the
  members solo. ``InfrastructureError`` (the executor's checkpoint hook failed) is raised, not
  recorded, so the executor retries the trial from its last stored checkpoint."""
from __future__ import annotations

import os
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

import torch

from ..errors import Diverged, InfrastructureError
from ..results import RECORD_NAME, atomic_write_json
from .artifacts import event, write_checkpoint, write_samples
from .policy import g_norm_wanted, mark_bad
from .record import make_record
from .scoring import evaluate_member, finish_selection

CheckpointHook = Callable[[List[Dict[str, Any]]], None]


class PackedStepError(Exception):
    """The shared update of a packed unit raised: no single member can be blamed."""


@dataclass
class Outcome:
    status: str = "done"
    reason: Optional[str] = None
    diverged_step: Optional[int] = None

    @property
    def alive(self) -> bool:
        return self.status == "done"


def injected_failure(spec, step: int) -> bool:
    """``debug.raise_at_step`` (with ``debug.raise_seeds``: only in runs of those seeds)."""
    dbg = spec.debug
    return dbg.raise_at_step is not None and step >= dbg.raise_at_step and (
        dbg.raise_seeds is None or spec.seed in dbg.raise_seeds)


class Loop:
    def __init__(self, kind, outs: Sequence[Optional[Path]], suite: Optional[str] = None, progress: bool = False,
                 on_checkpoint: Optional[CheckpointHook] = None):
        self.kind = kind
        self.members = kind.members
        self.K = len(self.members)
        self.outs = [Path(o) if o is not None else None for o in outs]
        self.suite, self.progress, self.on_checkpoint = suite, progress, on_checkpoint
        self.outcomes = [Outcome() for _ in self.members]
        self.spec = self.members[0].spec  # the schedule is shared: members differ only in seed

    # ---- member outcomes ------------------------------------------------------------------
    def alive(self) -> List[int]:
        return [k for k, o in enumerate(self.outcomes) if o.alive]

    def diverge(self, k: int, step: int, reason: str) -> None:
        self.outcomes[k] = Outcome("diverged", reason, step)
        self.kind.freeze(k)

    def fail(self, k: int, error: BaseException, tb: Optional[str] = None) -> None:
        self.outcomes[k] = Outcome("failed", f"{type(error).__name__}: {error}")
        self.kind.freeze(k)
        out = self.outs[k]
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            (out / "traceback.txt").write_text(tb or traceback.format_exc())

    def guarded(self, k: int, fn: Callable[[], None]) -> None:
        """Run member k's own work; its divergence or failure ends member k only."""
        try:
            fn()
        except Diverged as e:
            self.diverge(k, e.step, str(e))
        except InfrastructureError:
            raise
        except Exception as e:
            self.fail(k, e)

    def sync_divergence(self, first_bad: torch.Tensor) -> None:
        for k, s in enumerate(first_bad.tolist()):
            if s >= 0 and self.outcomes[k].alive:
                self.diverge(k, int(s), f"non-finite loss at step {s}")

    # ---- the loop ---------------------------------------------------------------------------
    def run(self) -> None:
        spec, kind, members = self.spec, self.kind, self.members
        step = members[0].step
        if spec.eval.every and step == 0:
            for k, m in enumerate(members):
                if not m.init:  # the generator at initialisation: the baseline score
                    self.guarded(k, lambda m=m: evaluate_member(m, final=False, init=True))
        crash_at = spec.debug.crash_at_step if step == 0 else None  # only in a run started from scratch
        first_bad = torch.full((self.K,), -1, dtype=torch.long, device=members[0].device)
        bar = self._bar(step)
        t0 = time.perf_counter()
        while step < spec.steps and self.alive():
            for k in self.alive():
                if injected_failure(members[k].spec, step):
                    try:
                        raise RuntimeError(f"injected failure at step {step}")
                    except RuntimeError as e:
                        self.fail(k, e)
            if not self.alive():
                break
            if crash_at is not None and step == crash_at:
                os._exit(70)  # injected: the process dies without cleaning up
            log_now = (step + 1) % spec.log_every == 0 or step + 1 == spec.steps
            g_now = (step + 1) % kind.n_critic == 0
            want_g = g_now and g_norm_wanted(step, kind.n_critic, spec.log_every, spec.steps)
            try:
                d_side, g_side = kind.step(step, want_d_norm=log_now, want_g_norm=want_g)
            except Exception as e:
                if kind.batched:
                    raise PackedStepError(f"{type(e).__name__}: {e}") from e
                self.fail(0, e)
                break
            for side in (d_side, g_side or {}):
                for key in kind.loss_keys:  # the step kind's losses: a non-finite one diverges the run
                    if key in side:
                        first_bad = mark_bad(first_bad, side[key], step)
            step += 1
            for k in self.alive():
                m = members[k]
                m.step = step
                if g_side is not None:
                    m.g_steps += 1
                    m.last_g.update({n: self._pick(v, k) for n, v in g_side.items()})
            ev_now = bool(spec.eval.every) and step % spec.eval.every == 0 and step < spec.steps
            ck_now = step % spec.checkpoint_every == 0 or step == spec.steps
            if log_now or ev_now or ck_now:
                self.sync_divergence(first_bad)
            if log_now:
                now = time.perf_counter()
                share, t0 = (now - t0) / self.K, now
                for k in self.alive():
                    m = members[k]
                    m.train_s += share
                    for name, v in {**{n: self._pick(v, k) for n, v in d_side.items()}, **m.last_g}.items():
                        m.log(name, step, float(v))
                    m.throughput.append([step, step / max(m.train_s, 1e-9)])  # timing: kept out of curves
                if bar is not None:
                    key = kind.loss_keys[0]
                    bar.set_postfix({key: f"{float(d_side[key].float().mean()):.3f}"})
            if bar is not None:
                bar.update(1)
            if ev_now or ck_now:
                share = (time.perf_counter() - t0) / self.K
                for k in self.alive():
                    members[k].train_s += share
                self._evaluate_and_checkpoint(step, ev_now, ck_now)
                t0 = time.perf_counter()
        share = (time.perf_counter() - t0) / self.K
        for k in self.alive():
            members[k].train_s += share
        for k, o in enumerate(self.outcomes):  # a diverged run reports its checkpoints chosen before
            if o.status == "diverged" and members[k].best_step and not members[k].best:
                self.guarded(k, lambda m=members[k]: finish_selection(m))
        if bar is not None:
            bar.close()

    def _pick(self, v: torch.Tensor, k: int) -> torch.Tensor:
        return v[k] if self.kind.batched else v

    def _bar(self, step: int):
        if not self.progress:
            return None
        from tqdm.auto import tqdm

        s = self.spec
        seeds = ",".join(str(m.spec.seed) for m in self.members)
        return tqdm(total=s.steps, initial=step, desc=f"{s.loss}/{s.dataset}/s{seeds}", unit="step",
                    dynamic_ncols=True, leave=False)

    def _evaluate_and_checkpoint(self, step: int, ev_now: bool, ck_now: bool) -> None:
        final = step == self.spec.steps
        self.kind.sync_members()
        for k in self.alive():
            m, out = self.members[k], self.outs[k]
            if ev_now or final:
                self.guarded(k, lambda m=m: evaluate_member(m, final=final))
            if final and self.outcomes[k].alive:
                self.guarded(k, lambda m=m: finish_selection(m))
            if ck_now and out is not None and self.outcomes[k].alive:
                self.guarded(k, lambda m=m, out=out: self._checkpoint(m, out))
        written = [k for k in self.alive() if ck_now and self.outs[k] is not None]
        if written and self.on_checkpoint is not None:
            recs = [make_record(self.members[k].spec, self.members[k], "running" if not final else "done", None,
                                None, None, self.suite, self.outs[k]) for k in written]
            try:
                self.on_checkpoint(recs)
            except Exception as e:
                raise InfrastructureError(f"checkpoint hook failed: {type(e).__name__}: {e}") from e

    def _checkpoint(self, m, out: Path) -> None:
        write_samples(m, out)
        write_checkpoint(m, out)
        if m.step < m.spec.steps:
            atomic_write_json(out / RECORD_NAME, make_record(m.spec, m, "running", None, None, None, self.suite, out))

    # ---- records ------------------------------------------------------------------------------
    def records(self, wall_s: float, metas: Optional[Sequence[Dict[str, Any]]] = None) -> List[Dict[str, Any]]:
        recs = []
        for k, (m, out, o) in enumerate(zip(self.members, self.outs, self.outcomes)):
            rec = make_record(m.spec, m, o.status, o.reason, o.diverged_step, wall_s / self.K, self.suite, out)
            rec["search"] = dict((metas[k] if metas else None) or {})
            if self.K > 1:
                rec["cost"]["packed"] = self.K
            try:
                write_record(rec, out)
            except OSError as e:  # e.g. a full disk: the previous record stays (atomic writes)
                rec = self._unwritten(rec, out, e)
            recs.append(rec)
        return recs

    @staticmethod
    def _unwritten(rec: Dict[str, Any], out: Optional[Path], error: OSError) -> Dict[str, Any]:
        """The run's final record could not be written: the run is ``failed`` with that reason
        (written if the disk now takes it; else the previous record on disk stands, and a rerun
        resumes from the last checkpoint that was written whole)."""
        rec = dict(rec, status="failed", reason=f"could not write {RECORD_NAME}: {type(error).__name__}: {error}")
        try:
            write_record(rec, out)
        except OSError:
            pass
        return rec


def write_record(rec: Dict[str, Any], out: Optional[Path]) -> None:
    if out is not None:
        atomic_write_json(out / RECORD_NAME, rec)
        event(out, "end", rec["counts"]["d_steps"], rec["status"])
