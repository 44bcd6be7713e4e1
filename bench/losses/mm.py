from .base import Caps, Objective, StepCtx, gan_d_loss
from . import LOSSES
import torch.nn.functional as F


@LOSSES.register("mm")
class Minimax(Objective):
    """Minimax GAN: the original saturating game (Goodfellow et al., 2014)."""

    name = "mm"
    label = "MM GAN"  # display label (reports)
    caps = Caps(label_smoothing=True)
    defaults = {"optim": {"name": "adam", "lr": 2e-4, "betas": [0.5, 0.999]}}
    citation = ("Goodfellow et al., Generative Adversarial Nets, NeurIPS 2014; "
                "Adam settings of Radford et al., ICLR 2016")

    def d_loss(self, D, real, fake, ctx: StepCtx):
        dr, df = D(real).score, D(fake).score
        loss, logs = gan_d_loss(dr, df, ctx.real_target)
        return loss, {**logs, "d_real": dr.mean(-1), "d_fake": df.mean(-1)}

    def g_loss(self, D, fake, ctx: StepCtx):
        # L_G = E[log(1 − D(G(z)))] = −E[softplus(s)] on logits s: saturates when D wins.
        return -F.softplus(D(fake).score).mean(-1), {}
