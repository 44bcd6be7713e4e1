"""The relativistic standard GAN (RSGAN) as a ganbench objective.

Jolicoeur-Martineau, "The relativistic discriminator: a key element missing from standard GAN",
ICLR 2019, arXiv:1807.00734. With C the critic (D's raw score) and (x_r, x_f) paired real and fake
samples, the discriminator estimates the probability that the real sample is more realistic than
the fake one, sigma(C(x_r) - C(x_f)):

    L_D = E[softplus(-(C(x_r) - C(x_f)))]        (= -E log sigma(C(x_r) - C(x_f)))
    L_G = E[softplus(-(C(x_f) - C(x_r)))]        (= -E log sigma(C(x_f) - C(x_r)))

The generator's loss needs D's scores of the real batch as well: ganbench's objective interface
passes ``g_loss`` the same per-step context (``StepCtx``) that the step's ``d_loss`` received, so
``d_loss`` keeps that step's real batch on it and ``g_loss`` scores it again with the updated D
(the paper's Algorithm 1 samples a real minibatch in the generator step too). Losses reduce over
the sample axis only (``.mean(-1)``), so K packed seeds give K losses."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from bench.losses import LOSSES, Caps, Objective, StepCtx

_REAL = "example_rsgan_real"  # the StepCtx attribute holding this step's real batch


def rsgan_d_loss(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """softplus(-(C(x_r) - C(x_f))), averaged over the sample axis."""
    return F.softplus(-(d_real - d_fake)).mean(-1)


def rsgan_g_loss(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """softplus(-(C(x_f) - C(x_r))), averaged over the sample axis."""
    return F.softplus(-(d_fake - d_real)).mean(-1)


@LOSSES.register("example-rsgan")
class RSGAN(Objective):
    """Relativistic standard GAN: D scores how much more realistic a real sample is than a fake one
    (Jolicoeur-Martineau, 2019)."""

    name = "example-rsgan"
    caps = Caps()
    # the paper's settings for its standard-GAN comparisons: Adam, lr 2e-4, betas (0.5, 0.999)
    defaults = {"optim": {"name": "adam", "lr": 2e-4, "betas": [0.5, 0.999]}}
    citation = ("Jolicoeur-Martineau, The relativistic discriminator: a key element missing from standard GAN, "
                "ICLR 2019, arXiv:1807.00734 (Adam lr 2e-4, betas (0.5, 0.999))")

    def d_loss(self, D, real, fake, ctx: StepCtx):
        setattr(ctx, _REAL, real)
        dr, df = D(real).score, D(fake).score
        loss = rsgan_d_loss(dr, df)
        return loss, {"d_real": dr.mean(-1), "d_fake": df.mean(-1)}

    def g_loss(self, D, fake, ctx: StepCtx):
        real = getattr(ctx, _REAL, None)
        if real is None:
            raise RuntimeError("example-rsgan: g_loss needs the real batch of the step's d_loss "
                               "(it was called with a StepCtx that d_loss did not see)")
        with torch.no_grad():  # C(x_r) is a constant for G; D's weights are frozen anyway
            dr = D(real).score
        return rsgan_g_loss(dr, D(fake).score), {}
