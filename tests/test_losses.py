"""Loss values on fixed discriminator outputs against hand computations."""
import math

import pytest
import torch

from bench.losses import LOSSES, DOut, StepCtx


def sp(x):  # softplus, by hand
    return math.log1p(math.exp(x))


R = [1.0, -0.5, 2.0]
F_ = [-1.0, 0.3, 0.0]


def ident_D(x):
    """A 'discriminator' whose score is its (B, 1) input: fixed outputs for fixed inputs."""
    return DOut(x[:, 0])


def col(v):
    return torch.tensor(v, dtype=torch.float64).unsqueeze(1)


def mean(v):
    return sum(v) / len(v)


def test_ns_and_mm_d_loss_and_g_loss():
    expected_d = mean([sp(-r) for r in R]) + mean([sp(f) for f in F_])
    for name in ("ns", "mm"):
        loss, logs = LOSSES.get(name)().d_loss(ident_D, col(R), col(F_), StepCtx())
        assert loss.item() == pytest.approx(expected_d, rel=1e-12)
        assert logs["d_loss_real"].item() == pytest.approx(mean([sp(-r) for r in R]), rel=1e-12)
    g_ns, _ = LOSSES.get("ns")().g_loss(ident_D, col(F_), StepCtx())
    assert g_ns.item() == pytest.approx(mean([-math.log(1 / (1 + math.exp(-f))) for f in F_]), rel=1e-12)
    g_mm, _ = LOSSES.get("mm")().g_loss(ident_D, col(F_), StepCtx())
    assert g_mm.item() == pytest.approx(mean([math.log(1 - 1 / (1 + math.exp(-f))) for f in F_]), rel=1e-12)


def test_one_sided_label_smoothing():
    t = 0.9
    loss, _ = LOSSES.get("ns")().d_loss(ident_D, col(R), col(F_), StepCtx(real_target=t))
    sig = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    real = mean([-(t * math.log(sig(r)) + (1 - t) * math.log(1 - sig(r))) for r in R])
    fake = mean([-math.log(1 - sig(f)) for f in F_])
    assert loss.item() == pytest.approx(real + fake, rel=1e-12)


def test_lsgan_both_forms():
    sig = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    for form, out in [("mao2017", lambda v: v), ("lucic2018", sig)]:
        obj = LOSSES.get("lsgan")(form=form)
        loss, _ = obj.d_loss(ident_D, col(R), col(F_), StepCtx())
        want = 0.5 * mean([(out(r) - 1) ** 2 for r in R]) + 0.5 * mean([out(f) ** 2 for f in F_])
        assert loss.item() == pytest.approx(want, rel=1e-12), form
        g, _ = obj.g_loss(ident_D, col(F_), StepCtx())
        assert g.item() == pytest.approx(0.5 * mean([(out(f) - 1) ** 2 for f in F_]), rel=1e-12), form
    # the default is the form of compare_gan (Lucic et al. 2018): on D's sigmoid outputs
    assert LOSSES.get("lsgan")().form == "lucic2018"
    # one-sided label smoothing moves the real target
    loss, _ = LOSSES.get("lsgan")(form="mao2017").d_loss(ident_D, col(R), col(F_), StepCtx(real_target=0.9))
    assert loss.item() == pytest.approx(0.5 * mean([(r - 0.9) ** 2 for r in R]) + 0.5 * mean([f ** 2 for f in F_]))


def test_lsgan_form_is_checked():
    from bench.errors import ConfigError
    from bench.validate import resolve

    with pytest.raises(ConfigError, match="form.*lucic2018, mao2017"):
        resolve("lsgan", {"dataset": "ring8", "loss_params": {"form": "paper"}})


def test_wgan():
    obj = LOSSES.get("wgan")()
    loss, _ = obj.d_loss(ident_D, col(R), col(F_), StepCtx())
    assert loss.item() == pytest.approx(mean(F_) - mean(R), rel=1e-12)
    assert obj.g_loss(ident_D, col(F_), StepCtx())[0].item() == pytest.approx(-mean(F_))
    assert obj.weight_clip == 0.01 and obj.caps.n_critic == 5


class Linear:
    """Critic D(x) = w·x: its input gradient is w everywhere, so the penalty is λ(‖w‖ − 1)²."""

    def __init__(self, w):
        self.w = torch.tensor(w, dtype=torch.float64)

    def __call__(self, x):
        return DOut(x.flatten(1) @ self.w)


@pytest.mark.parametrize("w", [[3.0, 4.0], [0.6, 0.8], [0.1, 0.0]])
def test_wgan_gp_penalty_closed_form(w):
    D = Linear(w)
    real = torch.tensor([[1.0, 2.0], [0.0, -1.0], [3.0, 1.0]], dtype=torch.float64)
    fake = torch.tensor([[0.5, 0.5], [2.0, 2.0], [-1.0, 0.0]], dtype=torch.float64)
    loss, logs = LOSSES.get("wgan-gp")(gp_weight=10.0).d_loss(D, real, fake, StepCtx(gen=torch.Generator().manual_seed(0)))
    norm = math.hypot(*w)
    assert logs["penalty"].item() == pytest.approx(10 * (norm - 1) ** 2, abs=1e-12)
    critic = (fake @ D.w).mean() - (real @ D.w).mean()
    assert loss.item() == pytest.approx(critic.item() + 10 * (norm - 1) ** 2, rel=1e-12)


