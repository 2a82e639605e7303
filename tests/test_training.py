"""The paper's training recipe (inception_dsl.runtime.training) on a tiny spec."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from inception_dsl.runtime.module import loads
from inception_dsl.runtime.training import paper_recipe

TINY = """
block tiny_inception {
  concat {
    conv(8, 1x1)
    { conv(8, 1x1); conv(8, 3x3) }
    { avgpool(3x3); conv(8, 1x1) }
  }
}
network tiny(num_classes = 4) {
  input 3x16x16
  conv(16, 3x3, stride=2)
  tiny_inception
  global_avgpool
  flatten
  classifier: linear(num_classes)
}
"""


@pytest.fixture
def model() -> nn.Module:
    return loads(TINY, seed=0).train()


def test_a_few_steps_lower_the_loss_on_a_fixed_batch(model):
    generator = torch.Generator().manual_seed(0)
    images, labels = torch.randn(8, 3, 16, 16, generator=generator), torch.randint(0, 4, (8,), generator=generator)
    recipe = paper_recipe(model, steps_per_epoch=10)
    losses = []
    for _ in range(15):
        loss = nn.functional.cross_entropy(model(images), labels)
        losses.append(loss.item())
        recipe.step(loss)
    assert losses[-1] < 0.7 * losses[0], losses


def test_the_optimizer_and_schedule_are_the_papers(model):
    recipe = paper_recipe(model, steps_per_epoch=3)
    group = recipe.optimizer.param_groups[0]
    assert isinstance(recipe.optimizer, torch.optim.RMSprop)
    assert (group["lr"], group["alpha"], group["eps"]) == (0.045, 0.9, 1.0)
    images = torch.randn(2, 3, 16, 16)
    rates = []
    for _ in range(13):
        rates.append(recipe.learning_rate)
        recipe.step(model(images).square().mean())
    # 0.94x every two epochs = every 6 steps, as a staircase
    assert rates[:6] == [pytest.approx(0.045)] * 6
    assert rates[6:12] == [pytest.approx(0.045 * 0.94)] * 6
    assert rates[12] == pytest.approx(0.045 * 0.94 ** 2)


def test_gradients_are_clipped_to_norm_2(model):
    recipe = paper_recipe(model, steps_per_epoch=1)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    norm = recipe.step(1e6 * model(torch.randn(2, 3, 16, 16)).sum())  # a huge gradient
    assert norm > 2.0
    # RMSprop's step is lr * g / (sqrt(v) + 1); with the clipped g (|g| <= 2) no weight moves more than lr * 2
    moved = max((p.detach() - before[name]).abs().max().item() for name, p in model.named_parameters())
    assert 0 < moved <= 0.045 * 2.0 + 1e-6


def test_the_moving_average_lags_the_trained_weights(model):
    recipe = paper_recipe(model, steps_per_epoch=1, ema_decay=0.5)
    start = model.classifier.weight.detach().clone()
    for _ in range(3):
        recipe.step(model(torch.randn(2, 3, 16, 16)).square().mean())
    ema_weight = recipe.ema.module.classifier.weight
    trained = model.classifier.weight.detach()
    assert not torch.equal(ema_weight, trained) and not torch.equal(ema_weight, start)
    # the average sits between where training started and where it is now
    assert (ema_weight - trained).norm() < (start - trained).norm()
    recipe.ema.module.eval()
    assert recipe.ema.module(torch.randn(1, 3, 16, 16)).shape == (1, 4)


def test_steps_per_epoch_must_be_positive(model):
    with pytest.raises(ValueError, match="steps_per_epoch"):
        paper_recipe(model, steps_per_epoch=0)
