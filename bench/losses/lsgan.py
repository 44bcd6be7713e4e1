import torch

from .base import Caps, Objective, StepCtx
from . import LOSSES
from ..errors import ConfigError

FORMS = ("lucic2018", "mao2017")


@LOSSES.register("lsgan")
class LeastSquares(Objective):
    """Least-squares GAN with targets a = 0 (fake), b = 1 (real), c = 1 (Mao et al., 2017):
    D minimises ½E[(D(x) − 1)²] + ½E[D(G(z))²], G minimises ½E[(D(G(z)) − 1)²].

    ``form`` says what D(·) is: ``lucic2018`` (default) the sigmoid of D's output, as in
    compare_gan's ``least_squares`` (the code behind Lucic et al. 2018, the comparison users
    reproduce); ``mao2017`` D's raw linear output, as in the paper."""

    name = "lsgan"
    label = "LSGAN"  # display label (reports)
    caps = Caps(label_smoothing=True)
    defaults = {"optim": {"name": "adam", "lr": 2e-4, "betas": [0.5, 0.999]}}
    citation = ("Mao et al., Least Squares Generative Adversarial Networks, ICCV 2017 (½ factors; "
                "form lucic2018: on sigmoid outputs, as google/compare_gan loss_lib.least_squares)")

    def __init__(self, form: str = "lucic2018"):
        if form not in FORMS:
            raise ConfigError(f"loss_params.form: unknown LSGAN form {form!r}; valid: {', '.join(FORMS)} "
                              f"(lucic2018: on sigmoid outputs, as compare_gan; mao2017: on raw outputs)")
        self.form = form

    def _out(self, score):
        return torch.sigmoid(score) if self.form == "lucic2018" else score

    def d_loss(self, D, real, fake, ctx: StepCtx):
        dr, df = self._out(D(real).score), self._out(D(fake).score)
        lr = 0.5 * (dr - ctx.real_target).pow(2).mean(-1)
        lf = 0.5 * df.pow(2).mean(-1)
        return lr + lf, {"d_loss_real": lr, "d_loss_fake": lf, "d_real": dr.mean(-1), "d_fake": df.mean(-1)}

    def g_loss(self, D, fake, ctx: StepCtx):
        return 0.5 * (self._out(D(fake).score) - 1.0).pow(2).mean(-1), {}
