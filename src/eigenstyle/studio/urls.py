"""The studio's URL scheme in one place: the routes app.py serves, and the URLs the server hands the
page (a result's picture, preview and swatch), so that a route and the links to it cannot drift apart.
The page itself (static/studio.js) spells the request URLs it sends, as any client of the API does."""

from __future__ import annotations

CONFIG = "/api/config"
EVENTS = "/api/events"
GENERATE = "/api/generate"
LAYERS = "/api/layers"
BETWEEN = "/api/between"
MORPH = "/api/morph"  # a clip through two or more tiles (the walk of one: RESULT + "/walk")
INPUTS = "/api/inputs"  # also the one state-changing route whose body is not JSON (guard.py)
INPUT = INPUTS + "/{id}"
RESULTS = "/api/results"
RESULT = RESULTS + "/{id}"
JOBS = "/api/jobs"
JOB = JOBS + "/{id}"


def result(result_id: str, what: str, version=None) -> str:
    """A result's ``what`` (image, preview, swatch, ...); ``version`` makes each preview a new URL."""
    url = RESULT.format(id=result_id) + "/" + what
    return url if version is None else f"{url}?v={version}"
