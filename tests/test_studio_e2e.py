"""The studio in a real headless Chromium (Debian's package, driven by Playwright).

Open the page, pick the samples, generate 2 variants at 64 px / 20 iterations,
watch both tiles fill with previews, see each variant's style swatch (on the
tile and in the viewer), mutate one, reload and find everything in the gallery;
screenshots at a laptop's and a phone's width; no Content-Security-Policy violation on
the way. A page on another origin in the same browser (the studio's cookie set) gets no
data and stores nothing; a re-binding name and a framing page get nothing either. The page has no swatch settings,
so the test adds small ones to its Generate request (children inherit them): a
default swatch costs more than the whole 20-iteration run. Set
EIGENSTYLE_STUDIO_SCREENSHOTS=DIR to keep the screenshots there.
"""

import json
import os

import pytest

from studio_live import headers, live_studio, page_url

pytestmark = pytest.mark.slow  # every test here runs the network or a server for seconds

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP rebind.test 127.0.0.1",  # a name that re-binds to the studio (DNS rebinding)
]
TILES = "#tiles .tile"
SWATCH = {"swatch_size": 32, "swatch_iterations": 5}
SWATCHES_LOADED = (
    f"[...document.querySelectorAll('{TILES}')].every(t => {{ const s = t.querySelector('img.swatch'); "
    "return s && s.title === 'style swatch' && s.complete && s.naturalWidth > 0; })"
)
# The inset stays inside the picture's frame: off the progress bar and the tile's buttons.
SWATCH_INSIDE = (
    f"[...document.querySelectorAll('{TILES}')].every(t => {{ "
    "const s = t.querySelector('img.swatch').getBoundingClientRect(), "
    "f = t.querySelector('.frame').getBoundingClientRect(); "
    "return s.width >= 32 && s.left >= f.left && s.right <= f.right && s.top >= f.top "
    "&& s.bottom <= f.bottom; })"
)


@pytest.fixture
def browser():
    if not os.path.exists(CHROMIUM):
        message = f"{CHROMIUM} is missing: apt-get install chromium (Debian's package; .ci/run installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def _wait(page, js, timeout=120_000):
    """Wait until ``js`` holds. Given as a function, not a bare expression: Playwright evaluates an
    expression with eval() in the page, which the studio's CSP (no 'unsafe-eval') rightly blocks."""
    page.wait_for_function(f"() => ({js})", timeout=timeout, polling=50)


def _page(browser):
    """A desktop-sized page that records its script errors and any Content-Security-Policy violation
    (Chromium reports them on the console); its generate requests ask for a small swatch."""
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    page.route(
        "**/api/generate",
        lambda route: route.continue_(post_data=json.dumps({**json.loads(route.request.post_data), **SWATCH})),
    )
    return page, errors


def _generate(page, url, app, size, iterations, count):
    """Open the page, pick the samples (Tübingen, The Starry Night) and click Generate with these settings."""
    page.goto(page_url(url, app))
    page.click("#content-picker button[data-name='tubingen.jpg']")
    page.click("#style-picker button[data-name='starry_night.jpg']")
    assert page.get_attribute("#content-picker button[data-name='tubingen.jpg']", "aria-selected") == "true"
    page.select_option("#mode", "variant")
    for field, value in (("#size", size), ("#iterations", iterations), ("#count", count)):
        page.fill(field, str(value))
    page.click("#generate")


def _statuses(page):
    return page.eval_on_selector_all(TILES, "ts => ts.map(t => t.dataset.status)")


