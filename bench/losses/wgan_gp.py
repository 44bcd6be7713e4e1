from .base import Caps, GradientPenalty, Objective, StepCtx, uniform_like_batch
from . import LOSSES
from .wgan import critic_d_loss


@LOSSES.register("wgan-gp")
class WGANGP(Objective):
    """Wasserstein critic loss with a gradient penalty on random interpolates (Gulrajani et al., 2017)."""

    name = "wgan-gp"
    label = "WGAN-GP"  # display label (reports)
    caps = Caps(n_critic=5, gradient_penalty=True)
    defaults = {"optim": {"name": "adam", "lr": 1e-4, "betas": [0.0, 0.9]}, "n_critic": 5,
                "model_params": {"d_norm": "none"}}
    citation = ("Gulrajani et al., Improved Training of Wasserstein GANs, NeurIPS 2017 "
                "(Adam lr 1e-4, betas 0/0.9, lambda = 10, n_critic = 5; no batch norm in the critic)")

    def __init__(self, gp_weight: float = 10.0):
        self.penalty = GradientPenalty(gp_weight)

    def d_loss(self, D, real, fake, ctx: StepCtx):
        loss, logs = critic_d_loss(D, real, fake)
        alpha = uniform_like_batch(real, ctx)
        gp = self.penalty(D, alpha * real + (1 - alpha) * fake)
        return loss + gp, {**logs, "penalty": gp}

    def g_loss(self, D, fake, ctx: StepCtx):
        return -D(fake).score.mean(-1), {}