def test_dragan_penalty_closed_form():
    w = [2.0, 0.0, 0.0]
    D = Linear(w)
    real = torch.randn(5, 3, dtype=torch.float64)
    fake = torch.randn(5, 3, dtype=torch.float64)
    _, logs = LOSSES.get("dragan")(gp_weight=10.0).d_loss(D, real, fake, StepCtx(gen=torch.Generator().manual_seed(1)))
    assert logs["penalty"].item() == pytest.approx(10 * (2.0 - 1.0) ** 2, abs=1e-12)


def test_gradient_penalty_on_a_quadratic_critic():
    # D(x) = ½‖x‖² has ∇D(x̂) = x̂: with real = fake the interpolate is the point itself.
    D = lambda x: DOut(0.5 * x.flatten(1).pow(2).sum(1))  # noqa: E731
    x = torch.tensor([[3.0, 4.0], [0.0, 2.0]], dtype=torch.float64)
    _, logs = LOSSES.get("wgan-gp")(gp_weight=1.0).d_loss(D, x, x.clone(), StepCtx(gen=torch.Generator().manual_seed(0)))
    assert logs["penalty"].item() == pytest.approx(((5 - 1) ** 2 + (2 - 1) ** 2) / 2, abs=1e-12)


def test_began_losses_and_k_update():
    obj = LOSSES.get("began")(gamma=0.5, lambda_k=0.001)
    state = obj.init_state("cpu")
    assert state["k"].item() == 0.0
    recon = lambda x: DOut(x[:, 0])  # noqa: E731  (score = reconstruction error)
    lx, lg = [0.4, 0.6], [0.1, 0.3]  # L(x) = 0.5, L(G(z)) = 0.2
    state["k"] = torch.tensor(0.3, dtype=torch.float64)
    loss, logs = obj.d_loss(recon, col(lx), col(lg), StepCtx(state=state))
    assert loss.item() == pytest.approx(0.5 - 0.3 * 0.2)
    assert logs["convergence_M"].item() == pytest.approx(0.5 + abs(0.5 * 0.5 - 0.2))
    obj.update_state(state, logs)
    assert state["k"].item() == pytest.approx(0.3 + 0.001 * (0.5 * 0.5 - 0.2))
    # clipped to [0, 1]
    state["k"] = torch.tensor(0.99995, dtype=torch.float64)
    obj.update_state(state, {"recon_real": torch.tensor(1.0), "recon_fake": torch.tensor(0.0)})
    assert state["k"].item() == 1.0
    state["k"] = torch.tensor(0.0, dtype=torch.float64)
    obj.update_state(state, {"recon_real": torch.tensor(0.0), "recon_fake": torch.tensor(1.0)})
    assert state["k"].item() == 0.0
    assert obj.g_loss(recon, col(lg), StepCtx())[0].item() == pytest.approx(0.2)


