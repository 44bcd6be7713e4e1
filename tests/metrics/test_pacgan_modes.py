"""eval.mode_threshold: PacGAN's definition of a covered mode (>= 1 high-quality sample) beside
ganbench's default (>= 20 of 2,500), on hand-placed points; the setting's validation, its
provenance and run ids."""
import math

import pytest
import torch

from bench.config import EvalSpec, RunSpec
from bench.data.toy import ring8_modes
from bench.errors import MetricsError
from bench.metrics import check_eval_settings, evaluate, mixture_mode_metrics
from bench.metrics.modes import mode_threshold_count

STD = 0.02


def hand_placed():
    """2,500 points: 2,490 exactly on mode 0, one point 1 std off mode 1 (high quality), nine at
    the origin (low quality: 2 = 100 std from every mode)."""
    modes = ring8_modes()
    x = torch.cat([modes[0].repeat(2490, 1), (modes[1] + torch.tensor([STD, 0.0]))[None], torch.zeros(9, 2)])
    return x, modes


def test_one_high_quality_point_covers_a_mode_under_pacgan_only():
    x, modes = hand_placed()
    pac = mixture_mode_metrics(x, modes, STD, threshold="pacgan")["values"]
    gb = mixture_mode_metrics(x, modes, STD, threshold="ganbench")["values"]
    default = mixture_mode_metrics(x, modes, STD)["values"]
    assert pac["modes_covered"] == 2  # mode 0 and, by its single point, mode 1
    assert gb["modes_covered"] == 1 == default["modes_covered"]  # 1 < 20 of 2,500
    assert mixture_mode_metrics(x, modes, STD, threshold=2)["values"]["modes_covered"] == 1
    for v in (pac, gb):
        assert v["high_quality_fraction"] == pytest.approx(2491 / 2500)
        p = torch.tensor([2490, 1], dtype=torch.float64) / 2491
        h = float(-(p * p.log()).sum())
        assert v["mode_entropy"] == pytest.approx(h, abs=1e-12)
        assert v["mode_kl"] == pytest.approx(math.log(8) - h, abs=1e-12)  # reverse KL = ln K - H


def test_pacgan_high_quality_is_strictly_below_3_std():
    modes = ring8_modes()
    edge = (modes[2] + torch.tensor([0.0, 3 * STD], dtype=torch.float64))[None].float()
    x = torch.cat([modes[0].repeat(10, 1), edge.double().float()])
    d = float(torch.cdist(x[-1:].double(), modes.double()).min())
    if d < 3 * STD:  # float rounding put it inside: nudge it just outside
        x[-1, 1] += 1e-6
    assert mixture_mode_metrics(x, modes, STD, threshold="pacgan")["values"]["modes_covered"] == 1


def test_threshold_counts():
    assert mode_threshold_count("ganbench", 2500) == 20 and mode_threshold_count("ganbench", 1000) == 8
    assert mode_threshold_count("pacgan", 2500) == 1 and mode_threshold_count(5, 2500) == 5


@pytest.mark.parametrize("bad", ["PacGAN", "metz", 0, -1, 2.5, True, None])
def test_bad_threshold_is_refused_with_the_choices(bad):
    from bench.data import DATASETS

    with pytest.raises(MetricsError) as e:
        check_eval_settings({"mode_threshold": bad}, DATASETS.get("ring8"))
    msg = str(e.value)
    assert "eval.mode_threshold" in msg and "'ganbench'" in msg and "'pacgan'" in msg and "integer" in msg


def test_threshold_in_provenance_and_run_ids():
    x, _ = hand_placed()
    fn = lambda n: x[:n]  # noqa: E731
    s = evaluate(fn, "ring8", EvalSpec(num_samples=2500, metrics=[], mode_threshold="pacgan"))
    assert s.values["modes_covered"] == 2
    assert s.provenance["mode_threshold_name"] == "pacgan" and "1 high-quality" in s.provenance["mode_threshold"]
    d = evaluate(fn, "ring8", EvalSpec(num_samples=2500, metrics=[]))
    assert d.values["modes_covered"] == 1 and d.provenance["mode_threshold_name"] == "ganbench"
    assert d.provenance["mode_threshold"] == "a mode counts with >= 20 of 2500 samples within 3 std (PacGAN's 20/2500)"
    # the default leaves every run id as it was; another threshold is another run
    base = RunSpec(loss="ns", dataset="ring8")
    assert "mode_threshold" not in base.identity()["eval"]
    other = RunSpec(loss="ns", dataset="ring8", eval=EvalSpec(mode_threshold="pacgan"))
    assert other.identity()["eval"]["mode_threshold"] == "pacgan" and other.run_id != base.run_id
