from .base import Caps, Objective, StepCtx
from . import LOSSES


@LOSSES.register("lsgan")
class LeastSquares(Objective):
    """Least-squares GAN with targets a = 0 (fake), b = 1 (real), c = 1 (Mao et al., 2017)."""

    name = "lsgan"
    label = "LSGAN"  # display label (reports)
    caps = Caps(label_smoothing=True)
    defaults = {"optim": {"name": "adam", "lr": 2e-4, "betas": [0.5, 0.999]}}
    citation = "Mao et al., Least Squares Generative Adversarial Networks, ICCV 2017"

    def d_loss(self, D, real, fake, ctx: StepCtx):
        dr, df = D(real).score, D(fake).score
        lr = (dr - ctx.real_target).pow(2).mean(-1)
        lf = df.pow(2).mean(-1)
        return lr + lf, {"d_loss_real": lr, "d_loss_fake": lf, "d_real": dr.mean(-1), "d_fake": df.mean(-1)}

    def g_loss(self, D, fake, ctx: StepCtx):
        return (D(fake).score - 1.0).pow(2).mean(-1), {}