def test_acgan_class_terms():
    obj = LOSSES.get("acgan")()
    aux_r = torch.tensor([[2.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    aux_f = torch.tensor([[0.5, 0.5], [1.0, -1.0]], dtype=torch.float64)
    s_r, s_f = [1.0, 2.0], [0.0, -1.0]
    table = {}

    def D(x):
        return table[int(x[0, 0].item())]

    table[0] = DOut(torch.tensor(s_r, dtype=torch.float64), aux_r)
    table[1] = DOut(torch.tensor(s_f, dtype=torch.float64), aux_f)
    real, fake = torch.zeros(2, 1, dtype=torch.float64), torch.ones(2, 1, dtype=torch.float64)
    y_r, y_f = torch.tensor([0, 1]), torch.tensor([1, 0])
    loss, logs = obj.d_loss(D, real, fake, StepCtx(y_real=y_r, cond_target=y_f))

    def ce(logits, y):
        return mean([math.log(sum(math.exp(v) for v in row)) - row[t] for row, t in zip(logits.tolist(), y.tolist())])

    src = mean([sp(-r) for r in s_r]) + mean([sp(f) for f in s_f])
    assert loss.item() == pytest.approx(src + ce(aux_r, y_r) + ce(aux_f, y_f), rel=1e-12)
    g, _ = obj.g_loss(D, fake, StepCtx(cond_target=y_f))
    assert g.item() == pytest.approx(mean([sp(-f) for f in s_f]) + ce(aux_f, y_f), rel=1e-12)


def test_infogan_information_term():
    obj = LOSSES.get("infogan")(cat_dim=2, cont_dim=1, lambda_cat=1.0, lambda_cont=0.1)
    aux = torch.tensor([[1.0, 0.0, 0.5], [0.0, 0.0, -0.2]], dtype=torch.float64)
    c, u = torch.tensor([0, 1]), torch.tensor([[0.0], [0.2]], dtype=torch.float64)
    ce = mean([math.log(math.e + 1) - 1, math.log(2)])
    gauss = mean([0.5 * 0.5 ** 2, 0.5 * 0.4 ** 2])
    assert obj.info_loss(aux, (c, u)).item() == pytest.approx(ce + 0.1 * gauss, rel=1e-12)
    cond, (cc, uu) = obj.sample_condition(4, 10, torch.Generator().manual_seed(0), "cpu")
    assert cond.shape == (4, 3) and cond[:, :2].sum(1).eq(1).all() and uu.abs().le(1).all()


def test_every_objective_declares_defaults_and_citation():
    for name, cls in LOSSES.items():
        d = cls.describe()
        assert d["citation"] and d["summary"] and "optim" in cls.defaults, name


def test_hinge():
    obj = LOSSES.get("hinge")()
    loss, logs = obj.d_loss(ident_D, col(R), col(F_), StepCtx())
    # by hand: max(0, 1 - r) for R = [1, -0.5, 2] -> [0, 1.5, 0]; max(0, 1 + f) for F = [-1, 0.3, 0] -> [0, 1.3, 1]
    assert logs["d_loss_real"].item() == pytest.approx(1.5 / 3, rel=1e-12)
    assert logs["d_loss_fake"].item() == pytest.approx(2.3 / 3, rel=1e-12)
    assert loss.item() == pytest.approx(3.8 / 3, rel=1e-12)
    g, _ = obj.g_loss(ident_D, col(F_), StepCtx())
    assert g.item() == pytest.approx(-(-1 + 0.3 + 0) / 3, rel=1e-12)
    assert obj.caps.n_critic == 5


def test_cgan_projection():
    """D's score plus the class head's output for the sample's class, in the NS loss."""
    obj = LOSSES.get("cgan")()

    def D(x):  # score = x0; class head = the next 3 columns
        return DOut(x[:, 0], x[:, 1:4])
    real = torch.tensor([[0.5, 1.0, -1.0, 0.0], [-0.2, 0.0, 2.0, 0.3]], dtype=torch.float64)
    fake = torch.tensor([[0.1, 0.4, 0.0, -0.5], [1.0, 0.0, 0.0, 0.0]], dtype=torch.float64)
    y_real, y_fake = torch.tensor([0, 1]), torch.tensor([2, 1])
    loss, _ = obj.d_loss(D, real, fake, StepCtx(y_real=y_real, cond_target=y_fake))
    lr = [0.5 + 1.0, -0.2 + 2.0]  # by hand: score + head[y]
    lf = [0.1 - 0.5, 1.0 + 0.0]
    assert loss.item() == pytest.approx(mean([sp(-v) for v in lr]) + mean([sp(v) for v in lf]), rel=1e-12)
    g, _ = obj.g_loss(D, fake, StepCtx(cond_target=y_fake))
    assert g.item() == pytest.approx(mean([sp(-v) for v in lf]), rel=1e-12)
    assert obj.caps.needs_labels


def test_ebgan_margin_and_pull_away():
    obj = LOSSES.get("ebgan")(margin=1.0, pt_weight=0.5)
    codes_fake = torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 2.0]], dtype=torch.float64)

    def D(x):  # energy = x0; code = the next two columns
        return DOut(x[:, 0], x[:, 1:3])
    real = torch.tensor([[0.2, 0, 0], [0.4, 0, 0]], dtype=torch.float64)
    fake = torch.cat([torch.tensor([[0.5], [1.5], [0.0]], dtype=torch.float64), codes_fake], 1)
    loss, _ = obj.d_loss(D, real, fake, StepCtx())
    # by hand: mean(0.2, 0.4) + mean(max(0, 1 - 0.5), max(0, 1 - 1.5), max(0, 1 - 0)) = 0.3 + 1.5 / 3
    assert loss.item() == pytest.approx(0.3 + 0.5, rel=1e-12)
    # pull-away by hand: cosines of (1,0),(1,1),(0,2): 1/sqrt2, 0, 1/sqrt2 -> squares 1/2, 0, 1/2,
    # each pair counted twice over i != j: (2 * 1) / (3 * 2) = 1/3
    g, logs = obj.g_loss(D, fake, StepCtx())
    assert logs["pull_away"].item() == pytest.approx(1 / 3, rel=1e-12)
    assert g.item() == pytest.approx((0.5 + 1.5 + 0.0) / 3 + 0.5 / 3, rel=1e-12)
    assert obj.caps.autoencoder_energy == "mse"


def test_autoencoder_energy_is_the_objectives():
    from bench.engine import Run
    from bench.validate import resolve

    x = torch.rand(4, 1, 28, 28) * 2 - 1
    for loss, energy in [("ebgan", "mse"), ("began", "l1")]:
        D = Run(resolve(loss, {"dataset": "mnist-5k", "model_params": {"width": 8}})).D
        with torch.no_grad():
            out = D(x)
            err = D.reconstruct(x) - x
        want = err.pow(2) if energy == "mse" else err.abs()
        assert torch.allclose(out.score, want.flatten(1).mean(1)), loss
