"""What a run shows or keeps along the way, as observers of its loop (loop.Observer): the API's
``callback(info)`` and the intermediate images of ``save_every``. The progress display is progress.py's."""

from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

import torch
from PIL import Image

from .loop import Observer, Outcome, Step
from .problem import Problem
from .results import results_of
from .targets import to_pil
from .vgg.network import Preprocessing


@dataclass
class IterationInfo:
    """What a per-iteration callback sees. Losses are per image of the batch: ``losses`` has every term by
    name (objective.names: a term of your own too), the fields below the options' own."""

    iteration: int
    iterations: int
    loss: list
    content: list
    style: list
    tv: list
    elapsed: float
    _x: torch.Tensor = field(repr=False, default=None)
    _pre: Preprocessing = field(repr=False, default=None)
    anchor: Optional[list] = None  # the anchor term (--anchor-weight), where a scale keeps a coarser image
    losses: dict = field(default_factory=dict)  # total and every term, by name

    def images(self) -> list[Image.Image]:
        return to_pil(self._x, self._pre)


class Callback(Observer):
    """The API's ``callback(info)`` as an observer: every iteration, with values; ``False`` stops."""

    def __init__(self, fn: Callable):
        self.fn = fn

    def wants(self, iteration: int) -> bool:
        return True

    def seen(self, step: Step) -> Optional[bool]:
        v = step.values
        info = IterationInfo(
            step.iteration,
            step.iterations,
            v["total"],
            v["content"],
            v["style"],
            v["tv"],
            step.elapsed,
            step.problem.visible(step.x),
            step.problem.pre,
            v.get("anchor"),
            dict(v),
        )
        return False if self.fn(info) is False else None


class Intermediates(Observer):
    """``save_every``: each image as ``stem_ITER.ext`` with its recipe, at the run's bit depth (not the
    last iteration: the final image is written anyway; no raw copy or swatch)."""

    def __init__(self, problems: Sequence[Problem], outputs: Sequence[str], started: float):
        self.problems, self.outputs, self.started = problems, outputs, started
        self.every, self.iterations = problems[0].opts.save_every, problems[0].opts.iterations

    def wants(self, iteration: int) -> bool:
        return iteration % self.every == 0 and iteration < self.iterations

    def seen(self, step: Step) -> None:
        if step.values is None or not self.wants(step.iteration):
            return
        now = Outcome(step.x, step.values, step.iteration)
        for r, path in zip(results_of(self.problems, now, time.perf_counter() - self.started), self.outputs):
            stem, ext = os.path.splitext(path)
            plain = dataclasses.replace(r, raw_images=None, raw_floats=None, swatch=None)
            plain.save(f"{stem}_{step.iteration}{ext}")
