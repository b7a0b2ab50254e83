"""Training on several processes: ``torchrun --nproc_per_node N -m core train ...``.

torchrun starts N copies of the command with ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``,
``MASTER_ADDR`` and ``MASTER_PORT`` set; :func:`join` turns them into a process
group (``gloo`` on CPU, ``nccl`` on CUDA, one GPU per process: ``cuda:<LOCAL_RANK>``),
and the shared loop (:mod:`core.training.loop`) asks this module for:

- the random streams: rank 0 draws exactly what a single process would
  (``default_rng([seed, epoch])``), rank r > 0 draws from ``[seed, epoch, r]``, so every
  rank trains on its own batches of ``batch_size`` (the global batch is N x ``batch_size``);
- the loss through :class:`~torch.nn.parallel.DistributedDataParallel`, which averages
  the gradients of all ranks in the backward pass: a step equals a single-process step
  on the N batches with their losses averaged;
- one validation score, computed by rank 0 and sent to every rank, so early stopping
  and the learning-rate schedule decide the same everywhere;
- rank 0 alone writes checkpoints, the train state and progress.

With one process (no ``WORLD_SIZE``, or 1) nothing here is used and the loop is unchanged.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable

import torch
import torch.distributed as dist

from ..errors import ParameterError

#: What torchrun sets for every process.
ENVIRONMENT = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
#: Added per rank to the torch seed of an epoch (dropout and other torch draws differ between ranks).
TORCH_SEED_RANK_STRIDE = 1_000_003


def world_size() -> int:
    """Processes of this training run (``WORLD_SIZE``; 1 when not started by torchrun)."""
    value = os.environ.get("WORLD_SIZE", "1")
    try:
        return int(value)
    except ValueError:
        raise ParameterError(f"WORLD_SIZE must be an integer, got {value!r}") from None


def is_main_process() -> bool:
    """Whether this process speaks for its training run: a single process, or rank 0 of torchrun."""
    return os.environ.get("RANK", "0").strip() in ("", "0")


def epoch_seed(seed: int, epoch: int, rank: int = 0) -> list[int]:
    """Seed sequence of one rank's batches in one epoch (rank 0: the single-process one)."""
    return [seed, epoch] + ([rank] if rank else [])


def epoch_torch_seed(seed: int, epoch: int, rank: int = 0) -> int:
    """torch seed of one rank in one epoch (rank 0: the single-process one)."""
    return seed * 100_003 + epoch + TORCH_SEED_RANK_STRIDE * rank


class _LossModule(torch.nn.Module):
    """The model with a run's loss as ``forward``, so that DDP sees the whole step."""

    def __init__(self, model: torch.nn.Module, loss: Callable):
        super().__init__()
        self.model = model
        self.loss = loss

    def forward(self, batch, device):
        return self.loss(self.model, batch, device)


@dataclass
class Group:
    """This process's place in a multi-process run.

    Attributes
    ----------
    rank, local_rank, world_size : int
    backend : str
        ``gloo`` (CPU) or ``nccl`` (CUDA).
    device : torch.device
        ``cpu`` or ``cuda:<local_rank>``.
    owns_group : bool
        True if :func:`join` created the process group (:meth:`leave` destroys it then).
    """

    rank: int
    local_rank: int
    world_size: int
    backend: str
    device: torch.device
    owns_group: bool

    @property
    def is_main(self) -> bool:
        """Rank 0: validates, writes checkpoints and shows progress."""
        return self.rank == 0

    def synced_loss(self, model: torch.nn.Module, loss: Callable) -> Callable:
        """``loss(model, batch, device)`` whose backward pass averages the gradients of all ranks.

        The wrapper broadcasts rank 0's parameters and buffers when it is built (every
        rank starts from the same weights) and rank 0's buffers (BatchNorm statistics)
        at every step. ``find_unused_parameters``: a family's loss may leave branches out.
        """
        ddp = torch.nn.parallel.DistributedDataParallel(
            _LossModule(model, loss), device_ids=[self.device.index] if self.device.type == "cuda" else None,
            find_unused_parameters=True)
        return lambda _model, batch, device: ddp(batch, device)

    def share(self, value: float) -> float:
        """Rank 0's ``value`` on every rank (e.g. the validation score only rank 0 computes)."""
        tensor = torch.tensor([value], dtype=torch.float64, device=self.device)
        dist.broadcast(tensor, src=0)
        return float(tensor.item())

    def mean(self, value: float) -> float:
        """The mean of ``value`` over the ranks."""
        tensor = torch.tensor([value], dtype=torch.float64, device=self.device)
        dist.all_reduce(tensor)
        return float(tensor.item()) / self.world_size

    def barrier(self) -> None:
        if self.backend == "nccl":
            dist.barrier(device_ids=[self.device.index])
        else:
            dist.barrier()

    def leave(self) -> None:
        if self.owns_group and dist.is_initialized():
            dist.destroy_process_group()


def join(device: torch.device) -> Group | None:
    """Join the process group torchrun describes, or None for a single process.

    Parameters
    ----------
    device : torch.device
        The run's device (``core.training.loop.pick_device``): CUDA means ``nccl`` and
        GPU ``LOCAL_RANK`` of this machine, CPU means ``gloo``.

    Raises
    ------
    ParameterError
        An incomplete torchrun environment, ``nccl`` unavailable, or fewer GPUs than
        processes on this machine.
    """
    size = world_size()
    if size <= 1:
        return None
    missing = [name for name in ENVIRONMENT if name not in os.environ]
    if missing:
        raise ParameterError(f"WORLD_SIZE={size} but {', '.join(missing)} not set; start multi-process training "
                             "with `torchrun --nproc_per_node N -m core train ...`")
    rank, local_rank = int(os.environ["RANK"]), int(os.environ["LOCAL_RANK"])
    if device.type == "cuda":
        if not dist.is_nccl_available():
            raise ParameterError("training on CUDA with several processes needs NCCL, which this torch build lacks")
        if local_rank >= torch.cuda.device_count():
            raise ParameterError(f"process {local_rank} of this machine needs GPU {local_rank}, but torch sees "
                                 f"{torch.cuda.device_count()}; start at most that many processes per node")
        device, backend = torch.device("cuda", local_rank), "nccl"
        torch.cuda.set_device(device)
    else:
        device, backend = torch.device("cpu"), "gloo"
    owns = not dist.is_initialized()
    if owns:
        dist.init_process_group(backend, rank=rank, world_size=size)
    elif dist.get_backend() != backend:
        raise ParameterError(f"the process group runs {dist.get_backend()}, but device {device} needs {backend}")
    return Group(rank=rank, local_rank=local_rank, world_size=size, backend=backend, device=device, owns_group=owns)