def test_generate_watch_mutate_reload(browser, tmp_path):
    shots = os.environ.get("EIGENSTYLE_STUDIO_SCREENSHOTS") or str(tmp_path)
    with live_studio(tmp_path / "ws", preview_every=2) as (url, app):
        page, errors = _page(browser)
        _generate(page, url, app, 64, 20, 2)

        # Tiles appear at once, then fill with live previews while running.
        _wait(page, f"document.querySelectorAll('{TILES}').length === 2", 60_000)
        _wait(
            page,
            f"[...document.querySelectorAll('{TILES}')].some(t => t.dataset.status === 'running' "
            "&& t.querySelector('img').src.includes('/preview') && t.querySelector('img').naturalWidth > 0)",
        )
        _wait(page, f"[...document.querySelectorAll('{TILES}')].every(t => t.dataset.status === 'done')")
        _wait(page, f"[...document.querySelectorAll('{TILES} img')].every(i => i.complete && i.naturalWidth > 0)")
        assert page.inner_text(f"{TILES} .state") == "64 px · 20 it"
        assert "loss" in page.inner_text(f"{TILES} .loss")

        # Each finished variant shows its style swatch inset on the tile, and beside the image in the viewer.
        _wait(page, SWATCHES_LOADED, 60_000)
        assert page.evaluate(SWATCH_INSIDE)
        page.click(f"{TILES} >> nth=0 >> [data-act=enlarge]")
        _wait(
            page,
            "(i => i && i.complete && i.naturalWidth > 0)(document.querySelector('#viewer figure.swatch img'))",
            10_000,
        )
        assert page.inner_text("#viewer figure.swatch figcaption").startswith("style swatch")
        assert page.get_attribute("#viewer figure.swatch a", "href").endswith("/swatch?download=1")
        page.keyboard.press("Escape")

        # Mutate the first tile: 2 children (the form's count), with their parent recorded.
        page.click(f"{TILES} >> nth=0 >> [data-act=mutate]")
        _wait(page, f"document.querySelectorAll('{TILES}').length === 4", 60_000)
        _wait(page, f"[...document.querySelectorAll('{TILES}')].every(t => t.dataset.status === 'done')")
        labels = page.eval_on_selector_all(f"{TILES} .label", "ls => ls.map(l => l.textContent)")
        assert sum("child" in label for label in labels) == 2, labels
        page.screenshot(path=os.path.join(shots, "studio.png"))

        # Compare a child with its parent in the viewer.
        page.click(f"{TILES} >> nth=0 >> [data-act=parent]")
        _wait(page, "document.querySelectorAll('#viewer figure').length === 2", 60_000)
        page.keyboard.press("Escape")

        # Reload: everything is still there, from the gallery.
        page.reload()
        _wait(page, f"document.querySelectorAll('{TILES}').length === 4", 60_000)
        assert _statuses(page) == ["done"] * 4
        _wait(page, f"[...document.querySelectorAll('{TILES} img')].every(i => i.complete && i.naturalWidth > 0)")

        # A phone's width: one column of controls, two columns of tiles, nothing wider than the screen.
        page.set_viewport_size({"width": 390, "height": 844})
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        _wait(page, SWATCHES_LOADED, 60_000)
        assert page.evaluate(SWATCH_INSIDE)
        page.screenshot(path=os.path.join(shots, "studio-phone.png"), full_page=True)
        assert not errors, errors
    for name in ("studio.png", "studio-phone.png"):
        assert os.path.getsize(os.path.join(shots, name)) > 10_000


def test_tiles_sharpen_while_the_page_looks(browser, tmp_path):
    """Once the job is done the tiles are sharpened in the background (runner.Sharpener): each tile swaps its
    picture for the larger one as it lands and says the size it has reached."""
    with live_studio(tmp_path / "ws", preview_every=2, sharpen=(96,)) as (url, app):
        page, errors = _page(browser)
        _generate(page, url, app, 64, 10, 2)
        _wait(page, f"document.querySelectorAll('{TILES}').length === 2", 60_000)
        _wait(
            page,
            f"[...document.querySelectorAll('{TILES}')].every(t => t.dataset.status === 'done' "
            "&& t.querySelector('img').src.includes('/sharp?v=96') && t.querySelector('img').complete "
            "&& t.querySelector('img').naturalWidth === 96)",
        )
        states = page.eval_on_selector_all(f"{TILES} .state", "ss => ss.map(s => s.textContent)")
        assert states == ["64 px · 10 it · shown at 96 px"] * 2, states
        page.click(f"{TILES} >> nth=0 >> [data-act=enlarge]")
        _wait(page, "(i => i && i.complete && i.naturalWidth === 96)(document.querySelector('#viewer figure img'))")
        assert "shown sharpened to 96 px" in page.inner_text("#viewer")
        assert not errors, errors


