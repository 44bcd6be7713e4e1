from .base import (Caps, ClassConditioned, StepCtx, accuracy_per_run, attribute_terms, bce_logits,
                   cross_entropy_per_run, gan_d_loss)
from . import LOSSES


@LOSSES.register("acgan")
class ACGAN(ClassConditioned):
    """Auxiliary-classifier GAN: NS source loss plus class log-likelihood on real and fake
    for D and on fake for G; G is conditioned on a uniformly drawn class (Odena et al., 2017).

    Several label attributes (a dataset with ``attributes``, e.g. hair and eye colour; Caps.
    multi_attribute): G is conditioned on one uniformly drawn class per attribute (their one-hots
    concatenated), D's head has one block of logits per attribute, and the class term is the *sum*
    of the per-attribute cross-entropies. That sum is the paper's L_C = E[log P(C = c | X)] for
    the joint class c = (c_1, ..., c_K) under a head that factorises over attributes,
    log P(c | X) = sum_k log P(c_k | X); it is also what multi-attribute conditional GANs use
    (StarGAN's domain classification loss, Choi et al. 2018, sums over attributes). A mean would
    weigh each attribute 1/K. Per attribute the D step logs the head's accuracy on real samples
    (``aux_acc_real.<name>``) and on generated ones for the classes G was asked for
    (``aux_acc_fake.<name>``), and its cross-entropy (``aux_loss.<name>``, real + fake), so a
    collapse of the auxiliary term shows in the curves. One label: the terms and logs of before."""

    name = "acgan"
    label = "ACGAN"  # display label (reports)
    caps = Caps(needs_labels=True, aux_head="class", label_smoothing=True, multi_attribute=True)
    defaults = {"optim": {"name": "adam", "lr": 2e-4, "betas": [0.5, 0.999]}}
    citation = "Odena, Olah, Shlens, Conditional Image Synthesis with Auxiliary Classifier GANs, ICML 2017"

    def __init__(self, class_weight: float = 1.0):
        self.class_weight = float(class_weight)

    @staticmethod
    def class_term(aux, target, ctx: StepCtx):
        """(sum over attributes of the cross-entropies, [(name, logits, targets, cross-entropy)])."""
        terms = [(n, lg, t, cross_entropy_per_run(lg, t)) for n, lg, t in attribute_terms(aux, target, ctx.attributes)]
        total = terms[0][3]
        for term in terms[1:]:
            total = total + term[3]
        return total, terms

    def d_loss(self, D, real, fake, ctx: StepCtx):
        r, f = D(real), D(fake)
        loss, logs = gan_d_loss(r.score, f.score, ctx.real_target)
        cls_r, per_r = self.class_term(r.aux, ctx.y_real, ctx)
        cls_f, per_f = self.class_term(f.aux, ctx.cond_target, ctx)
        cls = cls_r + cls_f
        logs = {**logs, "aux_loss": cls, "d_real": r.score.mean(-1), "d_fake": f.score.mean(-1)}
        if ctx.attributes:
            for (name, lr, tr, ce_r), (_, lf, tf, ce_f) in zip(per_r, per_f):
                logs[f"aux_loss.{name}"] = ce_r + ce_f
                logs[f"aux_acc_real.{name}"] = accuracy_per_run(lr, tr)
                logs[f"aux_acc_fake.{name}"] = accuracy_per_run(lf, tf)
        return loss + self.class_weight * cls, logs

    def g_loss(self, D, fake, ctx: StepCtx):
        f = D(fake)
        cls, _ = self.class_term(f.aux, ctx.cond_target, ctx)
        return bce_logits(f.score, 1.0).mean(-1) + self.class_weight * cls, {"g_aux_loss": cls}
