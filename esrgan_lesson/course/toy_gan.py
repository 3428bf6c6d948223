"""A 2-D toy problem for the relativistic average GAN chapter (ESRGAN Sec. 3.2).

ESRGAN replaces SRGAN's discriminator ``D(x) = sigmoid(C(x))`` ("is x real?")
with the relativistic average one ``D_Ra(x_r, x_f) = sigmoid(C(x_r) - E[C(x_f)])``
("is x_r more real than the average fake?"), Eq. 1-2 of the paper and
Jolicoeur-Martineau (ICLR 2019). On images the difference is hard to see; on
points in the plane it can be drawn. This module holds the toy:

- :func:`toy_clouds`: a "real" point cloud (a noisy ring) and a "fake" one
  (a Gaussian blob inside it), (N, 2) float32 tensors.
- :class:`ToyCritic`: a small MLP ``C: R^2 -> R`` returning raw logits (N, 1).
- :func:`train_critic`: full-batch Adam on the discriminator loss of
  :class:`esrgan_lesson.losses.GANLoss` (``standard`` or ``ragan``).
- :func:`decision_map`: the discriminator's output over a grid of the plane,
  ``sigmoid(C(x))`` or ``sigmoid(C(x) - E[C(x_f)])``.
- :func:`generator_gradients`: gradients of the generator loss with respect
  to the fake points, the real points, and the critic's logits of each.
- :func:`plot_toy_panel` / :func:`toy_figure`: the decision map with the fake
  points' descent directions drawn as arrows.

The losses themselves are not redefined here: everything goes through
:mod:`esrgan_lesson.losses`, the code the image GAN trains with.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import math

import torch
from torch import nn

from esrgan_lesson.losses import GANLoss, GANType
from esrgan_lesson.paper import LEAKY_SLOPE

if TYPE_CHECKING:  # pragma: no cover - type hints only
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "CriticTrace",
    "ToyCritic",
    "ToyGradients",
    "decision_map",
    "generator_gradients",
    "plot_toy_panel",
    "toy_clouds",
    "toy_figure",
    "train_critic",
]

#: Radius and radial noise of the real ring, centre and spread of the fake blob.
RING_RADIUS = 1.5
RING_NOISE = 0.15
FAKE_CENTRE = (0.35, 0.2)
FAKE_STD = 0.45
#: Half-width of the square [-EXTENT, EXTENT]^2 the figures show.
EXTENT = 2.5


def toy_clouds(n: int = 256, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Real and fake 2-D samples, each (n, 2) float32.

    Real: points on a ring of radius :data:`RING_RADIUS` with Gaussian radial
    noise :data:`RING_NOISE`. Fake: an isotropic Gaussian blob at
    :data:`FAKE_CENTRE` with standard deviation :data:`FAKE_STD`, i.e. a
    generator that has not yet learnt to spread its samples out to the ring.
    Both come from one CPU generator seeded with ``seed``.
    """
    if n < 1:
        raise ValueError(f"n must be positive, got {n}")
    g = torch.Generator().manual_seed(seed)
    angle = torch.rand(n, generator=g, dtype=torch.float64) * 2 * math.pi
    radius = RING_RADIUS + RING_NOISE * torch.randn(n, generator=g, dtype=torch.float64)
    real = torch.stack([radius * angle.cos(), radius * angle.sin()], dim=1)
    fake = torch.tensor(FAKE_CENTRE, dtype=torch.float64) + FAKE_STD * torch.randn(n, 2, generator=g, dtype=torch.float64)
    return real.float(), fake.float()


