"""The objective interface.

An objective is a small class: what it needs (``Caps``), its paper defaults (``defaults``,
merged first when a run's settings resolve), and two loss functions of the discriminator.
The model builder and the trainer read ``Caps`` and the objective's methods; nothing
anywhere branches on an objective's name."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, NamedTuple, Optional, Tuple

import torch
import torch.nn.functional as F

Tensor = torch.Tensor


class DOut(NamedTuple):
    """What a discriminator returns: ``score`` (B,) — a logit, a critic value, or for an
    autoencoder discriminator the per-sample L1 reconstruction error — and ``aux`` (B, k),
    the auxiliary head's output (class logits or infoGAN's Q), or None."""

    score: Tensor
    aux: Optional[Tensor] = None


@dataclass(frozen=True)
class Caps:
    """What an objective needs from the data, the networks and the training loop."""

    needs_labels: bool = False  # real class labels are used by the loss
    aux_head: Optional[str] = None  # kind of D's auxiliary head: "class" | "info" | None
    autoencoder_d: bool = False  # D is an autoencoder whose score is a reconstruction error
    autoencoder_energy: str = "l1"  # that error: mean absolute ("l1", BEGAN) or squared ("mse", EBGAN)
    n_critic: int = 1  # default number of D updates per G update
    weight_clip: bool = False  # D's weights are clipped to [-clip, clip] after each D update
    stateful: bool = False  # carries state updated after each D step (init_state/update_state)
    label_smoothing: bool = False  # D has a real/fake target that one-sided smoothing can soften
    gradient_penalty: bool = False  # D loss differentiates D's input gradient (needs double backward)
    packable: bool = True  # several seeds can train as one vmapped model (bench.pack)
    # conditions on every label attribute of a dataset with several (DatasetInfo.attributes): G's
    # condition and the class head cover each attribute. Objectives that use labels without it are
    # refused on such datasets (bench.validate)
    multi_attribute: bool = False
    # how a step trains: "adversarial" (a D update, and a G update every n_critic steps) or
    # "likelihood" (one loss over both networks, no adversary: the objective's ``loss``; a VAE)
    step: str = "adversarial"


@dataclass
class StepCtx:
    """Per-step inputs besides the samples: real labels, the targets the generator was
    conditioned on, D's real target (label smoothing), and the random stream for penalties."""

    y_real: Optional[Tensor] = None
    cond_target: Any = None
    real_target: float = 1.0
    gen: Optional[torch.Generator] = None
    state: Optional[Dict[str, Tensor]] = None
    batch_dims: int = 1  # leading dims that index samples: (B,), or (K, B) for K packed runs
    gens: Optional[list] = None  # packed runs: one random stream per run (each as in its solo run)
    # several label attributes ((name, classes), ...) where the objective conditions on them
    # (Caps.multi_attribute): y_real and cond_target then hold one column per attribute; () = one label
    attributes: Tuple[Tuple[str, int], ...] = ()

    def rand(self, shape, like: Tensor) -> Tensor:
        """U[0, 1) numbers of ``shape``; for packed runs each run's slice comes from its own
        stream, so a packed run draws exactly what it would draw alone."""
        if self.gens is None:
            return torch.rand(shape, generator=self.gen, device=like.device, dtype=like.dtype)
        return torch.stack([torch.rand(tuple(shape[1:]), generator=g, device=like.device, dtype=like.dtype)
                            for g in self.gens])


# Losses reduce over the sample axis only (``.mean(-1)``): a loss is a scalar for one run and a
# (K,) vector for K packed runs; the trainer backpropagates its sum.
LossOut = Tuple[Tensor, Dict[str, Tensor]]
DFn = Callable[[Tensor], DOut]


class Objective:
    name: str = ""
    caps: Caps = Caps()
    defaults: Dict[str, Any] = {}
    citation: str = ""

    # ---- conditioning (ACGAN, infoGAN) -------------------------------------------------
    # ``num_classes``: the dataset's class count, or for an objective with Caps.multi_attribute on
    # a dataset with several label attributes a tuple of class counts, one per attribute
    def g_cond_dim(self, num_classes: int) -> int:
        """Extra generator inputs concatenated to z."""
        return 0

    def aux_dim(self, num_classes: int, z_dim: int = 0) -> int:
        """Width of D's auxiliary head (0: none); ``z_dim``: the run's latent size."""
        return 0

    def sample_condition(self, n: int, num_classes: int, gen: torch.Generator, device) -> Tuple[Optional[Tensor], Any]:
        """(vector appended to z, or None; the target the auxiliary loss compares against)."""
        return None, None

    # ---- state (BEGAN's k_t) ---------------------------------------------------------
    def init_state(self, device) -> Dict[str, Tensor]:
        return {}

    def update_state(self, state: Dict[str, Tensor], logs: Dict[str, Tensor]) -> None:
        pass

    @property
    def weight_clip(self) -> Optional[float]:
        return None

    # ---- losses -----------------------------------------------------------------------
    def d_loss(self, D: DFn, real: Tensor, fake: Tensor, ctx: StepCtx) -> LossOut:
        raise NotImplementedError

    def g_loss(self, D: DFn, fake: Tensor, ctx: StepCtx) -> LossOut:
        raise NotImplementedError

    def loss(self, encoder: DFn, decoder: Callable[[Tensor], Tensor], real: Tensor, ctx: StepCtx) -> LossOut:
        """The one loss of a ``likelihood`` step (``Caps.step``); adversarial objectives have none."""
        raise NotImplementedError

    @classmethod
    def describe(cls) -> Dict[str, Any]:
        import dataclasses
        import inspect

        params = {k: p.default for k, p in inspect.signature(cls.__init__).parameters.items()
                  if k != "self" and p.default is not inspect.Parameter.empty}
        return {"name": cls.name, "summary": (cls.__doc__ or "").strip().splitlines()[0],
                "caps": dataclasses.asdict(cls.caps), "defaults": cls.defaults,
                "loss_params": params, "citation": cls.citation}