CLIP_TILE = f"{TILES}[data-status] >> nth=0"


def test_morph_and_walk_play_as_their_frames_come_then_the_clip(browser, tmp_path):
    """Morph on two tiles (the button on one, then the other) and Walk on one make a clip tile that plays its
    frames as they come, then the clip (WebP, with MP4 and WebP downloads); Cancel keeps the frames made."""
    with live_studio(tmp_path / "ws", preview_every=2, sharpen=()) as (url, app):
        page, errors = _page(browser)
        _generate(page, url, app, 64, 30, 2)
        _wait(page, f"[...document.querySelectorAll('{TILES}')].filter(t => t.dataset.status === 'done').length === 2")
        page.fill("#frames", "6")
        page.click(f"{TILES} >> nth=0 >> [data-act=morph]")
        assert page.inner_text("#hint").startswith("Morph: now pick a second tile")
        page.click(f"{TILES} >> nth=1 >> [data-act=morph]")
        _wait(page, f"document.querySelectorAll('{TILES}').length === 3", 60_000)
        first = f"document.querySelector('{TILES}')"
        # its frames play while the rest are painted: more than one frame has been shown by the time it is done
        page.evaluate(
            f"() => {{ window.shown = new Set(); const img = {first}.querySelector('img'); "
            "new MutationObserver(() => { if (img.src.includes('/frames/')) window.shown.add(img.src); })"
            ".observe(img, { attributes: true }); }"
        )
        _wait(page, f"{first}.dataset.status === 'done'")
        assert page.evaluate("() => window.shown.size") >= 2
        _wait(
            page,
            f"(i => i.src.includes('/clip?v=13') && i.complete && i.naturalWidth === 64)({first}.querySelector('img'))",
        )
        assert page.inner_text(f"{TILES} >> nth=0 >> .state") == "clip · 13 frames · 64 px"
        assert page.get_attribute(f"{TILES} >> nth=0 >> [data-act=mp4]", "href").endswith("/clip?format=mp4&download=1")
        hidden = page.eval_on_selector_all(f"{TILES} >> nth=0 >> .actions [data-act]",
                                           "as => as.filter(a => !a.hidden).map(a => a.dataset.act)")  # fmt: skip
        assert hidden == ["enlarge", "parent", "mp4", "webp", "star", "delete"], hidden
        page.click(f"{TILES} >> nth=0 >> [data-act=enlarge]")
        assert "13 frames at 12 fps" in page.inner_text("#viewer figcaption")
        page.keyboard.press("Escape")

        # Walk on a variant tile; Cancel it once a few frames are there: the clip of the frames made stays
        page.fill("#frames", "24")
        page.click(f"{TILES} >> nth=1 >> [data-act=walk]")
        _wait(page, f"document.querySelectorAll('{TILES}').length === 4", 60_000)
        _wait(
            page,
            f"(t => t.dataset.status === 'running' "
            f"&& /^frame [3-9]/.test(t.querySelector('.state').textContent))({first})",
        )
        page.click(f"{TILES} >> nth=0 >> [data-act=cancel]")
        _wait(page, f"{first}.dataset.status === 'interrupted'")
        _wait(
            page,
            f"(i => i.src.includes('/clip?v=') && i.complete && i.naturalWidth === 64)({first}.querySelector('img'))",
        )
        assert "(stopped)" in page.inner_text(f"{TILES} >> nth=0 >> .state")
        assert not errors, errors


