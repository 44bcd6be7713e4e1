"""The shipped suite quick-learns: the quick suite's grid and equal settings with the smallest
measured D-step budget in which the objectives learn (README, "The quick suite")."""
from pathlib import Path

import pytest

from bench.config import to_dict
from bench.suite import budget_problems, list_suites, load_suite

SUITES = Path(__file__).resolve().parents[1] / "suites"
LEARNS = SUITES / "quick-learns.yaml"
LOSSES = ["mm", "ns", "lsgan", "wgan", "wgan-gp", "dragan", "began", "acgan", "infogan"]
PAPER_N_CRITIC = {"wgan": 5, "wgan-gp": 5}  # the objectives' own settings, kept at their paper values
NO_BATCH_NORM_IN_D = {"wgan-gp", "dragan"}


@pytest.fixture(scope="module")
def suites():
    return load_suite(LEARNS), load_suite(SUITES / "quick.yaml")


def test_loads_and_is_listed(suites):
    s, _ = suites
    assert s.name == "quick-learns" and s.search is None
    assert s.unequal_budgets is None and not s.allow_unequal_budgets and budget_problems(s) == []
    row = next(r for r in list_suites(SUITES) if r["file"].endswith("quick-learns.yaml"))
    assert row["name"] == "quick-learns" and row["runs"] == 9 * 2 * 3


def test_same_grid_as_quick_and_no_per_objective_settings(suites):
    s, quick = suites
    assert s.grid == quick.grid
    assert s.grid["loss"] == LOSSES and s.grid["dataset"] == ["ring8", "mnist-5k"] and s.grid["seed"] == [0, 1, 2]
    assert not s.overrides and s.fixed == quick.fixed and s.resources == quick.resources


def _shared(spec):
    """What every objective must share on a dataset: everything but the objective itself."""
    d = to_dict(spec)
    for k in ("loss", "seed", "n_critic", "loss_params"):
        d.pop(k)
    d["model_params"].pop("d_norm", None)
    return d


def test_equal_settings_across_objectives(suites):
    s, quick = suites
    runs = s.plan_grid()
    assert len(runs) == 54
    by_ds = {}
    for p in runs:
        spec = p.spec
        by_ds.setdefault((spec.dataset, spec.seed), []).append(spec)
        # only what an objective alone has keeps its paper value
        assert spec.n_critic == PAPER_N_CRITIC.get(spec.loss) and spec.loss_params == {}
        assert spec.model_params.get("d_norm") == ("none" if spec.loss in NO_BATCH_NORM_IN_D else None)
        assert spec.optim.name == "adam" and tuple(spec.optim.betas) == (0.5, 0.999)
        assert spec.optim.lr_g is None and spec.optim.lr_d is None
        assert 1e-4 <= spec.optim.lr <= 1e-3  # Lucic et al.'s narrow range
    for (ds, seed), specs in by_ds.items():
        assert sorted(sp.loss for sp in specs) == sorted(LOSSES)
        first = _shared(specs[0])
        for sp in specs[1:]:
            assert _shared(sp) == first, (ds, sp.loss)
    # the same networks, batch, learning rate, checkpoints and evaluation as quick: only the D-step
    # budget is longer
    q = {(p.spec.dataset, p.spec.loss, p.spec.seed): p.spec for p in quick.plan_grid()}
    for p in runs:
        a, b = to_dict(p.spec), to_dict(q[(p.spec.dataset, p.spec.loss, p.spec.seed)])
        assert a.pop("steps") > b.pop("steps")
        assert a == b, (p.spec.dataset, p.spec.loss)
    assert {d: s.datasets[d]["steps"] for d in s.datasets} == {"ring8": 16000, "mnist-5k": 3750}
