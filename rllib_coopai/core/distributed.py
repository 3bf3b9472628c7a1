"""All-reduce across data-parallel Learners, for learners that take their gradients by hand.

The cross-agent learners (LIO, MetaGrad, AMD) differentiate through functional inner steps that
torch DDP's hooks do not see, so their modules are not DDP-wrapped; they reduce gradients and
counts with these helpers instead. Every helper is a no-op with one Learner (no process group).
On GPU learners the tensors must live on the learner's device (NCCL reduces CUDA tensors only).
"""
from __future__ import annotations

from typing import List, Sequence, Tuple

import torch
import torch.distributed as dist


def rank_world() -> Tuple[int, int]:
    """``(rank, world size)`` of this Learner among the Learners (``(0, 1)`` without a group)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def world_size() -> int:
    return rank_world()[1]


def all_reduce(tensors: Sequence[torch.Tensor], mean: bool = False) -> List[torch.Tensor]:
    """SUM (or MEAN with ``mean=True``) of detached tensors over all Learners, in one collective.

    Returns new tensors (the inputs are left as they are); with one Learner the inputs themselves.
    """
    tensors = list(tensors)
    world = world_size()
    if world <= 1 or not tensors:
        return tensors
    flat = torch.cat([t.reshape(-1) for t in tensors])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    if mean:
        flat = flat / world
    out, i = [], 0
    for t in tensors:
        n = t.numel()
        out.append(flat[i : i + n].view_as(t))
        i += n
    return out


def all_reduce_(tensors: Sequence[torch.Tensor], mean: bool = False) -> None:
    """In place: ``all_reduce`` written back into ``tensors``."""
    tensors = list(tensors)
    if world_size() <= 1:
        return
    for t, r in zip(tensors, all_reduce(tensors, mean=mean)):
        t.copy_(r)


def global_sum(x: float, device=None) -> float:
    """``x`` summed over the Learners (e.g. a shard's episode count), as a Python float."""
    return float(all_reduce([torch.tensor([float(x)], device=device)])[0].item())
