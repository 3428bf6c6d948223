"""The 2-D toy of the RaGAN chapter: data, critic training, decision maps, generator gradients."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from esrgan_lesson.course import toy_gan
from esrgan_lesson.course.toy_gan import ToyCritic, decision_map, generator_gradients, toy_clouds, toy_figure, train_critic


class FirstCoordinate(nn.Module):
    """A critic with known logits: C(x) = x[:, 0] (one parameter-free linear map)."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(2, 1)
        with torch.no_grad():
            self.lin.weight.copy_(torch.tensor([[1.0, 0.0]]))
            self.lin.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lin(x)


def test_clouds_are_seeded_and_shaped_as_documented() -> None:
    real, fake = toy_clouds(500, seed=3)
    assert real.shape == fake.shape == (500, 2) and real.dtype == torch.float32
    again = toy_clouds(500, seed=3)
    assert torch.equal(real, again[0]) and torch.equal(fake, again[1])
    assert not torch.equal(real, toy_clouds(500, seed=4)[0])
    radius = real.norm(dim=1)
    assert abs(float(radius.mean()) - toy_gan.RING_RADIUS) < 0.05
    assert abs(float(radius.std()) - toy_gan.RING_NOISE) < 0.03
    assert torch.allclose(fake.mean(0), torch.tensor(toy_gan.FAKE_CENTRE), atol=0.08)
    assert abs(float(fake.std(0).mean()) - toy_gan.FAKE_STD) < 0.05
    with pytest.raises(ValueError):
        toy_clouds(0)


def test_critic_shapes_and_bad_input() -> None:
    critic = ToyCritic(hidden=8)
    assert critic(torch.zeros(5, 2)).shape == (5, 1)
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        critic(torch.zeros(5, 3))


@pytest.mark.parametrize("gan_type", ["standard", "ragan"])
def test_critic_training_separates_the_clouds(gan_type: str) -> None:
    real, fake = toy_clouds(128, seed=0)
    torch.manual_seed(0)
    critic = ToyCritic(hidden=16)
    trace = train_critic(critic, real, fake, gan_type, steps=60, lr=1e-2)
    assert len(trace.losses) == 60
    assert trace.losses[-1] < 0.5 * trace.losses[0]
    assert trace.real_logit_mean > trace.fake_logit_mean
    assert not critic.training
    with pytest.raises(ValueError):
        train_critic(critic, real, fake, gan_type, steps=0)


def test_standard_generator_loss_has_exactly_zero_gradient_from_real_data() -> None:
    real, fake = toy_clouds(64, seed=1)
    torch.manual_seed(0)
    critic = ToyCritic(hidden=16)
    g = generator_gradients(critic, real, fake, "standard")
    assert torch.count_nonzero(g.real) == 0 and torch.count_nonzero(g.real_logits) == 0
    assert g.real.shape == real.shape and g.real_logits.shape == (64, 1)
    assert float(g.fake.abs().max()) > 0
    # another real batch leaves the fake points' gradient bit-identical
    other_real, _ = toy_clouds(64, seed=2)
    assert torch.equal(generator_gradients(critic, other_real, fake, "standard").fake, g.fake)


def test_ragan_generator_loss_depends_on_real_data() -> None:
    real, fake = toy_clouds(64, seed=1)
    torch.manual_seed(0)
    critic = ToyCritic(hidden=16)
    g = generator_gradients(critic, real, fake, "ragan")
    assert bool((g.real_logits > 0).all())  # 0.5/N * (sigmoid(.) + mean(1 - sigmoid(.))) > 0
    assert float(g.real.abs().max()) > 0
    other_real, _ = toy_clouds(64, seed=2)
    assert not torch.allclose(generator_gradients(critic, other_real, fake, "ragan").fake, g.fake)


