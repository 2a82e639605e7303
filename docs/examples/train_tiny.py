"""The tutorial's last step: train tiny_irn for a few steps on random data with the paper's
recipe (docs/tutorial.md). Run from the repository root: python docs/examples/train_tiny.py"""

import torch

import inception_dsl
from inception_dsl.runtime.training import paper_recipe

torch.manual_seed(0)
model = inception_dsl.load("docs/examples/tiny_irn.incp", num_classes=10, seed=0)
images, labels = torch.randn(8, 3, 32, 32), torch.randint(0, 10, (8,))

recipe = paper_recipe(model, steps_per_epoch=1)
criterion = torch.nn.CrossEntropyLoss()
model.train()
losses = []
for step in range(6):
    loss = criterion(model(images), labels)
    recipe.step(loss)
    losses.append(loss.item())
    print(f"step {step}: loss {losses[-1]:.3f}, lr {recipe.learning_rate:.4f}")

model.eval()
with torch.no_grad():
    print("eval logits:", tuple(recipe.ema.module(images).shape))
assert losses[-1] < losses[0], "the loss should go down on a fixed batch"