def test_render_large(browser, tmp_path):
    """Render large from a tile's menu: the size dialog, the render's progress across its scales with an
    ETA, the finished print as a new tile (its preview shown, its PNG downloadable). The studio's
    max_size is 128 here, so a 192 px render counts as print-size; the test cuts the render's
    iterations (the page sends only size and bit depth)."""
    from eigenstyle.studio.actions import Limits

    shots = os.environ.get("EIGENSTYLE_STUDIO_SCREENSHOTS") or str(tmp_path)
    with live_studio(tmp_path / "ws", preview_every=2, limits=Limits(max_size=128)) as (url, app):
        page, errors = _page(browser)
        sent = []

        def cut(route):
            body = json.loads(route.request.post_data)
            sent.append(body)
            route.continue_(post_data=json.dumps({**body, "scale_iterations": 40, "iterations": 30}))

        page.route("**/api/results/*/render", cut)
        page.goto(page_url(url, app))
        page.select_option("#mode", "variant")
        for field, value in (("#size", "64"), ("#iterations", "10"), ("#count", "1")):
            page.fill(field, value)
        page.click("#generate")
        _wait(page, f"document.querySelectorAll('{TILES}').length === 1", 60_000)  # else every() holds at once
        _wait(page, f"[...document.querySelectorAll('{TILES}')].every(t => t.dataset.status === 'done')")

        page.click(f"{TILES} >> nth=0 >> [data-act=render]")
        _wait(page, "document.querySelectorAll('#viewer .render-form input[name=side]').length > 0", 60_000)
        assert page.is_checked("#viewer input[name=side][value='2048']")
        assert page.inner_text("#viewer .render-form").count("2048 × 1536") == 1
        page.screenshot(path=os.path.join(shots, "studio-render-dialog.png"))
        page.fill("#viewer input[name=other]", "192")
        page.check("#viewer input[name=deep]")
        page.click("#viewer .render-form button[type=submit]")
        _wait(page, f"document.querySelectorAll('{TILES}').length === 2", 60_000)
        assert sent == [{"size": 192, "bit_depth": 16}]
        assert not page.evaluate("document.querySelector('#viewer').open")

        # The render's tile: the scale it is at, the iteration, the ETA of the whole render.
        render = f"{TILES} >> nth=0"
        _wait(page, f"document.querySelector('{TILES} .state').textContent.startsWith('scale 2/2 · 192 px')")
        assert "left (all scales)" in page.inner_text(f"{render} >> .eta")
        page.screenshot(path=os.path.join(shots, "studio-render.png"))
        _wait(page, f"document.querySelector('{TILES}').dataset.status === 'done'")
        assert page.inner_text(f"{render} >> .state") == "192 px · 30 it · 16-bit"
        assert page.is_hidden(f"{render} >> .eta")
        assert "/preview" in page.get_attribute(f"{render} >> img", "src")  # a print is never the tile's picture
        assert page.get_attribute(f"{render} >> [data-act=png]", "href").endswith("/image?download=1")
        for act in ("refine", "mutate", "between"):  # no breeding from a print-size render
            assert page.is_hidden(f"{render} >> [data-act={act}]")
        page.click(f"{render} >> [data-act=enlarge]")
        _wait(page, "document.querySelector('#viewer figcaption a') !== null", 60_000)
        assert page.inner_text("#viewer figcaption a") == "full 192 px PNG"
        page.screenshot(path=os.path.join(shots, "studio-render-done.png"))
        page.keyboard.press("Escape")
        assert not errors, errors


