"""The studio's front door (studio/guard.py), probed as a hostile page or a rebinding domain would.

Each probe is answered 403 (foreign Host, foreign Origin, cross-site fetch metadata, no custom
header), 401 (no or wrong token) or 415 (a body a simple cross-site request can send), in one
JSON line, with nothing stored and no job queued; every answer carries the CSP and framing
headers and none grants CORS. The app runs for real (starlette's TestClient); the raw-socket
probes (no Host, absolute-form targets, repeated headers, event streams) use a real uvicorn.
"""

import io
import json
import os
import socket
import subprocess
import sys

import pytest
from PIL import Image

from eigenstyle.options import Options
from eigenstyle.studio.app import create_app
from eigenstyle.studio.guard import Guard
from eigenstyle.studio.store import new_id

from studio_live import client, headers, live_studio

TOKEN = "test-token-0123456789abcdef"
OWN = "http://127.0.0.1:7860"
FOREIGN_HOSTS = [
    "evil.example:7860",
    "evil.example",
    "LOCALHOST:7860",
    "Localhost",
    "localhost.:7860",
    "127.0.0.1.nip.io:7860",
    "localhost.evil.example",
    "127.1:7860",
    "2130706433",
    "0x7f.0.0.1",
    "0.0.0.0:7860",
    "[::1",
    "[::ffff:7f00:1]x",
    "127.0.0.1:7860:80",
    "127.0.0.1:abc",
    "127.0.0.1 evil.example",
    "",
]
ALLOWED_HOSTS = ["127.0.0.1:7860", "127.0.0.1", "localhost:7860", "localhost", "127.3.4.5:9", "[::1]:7860", "[::1]"]


def _png(size=(40, 30)):
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 10, 30)).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture
def studio(tmp_path):
    app = create_app(str(tmp_path / "ws"), token=TOKEN, allow_hosts=("studio.lan",))
    with client(app) as c:
        yield c, app


def bare(c):
    """The same app, as a browser without the cookie or a script without the token: no default headers."""
    c.headers.clear()
    return c


