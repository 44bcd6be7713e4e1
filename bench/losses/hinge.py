import torch.nn.functional as F

from .base import Caps, Objective, StepCtx
from . import LOSSES


@LOSSES.register("hinge")
class Hinge(Objective):
    """Hinge loss (Lim & Ye 2017; the loss of SN-GAN and BigGAN): D minimises
    E[max(0, 1 − D(x))] + E[max(0, 1 + D(G(z)))], G minimises −E[D(G(z))]; D's output is an
    unbounded score, as for WGAN."""

    name = "hinge"
    label = "Hinge"  # display label (reports)
    caps = Caps(n_critic=5)
    defaults = {"optim": {"name": "adam", "lr": 2e-4, "betas": [0.0, 0.9]}}
    citation = ("Lim & Ye, Geometric GAN, arXiv:1705.02894, 2017; defaults of Miyato et al., Spectral "
                "Normalization for GANs, ICLR 2018 (Adam lr 2e-4, betas 0/0.9, 5 D steps per G step)")

    def d_loss(self, D, real, fake, ctx: StepCtx):
        dr, df = D(real).score, D(fake).score
        lr = F.relu(1.0 - dr).mean(-1)
        lf = F.relu(1.0 + df).mean(-1)
        return lr + lf, {"d_loss_real": lr, "d_loss_fake": lf, "d_real": dr.mean(-1), "d_fake": df.mean(-1)}

    def g_loss(self, D, fake, ctx: StepCtx):
        return -D(fake).score.mean(-1), {}
