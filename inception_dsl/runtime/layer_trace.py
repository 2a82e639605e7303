"""One traced forward pass of any nn.Module: the order in which its layers first use
their tensors, and which layers feed each layer (its data flow).

The converter (runtime/interop.py) pairs a reference's layers with ours by the order
first; where the orders differ only because a commutative join (a `sum`) runs its
branches in another order, `pair_by_flow` pairs them by what each layer reads instead.
Imports torch only."""

from __future__ import annotations

from typing import Callable, Sequence, TypeVar

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten

__all__ = ["LayerTrace", "flows_agree", "pair_by_flow"]

L = TypeVar("L")


class LayerTrace(TorchFunctionMode):
    """Records, in order, the layers whose tensors a torch function receives first, and for
    each layer the layers whose outputs reached its input (through any number of
    weight-free functions: activations, pooling, additions, concatenations).

    `owners` maps id(tensor) -> (layer name, its key there) for every tensor a layer holds;
    `uses` gets each layer's keys in the order of their first use. Tensors seen during the
    pass are kept alive until it ends, so that no id is reused."""

    def __init__(self, owners: dict[int, tuple[str, str]]):
        super().__init__()
        self.owners = owners
        self.order: list[str] = []
        self.uses: dict[str, list[str]] = {}
        self.inputs: dict[str, frozenset[str]] = {}
        self._from: dict[int, frozenset[str]] = {}
        self._alive: list[torch.Tensor] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        tensors = [v for v in tree_flatten((args, kwargs))[0] if isinstance(v, torch.Tensor)]
        owned = [self.owners[id(v)] for v in tensors if id(v) in self.owners]
        layers = [name for name, _ in owned]
        activations = [v for v in tensors if id(v) not in self.owners]
        self.order.extend(name for name in dict.fromkeys(layers) if name not in self.order)
        for name, key in owned:
            keys = self.uses.setdefault(name, [])
            if key not in keys:
                keys.append(key)
        result = func(*args, **kwargs)
        outputs = [v for v in tree_flatten(result)[0] if isinstance(v, torch.Tensor)]
        self._alive.extend(outputs)
        if layers and not activations:  # arithmetic on weights alone (a view, a scale): still the layer's
            self.owners.update((id(v), owned[0]) for v in outputs)
            return result
        sources = frozenset().union(*(self._from.get(id(v), frozenset()) for v in activations))
        for name in layers:
            self.inputs.setdefault(name, sources)
        made = frozenset(layers) if layers else sources
        self._from.update((id(v), made) for v in outputs if id(v) not in self.owners)
        return result


def pair_by_flow(theirs: Sequence[L], their_inputs: dict[str, frozenset[str]], ours: Sequence[L],
                 our_inputs: dict[str, frozenset[str]], matches: Callable[[L, L], bool],
                 name: Callable[[L], str], budget: int = 100_000) -> list[tuple[L, L]] | None:
    """Pair two traced layer lists by data flow: each reference layer, in its running
    order, with an unpaired layer of ours that holds the same tensors and reads the
    partners of the layers it reads (the first such layer in our order; where a later
    layer then finds no partner, the next one: a depth-first search of at most `budget`
    steps). None when there is no such pairing (or the counts differ). The branches of a
    sum written in another order pair this way, and two branches of the same shapes that
    read different tensors are never swapped."""
    if len(theirs) != len(ours):
        return None
    names = [name(m) for m in ours]
    partner: dict[str, str] = {}
    taken: set[int] = set()
    choices: list[int] = []  # for each paired reference layer, the index of its partner in `ours`
    start = 0
    while len(choices) < len(theirs):
        budget -= 1
        if budget < 0:
            return None
        layer = theirs[len(choices)]
        wanted = frozenset(partner.get(source, "?") for source in their_inputs.get(name(layer), frozenset()))
        found = next((j for j in range(start, len(ours)) if j not in taken and matches(layer, ours[j])
                      and our_inputs.get(names[j], frozenset()) == wanted), None)
        if found is not None:
            choices.append(found)
            taken.add(found)
            partner[name(layer)] = names[found]
            start = 0
            continue
        if not choices:
            return None
        start = choices.pop() + 1  # undo the last pairing and try its next candidate
        taken.discard(start - 1)
        del partner[name(theirs[len(choices)])]
    return [(theirs[i], ours[j]) for i, j in enumerate(choices)]


def flows_agree(pairs: Sequence[tuple[L, L]], their_inputs: dict[str, frozenset[str]],
                our_inputs: dict[str, frozenset[str]], name: Callable[[L], str]) -> bool:
    """Whether every paired layer of ours reads the partners of what its reference layer reads."""
    partner = {name(theirs): name(mine) for theirs, mine in pairs}
    return all(
        frozenset(partner.get(source, "?") for source in their_inputs.get(name(theirs), frozenset()))
        == our_inputs.get(name(mine), frozenset())
        for theirs, mine in pairs)