HOSTILE = """<!doctype html><title>a page on another origin</title><iframe name=sink></iframe>
<script>
const S = %(studio)s, GEN = %(generate)s;
async function probe(name, f) {
  try { const r = await f(); return [name, r.type, r.status, await r.text()]; }
  catch (e) { return [name, "error", 0, String(e)]; }
}
const post = (url, init) => fetch(S + url, { method: "POST", credentials: "include", ...init });
function submitForm(enctype) {  // a plain form post into a frame: the oldest cross-site request there is
  return new Promise((done) => {
    const f = document.createElement("form");
    f.method = "POST"; f.action = S + "/api/inputs?name=evil.png"; f.enctype = enctype; f.target = "sink";
    const i = document.createElement("input"); i.name = "x"; i.value = JSON.stringify(GEN); f.appendChild(i);
    document.body.appendChild(f);
    document.querySelector("iframe").onload = () => done(["form " + enctype, "sent", 0, ""]);
    setTimeout(() => done(["form " + enctype, "timeout", 0, ""]), 5000);
    f.submit();
  });
}
window.results = (async () => [
  await probe("GET /api/config (cors)", () => fetch(S + "/api/config", { credentials: "include" })),
  await probe("GET /api/config (no-cors)", () => fetch(S + "/api/config", { mode: "no-cors", credentials: "include" })),
  await probe("GET /api/results (cors)", () => fetch(S + "/api/results", { credentials: "include" })),
  await probe("POST generate text/plain", () => post("/api/generate", { mode: "no-cors",
    headers: { "Content-Type": "text/plain" }, body: JSON.stringify(GEN) })),
  await probe("POST generate json (preflight)", () => post("/api/generate", {
    headers: { "Content-Type": "application/json", "X-Eigenstyle": "1" }, body: JSON.stringify(GEN) })),
  await probe("POST upload no-cors", () => post("/api/inputs?name=evil.png", { mode: "no-cors",
    body: new Blob([new Uint8Array([137, 80, 78, 71])], { type: "image/png" }) })),
  await probe("DELETE result", () => fetch(S + "/api/results/" + "0".repeat(32), { method: "DELETE",
    credentials: "include" })),
  await submitForm("multipart/form-data"),
  await submitForm("text/plain"),
  await submitForm("application/x-www-form-urlencoded"),
])();
</script>"""


def _serve_html(html: str):
    """A second local web server (another port: same site as the studio, another origin)."""
    import http.server
    import threading

    class One(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = html.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), One)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _stored(app):
    s = app.state.studio.store
    files = sorted(os.listdir(os.path.join(s.root, "inputs")))
    return [i["id"] for i in s.list_inputs()], s.list_jobs(), s.results(), files


def test_a_page_on_another_origin_gets_nothing_and_changes_nothing(browser, tmp_path):
    """The artist has the studio open (its cookie set); a page on another local port, in the same
    browser, reads and posts to the studio every way a page can: no data comes back, nothing is stored,
    no job is queued. The same browser reaching the studio by a re-binding name gets 403 even with the
    token; the studio cannot be framed. The studio's own page loads under its CSP without a violation."""
    with live_studio(tmp_path / "ws") as (url, app):
        from starlette.testclient import httpx  # the client module the TestClient uses (httpx2 or httpx)

        ins = [i["id"] for i in httpx.get(url + "/api/inputs", headers=headers(app)).json()["inputs"]]
        context = browser.new_context()
        page = context.new_page()
        errors = []
        page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(page_url(url, app))
        assert page.url == url + "/"  # the token left the address bar
        _wait(page, "document.querySelectorAll('#content-picker button').length === 2", 30_000)
        cookies = context.cookies()
        assert [(c["httpOnly"], c["sameSite"], c["path"]) for c in cookies] == [(True, "Strict", "/")]
        before = _stored(app)

        gen = {"content": ins[0], "style": ins[1], "size": 48, "iterations": 5000, "count": 1}
        hostile = _serve_html(HOSTILE % {"studio": json.dumps(url), "generate": json.dumps(gen)})
        try:
            evil = context.new_page()
            evil.goto(f"http://127.0.0.1:{hostile.server_address[1]}/")
            results = evil.evaluate("window.results")
        finally:
            hostile.shutdown()
        for name, kind, status, text in results:  # a failed fetch, an unreadable (opaque) answer, or a form sent
            assert kind in ("error", "opaque", "sent", "timeout") and status == 0, (name, kind, text)
            assert (kind == "error" and "Failed to fetch" in text) or text == "", (name, kind, text)
        assert {r[0] for r in results if r[1] == "error"} >= {
            "GET /api/config (cors)",
            "POST generate json (preflight)",
        }
        assert _stored(app) == before and app.state.studio.queue.waiting() == 0

        # DNS rebinding: a name that resolves to 127.0.0.1 is another host to the studio, token or not.
        rebound = context.new_page()
        port = url.rsplit(":", 1)[1]
        answer = rebound.goto(f"http://rebind.test:{port}/?token={app.state.token}")
        assert answer.status == 403 and "rebinding" in rebound.content()
        got = rebound.evaluate("fetch('/api/config').then(r => r.status)")
        assert got == 403 and not [c for c in context.cookies() if c["domain"] == "rebind.test"]

        # Framing: the studio refuses to be shown in another page's frame.
        framer = _serve_html(f'<iframe src="{url}/"></iframe>')
        try:
            evil.goto(f"http://127.0.0.1:{framer.server_address[1]}/")
            evil.wait_for_timeout(1000)
            frame = evil.frames[-1]
            assert frame.url in (url + "/", "about:blank", "chrome-error://chromewebdata/")
            assert frame.evaluate("document.querySelector('#generate')") is None
        finally:
            framer.shutdown()
        assert _stored(app) == before

        # The studio's own page still works under its CSP: generate a tile and see it finish.
        page.fill("#size", "48")
        page.fill("#iterations", "4")
        page.fill("#count", "1")
        page.route(
            "**/api/generate",
            lambda route: route.continue_(post_data=json.dumps({**json.loads(route.request.post_data), **SWATCH})),
        )
        page.click("#generate")
        _wait(page, f"document.querySelectorAll('{TILES}').length === 1", 60_000)
        _wait(page, f"[...document.querySelectorAll('{TILES}')].every(t => t.dataset.status === 'done')")
        _wait(page, f"[...document.querySelectorAll('{TILES} img')].every(i => i.complete && i.naturalWidth > 0)")
        assert not errors, errors
        context.close()


