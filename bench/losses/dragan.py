from .base import Caps, GradientPenalty, Objective, StepCtx, bce_logits, gan_d_loss, uniform_like_batch
from . import LOSSES


@LOSSES.register("dragan")
class DRAGAN(Objective):
    """Non-saturating GAN plus a gradient penalty on perturbed real data (Kodali et al., 2017).

    x_p = x + 0.5·std(x)·u with u ~ U[0, 1] elementwise, x̂ = x + α(x_p − x), α ~ U[0, 1]."""

    name = "dragan"
    label = "DRAGAN"  # display label (reports)
    caps = Caps(label_smoothing=True, gradient_penalty=True)
    defaults = {"optim": {"name": "adam", "lr": 1e-4, "betas": [0.5, 0.9]},
                "model_params": {"d_norm": "none"}}
    citation = ("Kodali et al., On Convergence and Stability of GANs, arXiv:1705.07215, 2017 "
                "(lambda = 10, perturbation 0.5 std; Adam lr 1e-4, betas 0.5/0.9 from the authors' code)")

    def __init__(self, gp_weight: float = 10.0, perturb_scale: float = 0.5):
        self.penalty = GradientPenalty(gp_weight)
        self.perturb_scale = float(perturb_scale)

    def d_loss(self, D, real, fake, ctx: StepCtx):
        dr, df = D(real).score, D(fake).score
        loss, logs = gan_d_loss(dr, df, ctx.real_target)
        u = ctx.rand(real.shape, real)
        bd = ctx.batch_dims  # std(x) over each run's whole batch
        std = real.reshape(*real.shape[:bd - 1], -1).std(-1).reshape(*real.shape[:bd - 1], *([1] * (real.dim() - bd + 1)))
        x_p = real + self.perturb_scale * std * u
        alpha = uniform_like_batch(real, ctx)
        gp = self.penalty(D, real + alpha * (x_p - real))
        return loss + gp, {**logs, "penalty": gp, "d_real": dr.mean(-1), "d_fake": df.mean(-1)}

    def g_loss(self, D, fake, ctx: StepCtx):
        return bce_logits(D(fake).score, 1.0).mean(-1), {}