class ToyCritic(nn.Module):
    """The critic ``C``: an MLP 2 -> hidden -> hidden -> 1 with LeakyReLU(0.2).

    Input (N, 2) points; output (N, 1) raw logits (the losses apply the sigmoid).
    """

    def __init__(self, hidden: int = 32) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(2, hidden), nn.LeakyReLU(LEAKY_SLOPE),
            nn.Linear(hidden, hidden), nn.LeakyReLU(LEAKY_SLOPE),
            nn.Linear(hidden, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 2 or x.shape[1] != 2:
            raise ValueError(f"ToyCritic expects (N, 2) points, got {tuple(x.shape)}")
        return self.net(x)


@dataclass
class CriticTrace:
    """Discriminator loss per step of :func:`train_critic` and the last mean logits."""

    losses: list[float]
    real_logit_mean: float
    fake_logit_mean: float


def train_critic(critic: nn.Module, real: torch.Tensor, fake: torch.Tensor, gan_type: GANType,
                 steps: int = 200, lr: float = 1e-2) -> CriticTrace:
    """Train ``critic`` in place with the ``gan_type`` discriminator loss; the fakes stay fixed.

    Full-batch Adam for ``steps`` steps on ``GANLoss(gan_type).d_loss(C(real), C(fake))``
    (:func:`~esrgan_lesson.losses.standard_d_loss` or
    :func:`~esrgan_lesson.losses.ragan_d_loss`). Deterministic given the
    critic's initial weights. Returns the loss of every step.
    """
    if steps < 1:
        raise ValueError(f"steps must be positive, got {steps}")
    loss_fn = GANLoss(gan_type)
    opt = torch.optim.Adam(critic.parameters(), lr=lr)
    real, fake = real.detach(), fake.detach()
    losses = []
    critic.train()
    for _ in range(steps):
        loss = loss_fn.d_loss(critic(real), critic(fake))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    critic.eval()
    with torch.no_grad():
        r, f = critic(real).mean(), critic(fake).mean()
    return CriticTrace(losses, float(r), float(f))


@torch.no_grad()
def decision_map(critic: nn.Module, gan_type: GANType, fake: torch.Tensor | None = None,
                 extent: float = EXTENT, resolution: int = 101) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The discriminator's output at every point of a square grid.

    ``standard``: ``D(x) = sigmoid(C(x))``, the probability that ``x`` is real.
    ``ragan``: ``D_Ra(x, x_f) = sigmoid(C(x) - mean C(fake))``, the probability
    that ``x`` is more real than the average fake (``fake`` is required).

    Returns ``(xs, ys, values)``: (resolution,) grid coordinates in
    [-extent, extent] and (resolution, resolution) values in [0, 1], with
    ``values[i, j]`` at the point ``(xs[j], ys[i])``.
    """
    xs = torch.linspace(-extent, extent, resolution)
    ys = torch.linspace(-extent, extent, resolution)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    logits = critic(torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1)).reshape(resolution, resolution)
    if gan_type == "ragan":
        if fake is None:
            raise ValueError("the relativistic map needs the fake samples (their mean logit is the reference)")
        logits = logits - critic(fake).mean()
    elif gan_type != "standard":
        raise ValueError(f"gan_type must be 'standard' or 'ragan', got {gan_type!r}")
    return xs, ys, torch.sigmoid(logits)


@dataclass
class ToyGradients:
    """Gradients of the (unweighted) generator loss, all exact autograd values.

    ``fake`` / ``real``: d L_G / d x, (N, 2) each; ``fake_logits`` /
    ``real_logits``: d L_G / d C(x), (N, 1) each. A quantity the loss does not
    depend on at all has an all-zero gradient (not ``None``).
    """

    loss: float
    fake: torch.Tensor
    real: torch.Tensor
    fake_logits: torch.Tensor
    real_logits: torch.Tensor


def generator_gradients(critic: nn.Module, real: torch.Tensor, fake: torch.Tensor, gan_type: GANType) -> ToyGradients:
    """Differentiate ``GANLoss(gan_type, weight=1).g_loss(C(real), C(fake))``.

    The critic is held fixed (its parameters get no gradient). The gradient
    with respect to the fake points is what a generator that produced them
    would receive; the gradient with respect to the real points and their
    logits says whether real data enters the generator's loss at all.
    """
    real = real.detach().clone().requires_grad_(True)
    fake = fake.detach().clone().requires_grad_(True)
    params = list(critic.parameters())
    saved = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(False)
    try:
        real_logits = critic(real)
        fake_logits = critic(fake)
        loss = GANLoss(gan_type, weight=1.0).g_loss(real_logits, fake_logits)
        g_rl, g_fl, g_r, g_f = torch.autograd.grad(
            loss, (real_logits, fake_logits, real, fake), allow_unused=True, materialize_grads=True)
    finally:
        for p, flag in zip(params, saved):
            p.requires_grad_(flag)
    return ToyGradients(float(loss.detach()), g_f.detach(), g_r.detach(), g_fl.detach(), g_rl.detach())


def plot_toy_panel(ax: "Axes", critic: nn.Module, real: torch.Tensor, fake: torch.Tensor, gan_type: GANType,
                   title: str | None = None, extent: float = EXTENT, arrows: int = 60) -> None:
    """Draw the decision map, both clouds and the generator's descent directions on ``ax``.

    The background is :func:`decision_map` (colour scale 0-1, the 0.5 level
    drawn as a line); arrows show ``-d L_G / d x_f`` at the first ``arrows``
    fake points, all scaled by one common factor per panel so that their
    lengths compare within it.
    """
    xs, ys, values = decision_map(critic, gan_type, fake, extent)
    mesh = ax.pcolormesh(xs.numpy(), ys.numpy(), values.numpy(), cmap="RdBu_r", vmin=0, vmax=1, shading="auto")
    ax.contour(xs.numpy(), ys.numpy(), values.numpy(), levels=[0.5], colors="k", linewidths=1)
    ax.scatter(real[:, 0], real[:, 1], s=6, c="darkred", label="real")
    ax.scatter(fake[:, 0], fake[:, 1], s=6, c="navy", label="fake")
    grads = generator_gradients(critic, real, fake, gan_type)
    step = -grads.fake[:arrows]
    pts = fake[:arrows]
    ax.quiver(pts[:, 0], pts[:, 1], step[:, 0], step[:, 1], color="gold", angles="xy", width=0.006)
    ax.set_xlim(-extent, extent)
    ax.set_ylim(-extent, extent)
    ax.set_aspect("equal")
    if title:
        ax.set_title(title)
    ax.figure.colorbar(mesh, ax=ax, fraction=0.046, pad=0.04)


def toy_figure(panels: Sequence[tuple[nn.Module, GANType, str]], real: torch.Tensor, fake: torch.Tensor,
               size: float = 4.2) -> "Figure":
    """One :func:`plot_toy_panel` per ``(critic, gan_type, title)``, side by side.

    Returns the figure already closed in pyplot, so a notebook shows it once
    (as the cell's value).
    """
    import matplotlib.pyplot as plt

    if not panels:
        raise ValueError("toy_figure needs at least one panel")
    fig = plt.figure(figsize=(size * len(panels), size), layout="constrained")
    plt.close(fig)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (critic, gan_type, title) in zip(axes, panels):
        plot_toy_panel(ax, critic, real, fake, gan_type, title)
    axes[0].legend(loc="lower left", fontsize=8)
    return fig