def test_gradients_match_the_hand_derived_formulas() -> None:
    """With C(x) = x_0 the logit gradients are the point gradients' first coordinate."""
    gen = torch.Generator().manual_seed(0)
    real, fake = torch.randn(7, 2, generator=gen) + 1.0, torch.randn(5, 2, generator=gen)
    critic = FirstCoordinate()
    r, f = real[:, 0], fake[:, 0]
    # standard (non-saturating): L = mean softplus(-f)  ->  dL/df_j = -(1 - sigmoid(f_j)) / N_f
    g = generator_gradients(critic, real, fake, "standard")
    assert torch.allclose(g.fake_logits[:, 0], -(1 - torch.sigmoid(f)) / 5, atol=1e-6)
    assert torch.allclose(g.fake[:, 0], g.fake_logits[:, 0]) and torch.count_nonzero(g.fake[:, 1]) == 0
    assert math.isclose(g.loss, float(nn.functional.softplus(-f).mean()), rel_tol=1e-5)
    # RaGAN: L = 0.5 * (mean_i softplus(r_i - mean f) + mean_j softplus(-(f_j - mean r)))
    g = generator_gradients(critic, real, fake, "ragan")
    a, b = torch.sigmoid(r - f.mean()), torch.sigmoid(f - r.mean())
    d_real = 0.5 * (a / 7 + (1 - b).mean() / 7)
    d_fake = 0.5 * (-(1 - b) / 5 - a.mean() / 5)
    assert torch.allclose(g.real_logits[:, 0], d_real, atol=1e-6)
    assert torch.allclose(g.fake_logits[:, 0], d_fake, atol=1e-6)
    assert torch.allclose(g.real[:, 0], d_real, atol=1e-6)


def test_generator_gradients_leave_the_critic_untouched() -> None:
    real, fake = toy_clouds(32, seed=0)
    critic = ToyCritic(hidden=8)
    critic.net[0].weight.requires_grad_(False)  # a mixed state must be restored as it was
    before = [p.detach().clone() for p in critic.parameters()]
    generator_gradients(critic, real, fake, "ragan")
    assert [p.requires_grad for p in critic.parameters()] == [False] + [True] * 5
    assert all(p.grad is None for p in critic.parameters())
    assert all(torch.equal(a, p) for a, p in zip(before, critic.parameters()))


def test_decision_maps_and_the_relativistic_shift_invariance() -> None:
    real, fake = toy_clouds(64, seed=0)
    torch.manual_seed(0)
    critic = ToyCritic(hidden=8)
    xs, ys, std_map = decision_map(critic, "standard", resolution=21)
    assert xs.shape == ys.shape == (21,) and std_map.shape == (21, 21)
    assert float(xs[0]) == -toy_gan.EXTENT and float(xs[-1]) == toy_gan.EXTENT
    assert bool(((std_map > 0) & (std_map < 1)).all())
    _, _, ra_map = decision_map(critic, "ragan", fake, resolution=21)
    # values[i, j] is the point (xs[j], ys[i])
    point = torch.tensor([[float(xs[3]), float(ys[17])]])
    with torch.no_grad():
        assert math.isclose(float(std_map[17, 3]), float(torch.sigmoid(critic(point))), rel_tol=1e-5)
        assert math.isclose(float(ra_map[17, 3]), float(torch.sigmoid(critic(point) - critic(fake).mean())),
                            rel_tol=1e-5)
        critic.net[-1].bias += 3.0  # shift every logit by the same constant
    _, _, std_shifted = decision_map(critic, "standard", resolution=21)
    _, _, ra_shifted = decision_map(critic, "ragan", fake, resolution=21)
    assert torch.allclose(ra_shifted, ra_map, atol=1e-5)
    assert not torch.allclose(std_shifted, std_map, atol=1e-2)
    with pytest.raises(ValueError, match="fake"):
        decision_map(critic, "ragan")
    with pytest.raises(ValueError):
        decision_map(critic, "wgan")


def test_toy_figure_draws_one_panel_per_critic() -> None:
    real, fake = toy_clouds(40, seed=0)
    critic = ToyCritic(hidden=8)
    fig = toy_figure([(critic, "standard", "a"), (critic, "ragan", "b")], real, fake, size=2)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[:2] == ["a", "b"]  # then one colour bar per panel
    assert len(fig.axes) == 4
    with pytest.raises(ValueError):
        toy_figure([], real, fake)