class ClassConditioned(Objective):
    """G conditioned on a uniformly drawn class (one-hot appended to z) and a K-way class head on
    D: the conditioning of ACGAN and CGAN. With several label attributes (``num_classes`` a tuple
    of class counts; objectives with ``Caps.multi_attribute``) each attribute's class is drawn
    uniformly and independently, in attribute order, their one-hots are concatenated, and D's head
    has one block of logits per attribute (``attribute_terms`` splits it)."""

    def g_cond_dim(self, num_classes):
        return sum(_class_counts(num_classes))

    def aux_dim(self, num_classes, z_dim=0):
        return sum(_class_counts(num_classes))

    def sample_condition(self, n, num_classes, gen, device):
        if isinstance(num_classes, tuple):  # several label attributes: (n, K) targets
            ys = [torch.randint(c, (n,), generator=gen, device=device) for c in num_classes]
            return torch.cat([F.one_hot(y, c).float() for y, c in zip(ys, num_classes)], 1), torch.stack(ys, 1)
        y = torch.randint(num_classes, (n,), generator=gen, device=device)
        return F.one_hot(y, num_classes).float(), y


def _class_counts(num_classes) -> Tuple[int, ...]:
    return tuple(num_classes) if isinstance(num_classes, tuple) else (num_classes,)


def attribute_terms(aux: Tensor, target: Tensor, attributes: Tuple[Tuple[str, int], ...]):
    """[(attribute name, its logits, its targets)]: D's class-head output split into one block
    of logits per label attribute and ``target``'s matching column; one label (``attributes``
    empty): [("", aux, target)] unchanged."""
    if not attributes:
        return [("", aux, target)]
    blocks = aux.split([c for _, c in attributes], dim=-1)
    return [(name, logits, target[..., j]) for j, ((name, _), logits) in enumerate(zip(attributes, blocks))]


def accuracy_per_run(logits: Tensor, target: Tensor) -> Tensor:
    """Share of samples whose arg-max logit is the target class, over the sample axis only (a
    scalar for (B, C) logits, one value per run for packed (K, B, C))."""
    return (logits.argmax(-1) == target).float().mean(-1)


# ---- shared pieces ----------------------------------------------------------------------
def bce_logits(s: Tensor, target: float) -> Tensor:
    """Per-sample binary cross-entropy of logits against a constant target t:
    t·softplus(−s) + (1 − t)·softplus(s)  (= −t log σ(s) − (1 − t) log(1 − σ(s)))."""
    if target == 1.0:
        return F.softplus(-s)
    if target == 0.0:
        return F.softplus(s)
    return target * F.softplus(-s) + (1.0 - target) * F.softplus(s)


def gan_d_loss(d_real: Tensor, d_fake: Tensor, real_target: float = 1.0) -> LossOut:
    """The original GAN discriminator loss −E[log D(x)] − E[log(1 − D(G(z)))] on logits,
    with optional one-sided label smoothing of the real target."""
    lr = bce_logits(d_real, real_target).mean(-1)
    lf = bce_logits(d_fake, 0.0).mean(-1)
    return lr + lf, {"d_loss_real": lr, "d_loss_fake": lf}


def input_gradient_norm(D: DFn, x: Tensor) -> Tensor:
    """Per-sample L2 norm of ∂ score / ∂ x, kept differentiable (double backward). The score's
    shape gives the batch dimensions (B,) or, for packed runs, (K, B)."""
    x = x.detach().requires_grad_(True)
    score = D(x).score
    (g,) = torch.autograd.grad(score.sum(), x, create_graph=True)
    return g.flatten(score.dim()).norm(2, dim=-1)


class GradientPenalty:
    """λ · E[(‖∇_x̂ D(x̂)‖₂ − 1)²] at the given points x̂."""

    def __init__(self, weight: float):
        self.weight = float(weight)

    def __call__(self, D: DFn, x_hat: Tensor) -> Tensor:
        return self.weight * (input_gradient_norm(D, x_hat) - 1.0).pow(2).mean(-1)


def uniform_like_batch(x: Tensor, ctx: "StepCtx") -> Tensor:
    """One U[0, 1) number per sample, shaped to broadcast over x."""
    bd = ctx.batch_dims
    return ctx.rand(tuple(x.shape[:bd]) + (1,) * (x.dim() - bd), x)


def cross_entropy_per_run(logits: Tensor, target: Tensor) -> Tensor:
    """Mean cross-entropy over the sample axis only: a scalar for (B, C) logits, one value per
    run for packed (K, B, C) logits, so packed runs never share a loss term."""
    import torch.nn.functional as F

    ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1), reduction="none")
    return ce.view(target.shape).mean(-1)
