from .base import Caps, Objective, StepCtx, bce_logits, gan_d_loss
from . import LOSSES


@LOSSES.register("ns")
class NonSaturating(Objective):
    """Non-saturating GAN: G maximises log D(G(z)) (Goodfellow et al., 2014)."""

    name = "ns"
    label = "NS GAN"  # display label (reports)
    caps = Caps(label_smoothing=True)
    defaults = {"optim": {"name": "adam", "lr": 2e-4, "betas": [0.5, 0.999]}}
    citation = ("Goodfellow et al., Generative Adversarial Nets, NeurIPS 2014; "
                "Adam settings of Radford et al., ICLR 2016")

    def d_loss(self, D, real, fake, ctx: StepCtx):
        dr, df = D(real).score, D(fake).score
        loss, logs = gan_d_loss(dr, df, ctx.real_target)
        return loss, {**logs, "d_real": dr.mean(-1), "d_fake": df.mean(-1)}

    def g_loss(self, D, fake, ctx: StepCtx):
        return bce_logits(D(fake).score, 1.0).mean(-1), {}
