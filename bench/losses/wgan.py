from .base import Caps, Objective, StepCtx
from . import LOSSES


def critic_d_loss(D, real, fake):
    dr, df = D(real).score, D(fake).score
    lr, lf = -dr.mean(-1), df.mean(-1)
    return lr + lf, {"d_loss_real": lr, "d_loss_fake": lf, "d_real": dr.mean(-1), "d_fake": df.mean(-1)}


@LOSSES.register("wgan")
class WGAN(Objective):
    """Wasserstein GAN with weight clipping (Arjovsky et al., 2017)."""

    name = "wgan"
    label = "WGAN"  # display label (reports)
    caps = Caps(n_critic=5, weight_clip=True)
    defaults = {"optim": {"name": "rmsprop", "lr": 5e-5}, "n_critic": 5}
    citation = "Arjovsky, Chintala, Bottou, Wasserstein GAN, ICML 2017 (RMSProp lr 5e-5, c = 0.01, n_critic = 5)"

    def __init__(self, clip: float = 0.01):
        if clip <= 0:
            raise ValueError(f"clip must be > 0, got {clip}")
        self.clip = float(clip)

    @property
    def weight_clip(self):
        return self.clip

    def d_loss(self, D, real, fake, ctx: StepCtx):
        return critic_d_loss(D, real, fake)

    def g_loss(self, D, fake, ctx: StepCtx):
        return -D(fake).score.mean(-1), {}
