from .base import Caps, ClassConditioned, StepCtx, bce_logits, cross_entropy_per_run, gan_d_loss
from . import LOSSES


@LOSSES.register("acgan")
class ACGAN(ClassConditioned):
    """Auxiliary-classifier GAN: NS source loss plus class log-likelihood on real and fake
    for D and on fake for G; G is conditioned on a uniformly drawn class (Odena et al., 2017)."""

    name = "acgan"
    label = "ACGAN"  # display label (reports)
    caps = Caps(needs_labels=True, aux_head="class", label_smoothing=True)
    defaults = {"optim": {"name": "adam", "lr": 2e-4, "betas": [0.5, 0.999]}}
    citation = "Odena, Olah, Shlens, Conditional Image Synthesis with Auxiliary Classifier GANs, ICML 2017"

    def __init__(self, class_weight: float = 1.0):
        self.class_weight = float(class_weight)

    def d_loss(self, D, real, fake, ctx: StepCtx):
        r, f = D(real), D(fake)
        loss, logs = gan_d_loss(r.score, f.score, ctx.real_target)
        cls = cross_entropy_per_run(r.aux, ctx.y_real) + cross_entropy_per_run(f.aux, ctx.cond_target)
        return loss + self.class_weight * cls, {**logs, "aux_loss": cls, "d_real": r.score.mean(-1),
                                                "d_fake": f.score.mean(-1)}

    def g_loss(self, D, fake, ctx: StepCtx):
        f = D(fake)
        cls = cross_entropy_per_run(f.aux, ctx.cond_target)
        return bce_logits(f.score, 1.0).mean(-1) + self.class_weight * cls, {"g_aux_loss": cls}
