"""Data-parallel training on one node, started by ``torchrun``.

Each rank trains on its slice of the global batch; after every backward pass the
gradients are averaged across ranks, exactly what DistributedDataParallel's reducer
does. The averaging is explicit rather than through a DDP wrapper because the loop
takes several backward passes per step through the same modules, two of them
second-order (R1, path length), which DDP's bucketed reducer does not support.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist


@dataclass
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None
    owns_group: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    def all_reduce_mean(self, tensor: torch.Tensor) -> torch.Tensor:
        """Mean of ``tensor`` across ranks (a copy; the input is left alone)."""
        if not self.enabled:
            return tensor
        out = tensor.detach().clone()
        dist.all_reduce(out, op=dist.ReduceOp.SUM)
        return out / self.world_size

    def all_reduce_sum_(self, tensor: torch.Tensor) -> torch.Tensor:
        if self.enabled:
            dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return tensor

    def average_gradients(self, module: torch.nn.Module) -> None:
        """Average .grad of every trainable parameter across ranks, in one flat buffer."""
        if not self.enabled:
            return
        params = [p for p in module.parameters() if p.requires_grad]
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
        if not grads:
            return
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat, op=dist.ReduceOp.SUM)
        flat /= self.world_size
        offset = 0
        for p in params:
            n = p.numel()
            p.grad = flat[offset : offset + n].view_as(p).clone()
            offset += n

    def broadcast_module(self, module: torch.nn.Module) -> None:
        """Make every rank start from rank 0's parameters and buffers."""
        if not self.enabled:
            return
        for t in list(module.parameters()) + list(module.buffers()):
            dist.broadcast(t.data, src=0)

    def average_buffers(self, module: torch.nn.Module) -> None:
        """Keep running statistics (w_avg) identical on every rank."""
        if not self.enabled:
            return
        for b in module.buffers():
            if b.is_floating_point():
                dist.all_reduce(b.data, op=dist.ReduceOp.SUM)
                b.data /= self.world_size

    def any_flag(self, flag: bool, device: torch.device) -> bool:
        """True on every rank when any rank says True (used for should_stop)."""
        if not self.enabled:
            return flag
        t = torch.tensor([1.0 if flag else 0.0], device=device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item() > 0)

    def gather_objects(self, obj: Any) -> list[Any]:
        if not self.enabled:
            return [obj]
        out: list[Any] = [None] * self.world_size
        dist.all_gather_object(out, obj)
        return out

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def shutdown(self) -> None:
        if self.owns_group and dist.is_initialized():
            dist.destroy_process_group()


def init_distributed(device_type: str) -> DistContext:
    """Join the process group described by torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK).

    Without those variables (or with WORLD_SIZE=1) this is a single-process context.
    Backend: nccl for CUDA, gloo for CPU.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return DistContext()
    try:
        rank = int(os.environ["RANK"])
        local_rank = int(os.environ.get("LOCAL_RANK", rank))
    except KeyError as exc:
        raise RuntimeError(
            f"WORLD_SIZE={world_size} but {exc} is not set: start multi-process training with torchrun."
        ) from exc
    backend = "nccl" if device_type == "cuda" else "gloo"
    owns = False
    if not dist.is_initialized():
        if device_type == "cuda":
            torch.cuda.set_device(local_rank)
        dist.init_process_group(backend=backend, rank=rank, world_size=world_size)
        owns = True
    return DistContext(
        rank=rank, world_size=world_size, local_rank=local_rank, backend=backend, owns_group=owns
    )