def test_paint_regions_drop_a_tiles_style_on_one_and_generate(browser, tmp_path):
    """Paint a region over the content with the brush, use it, drop a variant tile on the red region, leave
    the rest the photograph's own look, and generate: the tile that comes has both regions in its recipe."""
    shots = os.environ.get("EIGENSTYLE_STUDIO_SCREENSHOTS") or str(tmp_path)
    with live_studio(tmp_path / "ws", preview_every=2) as (url, app):
        page, errors = _page(browser)
        _generate(page, url, app, 64, 10, 1)
        _wait(page, f"[...document.querySelectorAll('{TILES}')].every(t => t.dataset.status === 'done')")

        page.click("#paint-mask")
        _wait(page, "(i => i.complete && i.naturalWidth > 0)(document.querySelector('#painter-content'))", 20_000)
        box = page.locator("#painter-canvas").bounding_box()
        page.mouse.move(box["x"] + 5, box["y"] + 0.15 * box["height"])
        page.mouse.down()
        for i in range(1, 11):  # a broad red stroke across the sky
            page.mouse.move(box["x"] + i * box["width"] / 10, box["y"] + 0.15 * box["height"])
        page.mouse.up()
        page.click("#paint-use")
        _wait(page, "document.querySelectorAll('#regions .region').length === 2", 20_000)
        names = page.eval_on_selector_all("#regions .region", "rs => rs.map(r => r.dataset.region)")
        assert sorted(names) == ["black", "red"]
        page.select_option(".region[data-region='black'] select", "none")
        page.drag_and_drop(f"{TILES} >> nth=0", ".region[data-region='red']")
        dropped = "document.querySelector(\".region[data-region='red'] .tile-style\")"
        _wait(page, f"(t => t && t.textContent.startsWith('tile: '))({dropped})")

        page.select_option("#mode", "none")
        page.fill("#count", "1")
        page.click("#generate")
        _wait(page, f"document.querySelectorAll('{TILES}').length === 2", 60_000)
        _wait(page, f"[...document.querySelectorAll('{TILES}')].every(t => t.dataset.status === 'done')")
        _wait(page, f"[...document.querySelectorAll('{TILES} img')].every(i => i.complete && i.naturalWidth > 0)")
        page.screenshot(path=os.path.join(shots, "studio-regions.png"))
        newest = page.eval_on_selector(TILES, "t => t.dataset.id")
        o = page.evaluate(f"fetch('/api/results/{newest}', {{headers: {{'X-Eigenstyle': '1'}}}}).then(r => r.json())")
        regions = o["result"]["options"]["region"]
        assert "black=none" in regions and any(t.startswith('red={"mode": "variant"') for t in regions), regions
        assert not errors, errors
