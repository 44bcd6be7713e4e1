from .base import Caps, ClassConditioned, StepCtx, bce_logits, gan_d_loss
from . import LOSSES


def _projected(out, y):
    """The class-conditional logit of a projection discriminator: psi(phi(x)) + <w_y, phi(x)>.
    D's class head is a linear map of the features phi(x) to K outputs, so its y-th output is
    exactly the inner product with the embedding w_y of class y."""
    return out.score + out.aux.gather(-1, y.unsqueeze(-1)).squeeze(-1)


@LOSSES.register("cgan")
class ConditionalGAN(ClassConditioned):
    """Conditional GAN: G and D both see the class (Mirza & Osindero, 2014), with D conditioned
    by projection (Miyato & Koyama, 2018) and the non-saturating loss; G is conditioned on a
    uniformly drawn class (one-hot appended to z)."""

    name = "cgan"
    label = "CGAN"  # display label (reports)
    caps = Caps(needs_labels=True, aux_head="class", label_smoothing=True)
    defaults = {"optim": {"name": "adam", "lr": 2e-4, "betas": [0.5, 0.999]}}
    citation = ("Mirza & Osindero, Conditional Generative Adversarial Nets, arXiv:1411.1784, 2014; projection "
                "discriminator of Miyato & Koyama, cGANs with Projection Discriminator, ICLR 2018")

    def d_loss(self, D, real, fake, ctx: StepCtx):
        dr, df = _projected(D(real), ctx.y_real), _projected(D(fake), ctx.cond_target)
        loss, logs = gan_d_loss(dr, df, ctx.real_target)
        return loss, {**logs, "d_real": dr.mean(-1), "d_fake": df.mean(-1)}

    def g_loss(self, D, fake, ctx: StepCtx):
        return bce_logits(_projected(D(fake), ctx.cond_target), 1.0).mean(-1), {}