def browser_cookie(c):
    """The cookie a browser gets from the printed URL (the exchange)."""
    r = bare(c).get(f"/?token={TOKEN}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"
    return dict(c.cookies)


def snapshot(app):
    s = app.state.studio.store
    return (
        [i["id"] for i in s.list_inputs()],
        sorted(os.listdir(os.path.join(s.root, "inputs"))),
        s.list_jobs(),
        [r["id"] for r in s.results()],
        app.state.studio.queue.waiting(),
    )


def one_line_error(r, status):
    assert r.status_code == status, (r.status_code, r.text)
    msg = r.json()["error"]
    assert msg and "\n" not in msg, msg
    return msg


def test_foreign_host_is_refused_on_page_api_images_static_and_events(studio):
    c, app = studio
    image = f"/api/inputs/{snapshot(app)[0][0]}/image"
    paths = ["/", f"/?token={TOKEN}", "/api/config", "/api/inputs", image, "/api/events", "/static/studio.js"]
    for host in FOREIGN_HOSTS:
        for path in paths:
            r = c.get(path, headers={"host": host}, follow_redirects=False)
            assert "rebinding" in one_line_error(r, 403), (host, path)
            assert "set-cookie" not in r.headers
    for host in ALLOWED_HOSTS + ["studio.lan:7860", "studio.lan"]:  # loopback, and what --allow-host adds
        assert c.get("/api/config", headers={"host": host}).status_code == 200, host
        assert c.get(image, headers={"host": host}).headers["content-type"] == "image/png"
    before = snapshot(app)
    for host in ("evil.example:7860", "STUDIO.LAN"):
        r = c.post("/api/inputs?name=x.png", content=_png(), headers={"host": host, "origin": f"http://{host}"})
        one_line_error(r, 403)
    assert snapshot(app) == before


def test_cross_site_changes_are_refused_and_nothing_is_stored(studio):
    c, app = studio
    s = app.state.studio.store
    ins = snapshot(app)[0]
    job, rid = new_id(), new_id()
    s.create_job(
        job, "generate", ins[0], ins[1], {}, [{"id": rid, "label": "x", "options": Options(size=48).to_dict()}]
    )
    s.update_result(rid, status="done")
    cookies = browser_cookie(c)
    c.cookies.update(cookies)
    before = snapshot(app)
    body = json.dumps({"content": ins[0], "style": ins[1], "size": 48, "iterations": 2})
    page = {"x-eigenstyle": "1", "content-type": "application/json"}
    probes = [
        {"origin": "http://evil.example"},
        {"origin": "http://evil.example:7860"},
        {"origin": "null"},
        {"origin": "http://127.0.0.1:9999"},  # another local port: same site, another origin
        {"origin": "http://localhost:7860"},  # the right port under another name
        {"origin": "https://127.0.0.1:7860"},
        {"origin": OWN + "/"},
        {"origin": OWN, "sec-fetch-site": "cross-site"},
        {"origin": OWN, "sec-fetch-site": "same-site"},
        {"origin": OWN, "sec-fetch-site": "none"},
        {},  # no Origin with only the cookie: not the page, not a script
        {"sec-fetch-site": "same-origin"},
        {"origin": OWN},  # the page's own origin without its X-Eigenstyle header
    ]
    for extra in probes:
        hs = {**page, **extra}
        if extra.get("origin") == OWN and len(extra) == 1:
            del hs["x-eigenstyle"]
        for method, url, content in (
            ("POST", "/api/generate", body),
            ("POST", f"/api/results/{rid}/render", '{"size": 8192}'),
            ("POST", f"/api/results/{rid}/star", '{"starred": true}'),
            ("POST", "/api/morph", json.dumps({"ids": [rid, rid]})),
            ("POST", f"/api/results/{rid}/walk", "{}"),
            ("POST", f"/api/jobs/{job}/cancel", None),
            ("DELETE", f"/api/results/{rid}", None),
            ("PUT", "/api/generate", body),
            ("PATCH", f"/api/results/{rid}", body),
            ("POST", "/api/inputs?name=x.png", _png()),
        ):
            r = c.request(method, url, content=content, headers=hs)
            one_line_error(r, 403)
    assert snapshot(app) == before and not s.get_result(rid)["starred"]
    # The page itself (its Origin, its header, the cookie) may do all of it.
    r = c.post(f"/api/results/{rid}/star", json={"starred": True}, headers={"origin": OWN, "x-eigenstyle": "1"})
    assert r.status_code == 200 and r.json()["result"]["starred"]
    assert c.delete(f"/api/results/{rid}", headers={"origin": OWN, "x-eigenstyle": "1"}).status_code == 200


def test_simple_request_bodies_get_415_or_403_and_nothing_is_stored(studio):
    c, app = studio
    ins = snapshot(app)[0]
    c.cookies.update(browser_cookie(c))
    before = snapshot(app)
    body = json.dumps({"content": ins[0], "style": ins[1], "size": 48, "iterations": 2})
    own = {"origin": OWN, "x-eigenstyle": "1"}
    multipart = "multipart/form-data; boundary=xyz"
    form = f"--xyz\r\nContent-Disposition: form-data; name=f; filename=a.png\r\n\r\n{body}\r\n--xyz--\r\n"
    for ctype, content in (
        ("text/plain", body),
        ("text/plain;charset=UTF-8", body),
        ("application/x-www-form-urlencoded", "a=" + body),
        (multipart, form),
        ("application/json-seq", body),
        (None, body),
    ):
        hs = {**own, **({"content-type": ctype} if ctype else {})}
        one_line_error(c.post("/api/generate", content=content, headers=hs), 415)
        one_line_error(c.post("/api/generate", content=content, headers={**hs, **headers(app)}), 415)
    for ctype in ("text/plain", "application/x-www-form-urlencoded", multipart):
        one_line_error(c.post("/api/inputs?name=x.png", content=_png(), headers={**own, "content-type": ctype}), 415)
        # the probe: a foreign page, a simple content type, the cookie withheld (SameSite) or not
        hs = {"origin": "http://evil.example", "content-type": ctype}
        one_line_error(c.post("/api/inputs?name=x.png", content=_png(), headers=hs), 403)
        one_line_error(bare(client(app)).post("/api/generate", content=body, headers=hs), 403)
    # the page's own upload: no Origin tricks, its header, the image's type
    assert snapshot(app) == before
    r = c.post("/api/inputs?name=ok.png", content=_png(), headers={**own, "content-type": "image/png"})
    assert r.status_code == 201, r.text


def test_the_token_is_required_for_page_api_images_files_and_events(studio):
    c, app = studio
    image = f"/api/inputs/{snapshot(app)[0][0]}/image"
    cookie_name = next(iter(browser_cookie(client(app))))
    bare(c)
    wrong = "x" * 43
    page = c.get("/")
    assert page.status_code == 401 and page.headers["content-type"].startswith("text/html")
    assert "eigenstyle serve" in page.text and "<script" not in page.text
    assert c.head("/").status_code == 401
    assert c.get(f"/?token={wrong}").status_code == 401
    for path in (
        "/api/config",
        "/api/inputs",
        image,
        "/api/events",
        f"/api/jobs/{new_id()}/events",
        f"/api/results/{new_id()}/clip",  # a Morph's clip and its frames
        f"/api/results/{new_id()}/frames/0",
        "/static/studio.js",
    ):
        for hs, cookies in (
            ({}, {}),
            ({"x-eigenstyle-token": wrong}, {}),
            ({"authorization": f"Bearer {wrong}"}, {}),
            ({"authorization": f"Basic {TOKEN}"}, {}),
            ({}, {cookie_name: wrong}),
            ({}, {"eigenstyle-token": TOKEN}),  # the right value under another name (another studio's cookie)
            ({"x-eigenstyle-token": wrong}, {cookie_name: TOKEN}),  # a wrong header is not saved by the cookie
        ):
            c.cookies.clear()
            c.cookies.update(cookies)
            one_line_error(c.get(path, headers=hs), 401)
        c.cookies.clear()
        assert "not the URL" in one_line_error(c.get(f"{path}?token={TOKEN}"), 401)  # the exchange is the page's only
    # What works: the header (two spellings), and the cookie from the printed URL.
    assert c.get("/api/config", headers={"x-eigenstyle-token": TOKEN}).status_code == 200
    assert c.get("/api/config", headers={"authorization": f"Bearer {TOKEN}"}).status_code == 200
    r = c.get(f"/?token={TOKEN}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/" and r.headers["cache-control"] == "no-store"
    parts = [p.strip() for p in r.headers["set-cookie"].split(";")]
    assert parts[0] == f"{cookie_name}={TOKEN}" and {"HttpOnly", "SameSite=Strict", "Path=/"} <= set(parts)
    c.cookies.update({cookie_name: TOKEN})
    assert c.get("/").status_code == 200 and c.get(image).status_code == 200
    assert c.get("/static/studio.js").status_code == 200


def test_every_answer_carries_the_policy_headers_and_none_grants_cors(studio):
    c, app = studio
    image = f"/api/inputs/{snapshot(app)[0][0]}/image"
    evil = {"origin": "http://evil.example"}
    answers = [
        c.get("/api/config", headers=evil),
        c.get(image),
        c.get("/static/studio.css"),
        c.get("/api/nothing"),
        c.get("/api/config", headers={"host": "evil.example"}),
        c.options("/api/generate", headers={**evil, "access-control-request-method": "POST"}),
        c.options("/api/config", headers={**evil, "access-control-request-headers": "x-eigenstyle-token"}),
        c.put("/api/generate"),
        c.request("TRACE", "/api/config"),
        c.head("/api/config"),
        bare(client(app)).get("/"),
        bare(client(app)).get("/api/config"),
    ]
    c.cookies.update(browser_cookie(client(app)))
    answers.append(bare(c).get("/"))
    assert answers[-1].status_code == 200 and '<script src="/static/studio.js"></script>' in answers[-1].text
    for r in answers:
        csp = r.headers["content-security-policy"]
        for rule in ("default-src 'self'", "script-src 'self'", "frame-ancestors 'none'", "object-src 'none'"):
            assert rule in csp, (r.request.url, csp)
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert r.headers["x-frame-options"] == "DENY" and r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "no-referrer"
        assert not [k for k in r.headers if k.lower().startswith("access-control-")], r.headers
    assert answers[5].status_code == 405 and answers[6].status_code == 405  # preflights: refused, nothing granted
    assert answers[7].status_code == 405 and answers[8].status_code == 405 and answers[9].status_code == 200
    # The page has no inline script or handler for the CSP to block.
    html = answers[-1].text
    assert "<script>" not in html and "javascript:" not in html and " style=" not in html
    assert not any(f" on{e}=" in html for e in ("click", "load", "error", "change", "submit", "input"))


def test_encoded_path_tricks_on_static_and_image_routes(studio):
    c, app = studio
    rid = snapshot(app)[0][0]
    for path in (
        "/static/..%2Fapp.py",
        "/static/%2e%2e/app.py",
        "/static/%2e%2e%2f%2e%2e%2fstudio.sqlite3",
        "/static/..%5capp.py",
        "/static//etc/passwd",
        "/static/%00studio.js",
        "/static/.%2F..%2Fguard.py",
        "/api/results/..%2F..%2Fstudio.sqlite3/image",
        f"/api/inputs/{rid}%2F..%2F..%2Fstudio.sqlite3/image",
        f"/api/inputs/{rid}/..%2Fimage",
        "/api/inputs/..%2F..%2F..%2Fetc%2Fpasswd/image",
    ):
        r = c.get(path)
        assert r.status_code == 404, (path, r.status_code)
        assert b"SQLite" not in r.content and b"import" not in r.content
        assert bare(client(app)).get(path).status_code in (401, 404)


def _raw(url, request: bytes) -> bytes:
    host, port = url.split("//")[1].split(":")
    with socket.create_connection((host, int(port)), timeout=30) as s:
        s.sendall(request)
        out = b""
        while b"\r\n\r\n" not in out:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
        head, _, body = out.partition(b"\r\n\r\n")
        while b"event: hello" not in body and b'"error"' not in body:  # a stream's first event, or a refusal's body
            chunk = s.recv(65536)
            if not chunk:
                break
            body += chunk
    return head + b"\r\n\r\n" + body


def test_raw_requests_to_a_real_server(tmp_path):
    """What a client library would not send: no Host, absolute-form targets, repeated Host and
    Origin headers; and the event stream refused before it starts (and streaming when allowed)."""
    with live_studio(tmp_path / "ws", token=TOKEN) as (url, app):
        port = url.rsplit(":", 1)[1]
        tok = f"X-Eigenstyle-Token: {TOKEN}\r\n".encode()
        before = snapshot(app)
        body = b'{"size": 48}'
        post = f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n".encode()
        for request, status in (
            (b"GET /api/config HTTP/1.0\r\n" + tok + b"\r\n", 403),  # no Host (HTTP/1.0 allows that)
            (b"GET /api/config HTTP/1.1\r\n" + tok + b"Connection: close\r\n\r\n", 400),  # HTTP/1.1 requires one
            (f"GET http://evil.example:{port}/api/config HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n".encode() + tok, 403),
            (f"GET http://127.0.0.1:{port}/api/config HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n".encode() + tok, 403),
            (f"GET http://evil.example:{port}/ HTTP/1.1\r\nHost: evil.example:{port}\r\n".encode(), 403),
            (
                f"GET /api/config HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nHost: evil.example\r\n".encode() + tok,
                (400, 403),
            ),
            (f"GET /api/events HTTP/1.1\r\nHost: evil.example:{port}\r\n".encode() + tok, 403),
            (f"GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n".encode(), 401),
            (f"GET /api/events?token={TOKEN} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n".encode(), 401),
            (
                f"GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nSec-Fetch-Site: cross-site\r\n".encode() + tok,
                403,
            ),
            (f"GET / HTTP/1.1\r\nHost: [::1]x:{port}\r\n".encode(), 403),
            (
                f"POST /api/generate HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nOrigin: {OWN}\r\nOrigin: http://evil.example\r\n"
                f"Cookie: x=1\r\n".encode()
                + post
                + b"\r\n"
                + body,
                403,
            ),
            (f"OPTIONS * HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n".encode(), 403),
            (
                f"GET /api/config HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nSec-Fetch-Site: same-origin\r\n"
                f"Sec-Fetch-Site: cross-site\r\n".encode()
                + tok,
                403,
            ),
        ):
            request = request if request.endswith(b"\r\n\r\n") or b"{" in request else request + b"\r\n"
            answer = _raw(url, request)
            assert answer.split(b" ")[1] in {
                str(st).encode() for st in (status if isinstance(status, tuple) else (status,))
            }, (
                request,
                answer[:300],
            )
            assert b"access-control-allow-origin" not in answer.lower()
            assert b"event: hello" not in answer
        ok = _raw(url, f"GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n".encode() + tok + b"\r\n")
        assert ok.startswith(b"HTTP/1.1 200 ") and b"event: hello" in ok
        assert b"frame-ancestors 'none'" in ok
        assert snapshot(app) == before


def test_guard_needs_a_real_token():
    for bad in ("", "short", "x" * 15, "has space in it ....", "é" * 20, "a;b=c" * 5):
        with pytest.raises(Exception, match="16 to 200 characters"):
            Guard(None, bad)
    assert create_app.__kwdefaults__["token"] is None  # None: a new random token, never none at all


@pytest.mark.slow
def test_serve_prints_the_url_with_its_token_and_takes_allow_host_and_the_environment(tmp_path):
    env = {**os.environ, "EIGENSTYLE_TOKEN": TOKEN, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "eigenstyle.cli", "serve", "--workspace", str(tmp_path / "ws"), "--port", "0"]
    r = subprocess.run([*cmd, "--token", "short"], capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "--token" in r.stderr, r.stderr
    proc = subprocess.Popen(
        [*cmd, "--allow-host", "Studio.LAN"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("eigenstyle studio: http://127.0.0.1:"), (line, proc.stderr.read())
        printed = line.split()[2]
        base, token = printed.split("/?token=")
        assert token == TOKEN
        from starlette import testclient

        httpx = testclient.httpx
        with httpx.Client(base_url=base, timeout=60) as h:
            port = base.rsplit(":", 1)[1]
            assert h.get("/api/config").status_code == 401
            assert h.get("/api/config", headers={"host": f"evil.example:{port}"}).status_code == 403
            auth = {"authorization": f"Bearer {TOKEN}"}
            assert h.get("/api/config", headers={**auth, "host": f"studio.lan:{port}"}).status_code == 200
            assert h.get("/api/config", headers={**auth, "host": f"evil.example:{port}"}).status_code == 403
            page = h.get(printed, follow_redirects=True)  # the printed URL: cookie, redirect, the page
            assert page.status_code == 200 and str(page.url) == base + "/" and "studio.js" in page.text
            assert h.get("/api/config").status_code == 200  # the cookie now
            r = h.post("/api/inputs?name=a.png", content=b"x", headers={"origin": "http://evil.example"})
            assert r.status_code == 403
    finally:
        proc.terminate()
        proc.wait(30)


# --- docs/robustness.md's Security section (tests/test_robustness.py writes it and checks it) ----------
E2E = "tests/test_studio_e2e.py::"
SECURITY = [
    (
        "DNS rebinding: `GET /`, `/?token=...`, `/api/config`, `/api/inputs`, an image, `/api/events`, "
        "`/static/studio.js` with `Host: evil.example:PORT`; also `LOCALHOST`, `Localhost`, `localhost.`, "
        "`127.0.0.1.nip.io`, `localhost.evil.example`, `127.1`, `2130706433`, `0x7f.0.0.1`, `0.0.0.0`, "
        "malformed and empty Hosts",
        "403, one JSON line (`Host '...' is not this studio's (DNS rebinding guard)`), with or without the "
        "token; no cookie set. `localhost`, `127.x.x.x`, `[::1]` (any port) and `--allow-host` names pass",
        "test_foreign_host_is_refused_on_page_api_images_static_and_events",
    ),
    (
        "A browser reaching the studio by a name that resolves to 127.0.0.1 (`rebind.test`), the token in the URL",
        "403; no cookie for that name; its own `fetch('/api/config')` 403",
        E2E + "test_a_page_on_another_origin_gets_nothing_and_changes_nothing",
    ),
    (
        "No Host (HTTP/1.0), two Host headers, absolute-form targets (`GET http://evil.example:PORT/...`, "
        "also with `Host: 127.0.0.1`), `OPTIONS *`, the event stream with a foreign Host, without the token, "
        "with `?token=`, with `Sec-Fetch-Site: cross-site`; two Origin headers on a POST",
        "403 or 401 before the stream starts (h11 itself answers 400 to an HTTP/1.1 request without a Host "
        "or with two); nothing stored",
        "test_raw_requests_to_a_real_server",
    ),
    (
        "Changes with the studio's cookie from elsewhere: `POST` generate, render 8192 px, star, morph, walk, "
        "cancel, an upload; `DELETE` a result; `PUT`, `PATCH`; with `Origin: http://evil.example`, `null`, "
        "`http://127.0.0.1:9999` (same site, other port), `http://localhost:PORT` (right port, other name), "
        "`https://...`, a trailing `/`; `Sec-Fetch-Site: cross-site`, `same-site`, `none`; no Origin at all "
        "(also with `Sec-Fetch-Site: same-origin`); the page's own Origin without its `X-Eigenstyle` header",
        "403, one line; nothing stored, no job queued, the star unchanged, the result still there (the page "
        "itself then stars and deletes it)",
        "test_cross_site_changes_are_refused_and_nothing_is_stored",
    ),
    (
        "Bodies a simple cross-site request can send: `text/plain`, `application/x-www-form-urlencoded`, "
        "`multipart/form-data`, none, to `/api/generate` (also from the page's own origin, also with the "
        "token); to `/api/inputs`; the issue's probe (`Origin: http://evil.example`, `text/plain`)",
        "415 for the wrong type on a same-origin request (JSON routes take `application/json`, an upload an "
        "image type); 403 from a foreign Origin; nothing stored",
        "test_simple_request_bodies_get_415_or_403_and_nothing_is_stored",
    ),
    (
        "No token or a wrong one: the page, `HEAD /`, `/?token=WRONG`, the API, an image, a clip and its "
        "frames, both event streams, `/static/`; a wrong `X-Eigenstyle-Token`, `Bearer`, `Basic`; a cookie "
        "with a wrong value or the right value under another name; a wrong header beside a right cookie; the "
        "right token in `?token=` on an API route",
        "401, one JSON line (the page: a short HTML page saying to open the URL serve printed); the printed "
        "URL answers 303 to `/` with an `HttpOnly; SameSite=Strict; Path=/` cookie",
        "test_the_token_is_required_for_page_api_images_files_and_events",
    ),
    (
        "A page on another origin (127.0.0.1, another port: same site, so the Strict cookie is sent) in the "
        "browser where the studio is open: `fetch` of `/api/config` and `/api/results` (cors and no-cors), "
        "`POST` generate as `text/plain` and as JSON (preflight), an upload, a `DELETE`, form posts in three "
        "encodings; an `<iframe>` of the studio",
        "every fetch fails (no CORS granted, `Cross-Origin-Resource-Policy: same-origin`); the forms are "
        "refused (403); the frame stays empty (`frame-ancestors 'none'`, `X-Frame-Options: DENY`); nothing "
        "stored, no job",
        E2E + "test_a_page_on_another_origin_gets_nothing_and_changes_nothing",
    ),
    (
        "CORS preflights (`OPTIONS` with `Access-Control-Request-*`), `TRACE`, `PUT`, `HEAD`; the headers of "
        "every kind of answer (page, JSON, image, static, 401, 403, 404, 405)",
        "405 for `OPTIONS`, `TRACE` and `PUT` (`HEAD` is a `GET`: 200); on every answer the CSP "
        "(`default-src 'self'; script-src 'self'; ... "
        "frame-ancestors 'none'`), `X-Frame-Options: DENY`, `nosniff`, `Referrer-Policy: no-referrer`; "
        "never an `Access-Control-*` header",
        "test_every_answer_carries_the_policy_headers_and_none_grants_cors",
    ),
    (
        "Encoded paths on static and image routes: `/static/..%2Fapp.py`, `%2e%2e/`, `..%5c`, `//`, `%00`, "
        "`.%2F..%2F`, ids carrying `%2F..%2F`",
        "404 (401 without the token), nothing read",
        "test_encoded_path_tricks_on_static_and_image_routes",
    ),
    (
        "The page under its own CSP in Chromium: generate, watch, swatches, mutate, compare, reload",
        "no CSP violation on the console, no script error",
        E2E + "test_generate_watch_mutate_reload",
    ),
    (
        "`eigenstyle serve` itself: `--token short`; `EIGENSTYLE_TOKEN`; `--allow-host Studio.LAN`",
        "a weak token: one line, exit 2; the printed URL carries the token; `studio.lan` passes, others 403",
        "test_serve_prints_the_url_with_its_token_and_takes_allow_host_and_the_environment",
    ),
]
CURL = """\
$ eigenstyle serve --workspace /tmp/ws --port 0
eigenstyle studio: http://127.0.0.1:34187/?token=sVUp...HCs  (workspace /tmp/ws; Ctrl-C stops)
$ curl -s -o /dev/null -w '%{http_code}' -H "Host: evil.example:34187" http://127.0.0.1:34187/
403
$ curl -s -H "Host: evil.example:34187" -H "X-Eigenstyle-Token: $T" http://127.0.0.1:34187/api/config
{"error": "Host 'evil.example:34187' is not this studio's (DNS rebinding guard); use 127.0.0.1 or localhost, \
or start serve with --allow-host NAME"}   (403)
$ curl -s -X POST -H "Origin: http://evil.example" -H "Content-Type: text/plain" --data-binary @README.md \\
    "http://127.0.0.1:34187/api/inputs?name=x.png"
{"error": "Origin 'http://evil.example' is not this studio's (http://127.0.0.1:34187): cross-site requests \
are refused"}   (403)
$ curl -s -X POST -H "Origin: http://evil.example" -H "Content-Type: text/plain" -d '{"size":8192}' \\
    http://127.0.0.1:34187/api/generate
{"error": "Origin 'http://evil.example' is not this studio's (http://127.0.0.1:34187): cross-site requests \
are refused"}   (403)
$ curl -s -X POST -H "X-Eigenstyle-Token: $T" -H "Content-Type: text/plain" -d '{}' http://127.0.0.1:34187/api/generate
{"error": "the studio takes JSON here (Content-Type: application/json), not text/plain"}   (415)
$ curl -s http://127.0.0.1:34187/api/config
{"error": "this studio needs its token: open the URL eigenstyle serve printed, or send X-Eigenstyle-Token: \
TOKEN (or Authorization: Bearer TOKEN)"}   (401)
$ curl -s http://127.0.0.1:34187/
<!doctype html>...<p>This studio needs its token. Open the URL that <code>eigenstyle serve</code> \
printed ...   (401)
$ curl -s -i "http://127.0.0.1:34187/?token=$T"
HTTP/1.1 303 See Other
location: /
set-cookie: eigenstyle-f69cd17e6790=sVUp...HCs; HttpOnly; SameSite=Strict; Path=/
content-security-policy: default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'
x-frame-options: DENY
x-content-type-options: nosniff
referrer-policy: no-referrer
$ curl -s -L -c jar -b jar -o /dev/null -w '%{http_code} %{url_effective}' "http://127.0.0.1:34187/?token=$T"
200 http://127.0.0.1:34187/
$ curl -s -b jar -o /dev/null -w '%{http_code}' http://127.0.0.1:34187/api/config
200
$ curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $T" http://127.0.0.1:34187/api/config
200
$ curl -s -i -X OPTIONS -H "Origin: http://evil.example" -H "Access-Control-Request-Method: POST" \\
    http://127.0.0.1:34187/api/generate
HTTP/1.1 405 Method Not Allowed   (no Access-Control-* header)
{"error": "the studio answers no cross-origin (CORS) requests"}
$ ls /tmp/ws/inputs | wc -l      # the two bundled samples only: nothing was stored
2
$ EIGENSTYLE_TOKEN=probe-token-0123456789abcdef eigenstyle serve --workspace /tmp/ws2 --port 0 --allow-host studio.lan
eigenstyle studio: http://127.0.0.1:43637/?token=probe-token-0123456789abcdef  (workspace /tmp/ws2; Ctrl-C stops)
(each with -H "X-Eigenstyle-Token: $T" unless said otherwise; the answer's status, then its first words)
-H "Host: localhost.:43637" /api/config                  403 Host 'localhost.:43637' is not this studio's
-H "Host: LOCALHOST:43637" /api/config                   403 Host 'LOCALHOST:43637' is not this studio's
-H "Host: 127.0.0.1.nip.io:43637" /api/config            403 Host '127.0.0.1.nip.io:43637' is not this studio's
-H "Host:" /api/config                                   400 Invalid HTTP request received. (h11)
-H "Host: [::1]:43637" /api/config                       200
-H "Host: studio.lan:43637" /api/config                  200 (--allow-host)
--request-target "http://evil.example:43637/api/config"  403 absolute-form or malformed request targets are refused
-X POST -H "Origin: null" -H "Content-Type: application/json" -d '{}' /api/generate
                                                         403 Origin 'null' is not this studio's
"/static/..%2Fapp.py"                                    404 no such page
"/api/config?token=$T" (no header)                       401 this studio needs its token
-I /api/config                                           200
-X DELETE /api/config                                    405 Method Not Allowed
-N -H "Host: evil.example:43637" /api/events             403 Host 'evil.example:43637' is not this studio's
-N /api/events (no header)                               401 this studio needs its token
-X POST -F "f=@tubingen.jpg" "/api/inputs?name=x.jpg"    415 an upload is sent as the image's own bytes (image/*),
                                                             not multipart/form-data
-X POST -H "Origin: http://127.0.0.1:43637" -H "Content-Type: image/jpeg" --data-binary @tubingen.jpg (no token)
                                                         403 a change without the X-Eigenstyle header
$ ls /tmp/ws2/inputs | wc -l
2"""


def doc_lines() -> list[str]:
    """The Security section of docs/robustness.md: each attack tried, the answer, the test."""
    lines = [
        "",
        "## Security",
        "",
        "`eigenstyle serve` listens on 127.0.0.1, but that alone does not keep web pages out: a page on a "
        "domain that re-binds to 127.0.0.1 is same-origin with the studio (DNS rebinding, Ollama's "
        "CVE-2024-28224), and any page can send simple cross-site POSTs. `studio/guard.py` (an ASGI "
        "middleware in front of every route, the event streams included) follows Jupyter Server: a Host "
        "allowlist, a per-launch token in the printed URL exchanged for an `HttpOnly; SameSite=Strict` "
        "cookie, same-origin checks on changes, and a CSP with `frame-ancestors 'none'`. Every row is a test "
        "in `tests/test_studio_security.py` unless it names another file.",
        "",
        "Decisions. There is no way to turn the token off (no `--no-token`): `--token`/`EIGENSTYLE_TOKEN` fix "
        "one (16+ URL-safe characters) for bookmarks and scripts. A change (any method but GET and HEAD) "
        "without an Origin header is refused unless the token comes in a header (`X-Eigenstyle-Token` or "
        "`Authorization: Bearer`): browsers send an Origin on every POST/PUT/PATCH/DELETE, and cannot add "
        "the token header cross-site without a preflight, which is never granted; `Sec-Fetch-Site: "
        "same-origin` alone is not enough. The page also sends `X-Eigenstyle: 1` on every change. `?token=` "
        "counts only on `GET /` (the exchange, then a 303 to `/`); on other routes it is ignored (401). Host "
        "names must be spelled as a browser sends them (lower case, no trailing dot); the port in Host is "
        "not checked (ssh port forwarding), but the Origin of a change must equal the request's own "
        "`scheme://host:port`. The cookie's name carries a hash of the token: cookies ignore ports, so two "
        "studios on one machine keep theirs apart. The limits that were there stay (upload bytes and pixels, "
        "sizes, counts, `--max-queued`).",
        "",
        "| attack (as tried) | answer | test |",
        "|---|---|---|",
    ]
    lines += [f"| {a} | {b} | `{t}` |" for a, b, t in SECURITY]
    lines += [
        "",
        "Tried by hand on `eigenstyle serve --workspace /tmp/ws --port 0` ($T: the printed token):",
        "",
        "```",
        CURL,
        "```",
    ]
    return lines


def test_the_security_rows_name_tests_that_exist():
    import test_studio_e2e

    for _, _, test in SECURITY:
        module, name = (test_studio_e2e, test.split("::")[1]) if "::" in test else (sys.modules[__name__], test)
        assert callable(getattr(module, name, None)), test
