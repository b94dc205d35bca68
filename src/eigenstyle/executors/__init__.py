"""Where runs happen: the executor seam.

The variants, layers and sweep commands and the studio's jobs hand their runs to an
:class:`Executor` as :class:`Work` (a batch of runs that share a pass through the network, or one
coarse-to-fine run) and get :class:`~eigenstyle.results.Result` objects back, each written to its
output by the executor. While a run goes, an engine-side :class:`Watch` turns its loop into small
:class:`Tick` reports (iteration, losses, preview pictures) for the caller's ``on_tick``, and asks
the caller's cancel. Two executors:

* ``local`` (:mod:`.local`, the default): in this process, one run after another, as eigenstyle has
  always run; needs no service.
* ``ray`` (:mod:`.cluster`, ``pip install 'eigenstyle[ray]'``): each Work is a Ray task on a cluster;
  inputs travel by content (:class:`~eigenstyle.files.Carried`), results come back to be written here.

Nothing else knows which one is in use: :func:`make` builds one from the command line's choice.

    >>> ex = make("local")
    >>> ex.name
    'local'
"""

from __future__ import annotations

from ..errors import EigenstyleError
from .work import Executor, Handle, Tick, Watch, Work, perform

__all__ = ["EXECUTORS", "Executor", "Handle", "Tick", "Watch", "Work", "make", "perform"]

EXECUTORS = ("local", "ray")


def make(name: str = "local", **options) -> Executor:
    """The executor called ``name``: "local", or "ray" (options: address, cpus_per_run, gpus_per_run,
    max_retries)."""
    if name == "local":
        from .local import LocalExecutor

        return LocalExecutor(**options)
    if name == "ray":
        from .cluster import RayExecutor

        return RayExecutor(**options)
    raise EigenstyleError(f"--executor must be one of {', '.join(EXECUTORS)}, got {name!r}")
