"""The studio's front door: a Host allowlist, same-origin checks, a per-launch token, safe headers.

Why: listening on 127.0.0.1 is not protection. A page on a domain that re-binds to
127.0.0.1 (DNS rebinding, as in Ollama's CVE-2024-28224) is same-origin with the
studio, and any page can send "simple" cross-site POSTs (text/plain, forms) without
a preflight. So, as Jupyter Server does, every request must name an allowed Host,
carry this launch's token (cookie, or a header for scripts), and a state-changing
one must come from the studio's own origin with a body a simple request cannot
send. A plain ASGI middleware, so the event streams are checked (and stream) as
any other response. Nothing here ever grants CORS: no Access-Control-* header.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
import secrets
from urllib.parse import parse_qsl

from starlette.applications import Starlette

from ..errors import EigenstyleError
from . import urls

SAFE_METHODS = ("GET", "HEAD")
TOKEN_CHARS = re.compile(r"[A-Za-z0-9._~-]{16,200}")
HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        b"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    ),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
NO_TOKEN_PAGE = (
    "<!doctype html><meta charset=utf-8><title>eigenstyle studio</title>"
    "<p>This studio needs its token. Open the URL that <code>eigenstyle serve</code> printed "
    "(http://127.0.0.1:PORT/?token=&hellip;); the token changes at every launch unless fixed "
    "with <code>--token</code>.</p>\n"
)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def check_token(token: str) -> str:
    """A user-chosen token (--token, EIGENSTYLE_TOKEN): long enough, and safe in a URL and a cookie."""
    if not TOKEN_CHARS.fullmatch(token):
        raise EigenstyleError("the token must be 16 to 200 characters of A-Z a-z 0-9 . _ ~ -")
    return token


def split_host(value: str) -> tuple[str, str] | None:
    """``host[:port]`` (IPv6 in brackets) as (host, port); None if malformed. No normalising: a
    browser sends a host in lower case without a trailing dot, so anything else is refused."""
    m = re.fullmatch(r"\[([0-9a-f:.]+)\](?::(\d{1,5}))?|([a-z0-9._-]+)(?::(\d{1,5}))?", value)
    if not m:
        return None
    return (m.group(1) or m.group(3)), (m.group(2) or m.group(4) or "")


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback address (127.0.0.0/8, ::1): always an allowed Host; ``serve`` warns for any other."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def host_allowed(host: str, extra: frozenset[str]) -> bool:
    return is_loopback(host) or host in extra


class Guard:
    """ASGI middleware in front of the studio's app; see the module's docstring for why."""

    def __init__(self, app, token: str, allow_hosts=()):
        self.app, self.token = app, check_token(token)
        self.allow_hosts = frozenset(h.lower().strip("[]") for h in allow_hosts if h not in ("0.0.0.0", "::", ""))
        # Cookies are shared by every port of a host: a name of this token's own keeps two studios apart.
        self.cookie = "eigenstyle-" + hashlib.sha256(self.token.encode()).hexdigest()[:12]

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket":  # the studio has none
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                have = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in HEADERS if k not in have]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        refusal = self.refusal(scope)
        if refusal is None:
            await self.app(scope, receive, send_with_headers)
        else:
            await refusal(scope, receive, send_with_headers)

    # --- the checks, in order; each returns an ASGI response or None -----------------------------
    def refusal(self, scope):
        headers: dict[bytes, list[bytes]] = {}
        for k, v in scope["headers"]:
            headers.setdefault(k.lower(), []).append(v)

        def one(name: bytes) -> str | None:
            got = headers.get(name, [])
            return got[0].decode("latin-1") if len(got) == 1 else None

        method, path = scope["method"].upper(), scope["path"]
        if not path.startswith("/"):
            return _json(403, "absolute-form or malformed request targets are refused")
        hosts = headers.get(b"host", [])
        parsed = split_host(hosts[0].decode("latin-1")) if len(hosts) == 1 else None
        if parsed is None or not host_allowed(parsed[0], self.allow_hosts):
            shown = hosts[0].decode("latin-1")[:80] if len(hosts) == 1 else "missing or repeated"
            return _json(
                403,
                f"Host {shown!r} is not this studio's (DNS rebinding guard); "
                f"use 127.0.0.1 or localhost, or start serve with --allow-host NAME",
            )
        if re.search(r"(^|/)\.\.?(/|$)|//|\\|\x00", path):
            return _json(404, "no such page")
        if method == "OPTIONS":
            return _json(
                405, "the studio answers no cross-origin (CORS) requests", {"allow": "GET, HEAD, POST, DELETE"}
            )

        if any(len(headers.get(n, [])) > 1 for n in (b"origin", b"sec-fetch-site", b"x-eigenstyle-token")):
            return _json(403, "a repeated Origin, Sec-Fetch-Site or X-Eigenstyle-Token header is refused")
        header_token = one(b"x-eigenstyle-token")
        auth = one(b"authorization")
        if header_token is None and auth and auth[:7].lower() == "bearer ":
            header_token = auth[7:].strip()
        unsafe = method not in SAFE_METHODS
        is_page = path == "/" and not unsafe  # a navigation: may come from anywhere (the terminal, a link)
        if not is_page:
            bad = self.cross_site(scope, one, header_token is not None, unsafe)
            if bad:
                return _json(403, bad)

        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))
        if header_token is not None:
            if not self._ok(header_token):
                return _json(401, "wrong token (it changes at every launch of eigenstyle serve)")
        elif is_page and "token" in query:
            if not self._ok(query["token"]):
                return _page_401()
            return self._exchange()
        elif not any(self._ok(c) for c in _cookies(headers.get(b"cookie", []), self.cookie)):
            if is_page:
                return _page_401()
            where = "; the token goes in a header or the cookie, not the URL" if "token" in query else ""
            return _json(
                401,
                f"this studio needs its token: open the URL eigenstyle serve printed, or send "
                f"X-Eigenstyle-Token: TOKEN (or Authorization: Bearer TOKEN){where}",
            )
        if unsafe:
            return self.body_type(path, one, headers)
        return None

    def cross_site(self, scope, one, token_in_header: bool, unsafe: bool) -> str | None:
        """Why a request is not from the studio's own page or a script (None if it is). A read may be
        typed in the address bar (Sec-Fetch-Site: none) and carries no Origin; a change may not."""
        site = one(b"sec-fetch-site")
        if site is not None and site != "same-origin" and (unsafe or site != "none"):
            return f"Sec-Fetch-Site: {site[:40]}: the studio answers only its own page"
        origin = one(b"origin")
        if origin is None and not unsafe:
            return None
        if origin is None:
            if token_in_header:  # a script (curl): browsers cannot add this header cross-site unasked
                return None
            return "a change without an Origin header: the studio's page sends one; scripts send X-Eigenstyle-Token"
        host = one(b"host") or ""
        scheme = scope.get("scheme", "http")
        default = {"http": ":80", "https": ":443"}.get(scheme, "")
        own = f"{scheme}://{host[: -len(default)] if default and host.endswith(default) else host}"
        if origin != own:
            return f"Origin {origin[:80]!r} is not this studio's ({own}): cross-site requests are refused"
        if unsafe and not token_in_header and one(b"x-eigenstyle") is None:
            return "a change without the X-Eigenstyle header (the studio's page sends it)"
        return None

    @staticmethod
    def body_type(path: str, one, headers) -> object | None:
        """415 unless the body is what the route reads: JSON, or an image for an upload. A
        cross-site form or text/plain post cannot send either without a preflight."""
        ctype = (one(b"content-type") or "").split(";")[0].strip().lower()
        has_body = b"transfer-encoding" in headers or (one(b"content-length") or "0") != "0"
        if not ctype and not has_body:
            return None
        if path == urls.INPUTS:  # the one state-changing route whose body is not JSON
            if ctype == "" or ctype == "application/octet-stream" or re.fullmatch(r"image/[a-z0-9.+-]+", ctype):
                return None
            return _json(415, f"an upload is sent as the image's own bytes (image/*), not {ctype}")
        if ctype != "application/json":
            return _json(415, f"the studio takes JSON here (Content-Type: application/json), not {ctype or 'none'}")
        return None

    def _ok(self, candidate: str) -> bool:
        return secrets.compare_digest(candidate.encode("utf-8", "replace"), self.token.encode())

    def _exchange(self):
        """The printed URL's token becomes a cookie; the redirect takes it out of the address bar."""
        cookie = f"{self.cookie}={self.token}; HttpOnly; SameSite=Strict; Path=/"
        return _respond(303, b"", b"text/plain", {"location": "/", "set-cookie": cookie})


class GuardedStarlette(Starlette):
    """Starlette with the guard outermost: its checks and headers cover every answer, 500s too."""

    def __init__(self, *args, guard: dict, **kwargs):
        self.guard = guard
        super().__init__(*args, **kwargs)

    def build_middleware_stack(self):
        return Guard(super().build_middleware_stack(), **self.guard)


def _cookies(values: list[bytes], name: str) -> list[str]:
    out = []
    for value in values:
        for part in value.decode("latin-1").split(";"):
            k, _, v = part.strip().partition("=")
            if k == name:
                out.append(v.strip('"'))
    return out


def _json(status: int, message: str, headers: dict | None = None):
    body = json.dumps({"error": " ".join(message.split())}).encode()
    return _respond(status, body, b"application/json", headers)


def _page_401():
    return _respond(401, NO_TOKEN_PAGE.encode(), b"text/html; charset=utf-8")


def _respond(status: int, body: bytes, ctype: bytes, headers: dict | None = None):
    async def app(scope, receive, send):
        hs = [(b"content-type", ctype), (b"content-length", str(len(body)).encode()), (b"cache-control", b"no-store")]
        hs += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
        await send({"type": "http.response.start", "status": status, "headers": hs})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})

    return app
