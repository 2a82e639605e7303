"""The training recipe of the Inception-v4 paper (and of Inception-v3 before it).

    recipe = paper_recipe(model, steps_per_epoch=len(loader))
    for images, labels in loader:
        loss = criterion(model(images), labels)
        recipe.step(loss)            # backward, clip, update, decay the lr, update the EMA
    evaluate(recipe.ema.module)      # evaluate with the moving average of the weights

What the papers say, and what is chosen here:
  * RMSProp with decay 0.9 and epsilon 1.0 (v4 paper §4; v3 paper §8). PyTorch's RMSprop
    adds epsilon outside the square root and TensorFlow's inside; with epsilon 1.0 both
    denominators stay near 1 while the running mean square is small. No momentum: the
    papers state none (TF-slim's scripts default to 0.9; pass `momentum=0.9` for that).
  * learning rate 0.045, multiplied by 0.94 every two epochs, as a staircase;
  * gradient clipping at 2.0 (the v3 paper's threshold; the v4 paper says only that
    clipping helped). Clipping is on the global gradient norm.
  * "a running average of the parameters" for evaluation: an exponential moving average
    of parameters and BatchNorm statistics, decay 0.9999 by default (TF-slim's usual value).

Imports torch; used only by torch-facing code."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.optim.lr_scheduler import StepLR
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

__all__ = ["PaperRecipe", "paper_recipe"]

LEARNING_RATE = 0.045
LR_DECAY = 0.94
EPOCHS_PER_DECAY = 2
RMSPROP_DECAY = 0.9
RMSPROP_EPSILON = 1.0
CLIP_NORM = 2.0
EMA_DECAY = 0.9999


@dataclass
class PaperRecipe:
    """The optimizer, its learning-rate schedule (stepped once per batch), the clipping
    threshold, and the moving average of the model used for evaluation."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    ema: AveragedModel
    clip_norm: float = CLIP_NORM

    def step(self, loss: torch.Tensor) -> float:
        """One training step on `loss` (whose graph reaches the model's parameters):
        backward, clip the gradient norm, update, advance the schedule by one batch,
        update the moving average, clear the gradients. Returns the gradient norm
        before clipping."""
        loss.backward()
        norm = nn.utils.clip_grad_norm_(self.model.parameters(), self.clip_norm)
        self.optimizer.step()
        self.scheduler.step()
        self.ema.update_parameters(self.model)
        self.optimizer.zero_grad(set_to_none=True)
        return float(norm)

    @property
    def learning_rate(self) -> float:
        return self.optimizer.param_groups[0]["lr"]


def paper_recipe(model: nn.Module, steps_per_epoch: int, *, lr: float = LEARNING_RATE, momentum: float = 0.0,
                 weight_decay: float = 0.0, ema_decay: float = EMA_DECAY) -> PaperRecipe:
    """RMSProp(decay 0.9, eps 1.0), lr 0.045 x 0.94 every two epochs, clipping at 2.0, and
    an EMA copy of `model` (parameters and buffers). `steps_per_epoch` is the number of
    batches per epoch: the schedule counts batches."""
    if steps_per_epoch < 1:
        raise ValueError(f"steps_per_epoch must be at least 1, got {steps_per_epoch}")
    optimizer = torch.optim.RMSprop(model.parameters(), lr=lr, alpha=RMSPROP_DECAY, eps=RMSPROP_EPSILON,
                                    momentum=momentum, weight_decay=weight_decay)
    scheduler = StepLR(optimizer, step_size=EPOCHS_PER_DECAY * steps_per_epoch, gamma=LR_DECAY)
    ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(ema_decay), use_buffers=True)
    return PaperRecipe(model, optimizer, scheduler, ema)
