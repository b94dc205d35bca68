"""The one exception type a user should ever see.

Anything raised as :class:`EigenstyleError` is bad input or an environment
problem the user can fix; the CLI prints it as a single line and exits 2.
Everything else is a bug and keeps its traceback.
"""


class EigenstyleError(Exception):
    """A clear, one-line, user-facing error."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))
