"""DistributedDataParallel over two CPU processes (gloo): one training step on a small
spec, different data per rank, identical weights afterwards."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from .backend_helpers import CODEGEN

WORLD_SIZE = 2


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _train_one_step(rank: int, port: int, out_dir: str) -> None:
    from inception_dsl import load

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD_SIZE)
    try:
        model = load(CODEGEN / "tiny.incp", seed=0)
        ddp = torch.nn.parallel.DistributedDataParallel(model)
        optimizer = torch.optim.SGD(ddp.parameters(), lr=0.1)
        generator = torch.Generator().manual_seed(100 + rank)  # each rank sees different data
        images = torch.randn(4, 3, 32, 32, generator=generator)
        labels = torch.randint(0, 5, (4,), generator=generator)
        loss = torch.nn.functional.cross_entropy(ddp(images), labels)
        loss.backward()
        optimizer.step()
        # parameters, not buffers: BatchNorm statistics stay per rank (DDP broadcasts them
        # from rank 0 only at the start of the next forward)
        weights = {name: p.detach().clone() for name, p in model.named_parameters()}
        torch.save(weights, Path(out_dir) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_ddp_two_cpu_processes_end_with_identical_weights(tmp_path):
    initial = dict(__import__("inception_dsl").load(CODEGEN / "tiny.incp", seed=0).named_parameters())
    mp.spawn(_train_one_step, args=(_free_port(), str(tmp_path)), nprocs=WORLD_SIZE, join=True)
    rank0 = torch.load(tmp_path / "rank0.pt")
    rank1 = torch.load(tmp_path / "rank1.pt")
    assert rank0.keys() == rank1.keys() == initial.keys()
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), key
    changed = [k for k in rank0 if not torch.equal(rank0[k], initial[k].detach())]
    assert changed, "the training step changed no weight"
