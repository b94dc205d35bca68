"""``eigenstyle serve``: the studio on uvicorn, loopback only unless asked.

The socket is bound here, before uvicorn starts, so a port in use is one clear
line instead of a log dump. Every request needs the launch's token (printed in
the URL) and an allowed Host (guard.py); a host other than loopback still gets a
warning: anyone who has the URL can use the studio (and fill the workspace's disk).
uvicorn runs with h11 (an absolute-form request target stays visible to the guard)
and without proxy headers (nothing in front of the studio may rewrite the scheme).
"""

from __future__ import annotations

import socket
import sys

from ..errors import EigenstyleError
from .guard import check_token, is_loopback


def bind(host: str, port: int) -> socket.socket:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise EigenstyleError(f"--host {host}: {e.strerror}") from None
    family = infos[0][0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(infos[0][4])
    except OSError as e:
        sock.close()
        raise EigenstyleError(f"cannot listen on {host}:{port}: {e.strerror} (try another --port)") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def serve(
    workspace: str,
    host: str = "127.0.0.1",
    port: int = 7860,
    *,
    token: str | None = None,
    allow_hosts=(),
    **studio_options,
) -> int:
    import uvicorn

    from .app import create_app

    if studio_options.get("max_queued", 1) < 1:
        raise EigenstyleError(f"--max-queued must be >= 1, got {studio_options['max_queued']}")
    if not 0 <= port <= 65535:
        raise EigenstyleError(f"--port must be in 0..65535, got {port}")
    if token is not None:
        try:
            check_token(token)
        except EigenstyleError as e:
            raise EigenstyleError(f"--token (or EIGENSTYLE_TOKEN): {e}") from None
    sock = bind(host, port)
    app = create_app(workspace, token=token, allow_hosts=(host, *allow_hosts), **studio_options)
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else shown}:{bound}/?token={app.state.token}"
    if not is_loopback(host):
        print(
            f"eigenstyle: warning: listening on {host}: anyone who can reach this machine on port {bound} "
            f"and has this URL (its token) can use the studio and write to its workspace",
            file=sys.stderr,
        )
    print(f"eigenstyle studio: {url}  (workspace {app.state.studio.store.root}; Ctrl-C stops)", flush=True)
    config = uvicorn.Config(
        app, log_level="warning", timeout_graceful_shutdown=2, lifespan="on", http="h11", proxy_headers=False
    )
    uvicorn.Server(config).run(sockets=[sock])
    return 0
