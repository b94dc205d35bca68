"""The one exception type a user should ever see.

Anything raised as :class:`EigenstyleError` is bad input or an environment
problem the user can fix; the CLI prints it as a single line and exits 2.
Everything else is a bug and keeps its traceback.
"""


class EigenstyleError(Exception):
    """A clear, one-line, user-facing error."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is an allocation failure (CUDA's, the CPU allocator's, Python's): the callers turn it
    into a one-line message naming a size that fits, or take a path that needs less memory."""
    import torch  # deferred: the CLI reads this module before it needs torch

    if isinstance(exc, getattr(torch, "OutOfMemoryError", ())) or isinstance(exc, MemoryError):
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and (
        "out of memory" in text or "not enough memory" in text or "can't allocate memory" in text
    )
