"""A real studio server for tests: uvicorn on 127.0.0.1 (a free port), in a thread.

Used by the browser test and the load test, which need real sockets and real
streaming (starlette's TestClient buffers a response until it ends). Every request
needs the studio's token: scripts send ``headers(app)``, a browser opens
``page_url(url, app)`` (the URL ``eigenstyle serve`` prints) and keeps the cookie.
"""

import contextlib
import threading
import time

import uvicorn

from eigenstyle.studio.app import create_app
from eigenstyle.studio.server import bind


def headers(app) -> dict:
    """What a script sends: the token in a header (no cookie, no Origin needed)."""
    return {"X-Eigenstyle-Token": app.state.token}


def page_url(url: str, app) -> str:
    """The URL ``eigenstyle serve`` prints: the page exchanges its token for a cookie."""
    return f"{url}/?token={app.state.token}"


def client(app, **kwargs):
    """starlette's TestClient on ``app``, sending the token as a script does."""
    from starlette.testclient import TestClient

    return TestClient(app, headers=headers(app), base_url="http://127.0.0.1:7860", **kwargs)


@contextlib.contextmanager
def live_studio(workspace, **studio_options):
    """Yields (base URL, app); stops the server (and its worker) on exit. Runs uvicorn as serve does."""
    app = create_app(str(workspace), **studio_options)
    sock = bind("127.0.0.1", 0)
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=1, http="h11", proxy_headers=False)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the studio server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", app
    finally:
        app.state.studio.broker.publish(None)  # end open event streams so shutdown need not wait for them
        server.should_exit = True
        thread.join(30)
        sock.close()
