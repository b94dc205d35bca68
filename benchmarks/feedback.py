"""The feedback budget: how soon an artist sees something move, and sees it done.

Drives the real studio (uvicorn on 127.0.0.1, Debian's Chromium through Playwright) from Generate, at
the studio's defaults unless told (Tübingen + The Starry Night, count 4, 128 px, 100 iterations): the
time to the first tile showing a live preview, and to four finished tiles, and the tiles' scores
(benchmarks/tiles.py's: edges with the photograph, stroke x a plain tile's, border). With --sharpen, the walk
goes on while the studio sharpens the tiles in the background (runner.Sharpener): the time from Generate to
every tile shown at each size, the 384 px tiles' scores (stroke x the plain 128 px tile's), and, a second
Generate later, the first preview of a third Generate clicked while a 384 px step runs. With --morph, Morph on
the first two tiles: the time to the clip tile playing a painted frame, to the clip written, and its flow. Then
the CLI: a 256 px variant against a plain run of the same size (wall time of `eigenstyle stylize` in a fresh process,
start-up included). Targets (issue 21, a 2-core CPU): first preview <= 2 s, four tiles <= 30 s,
a CLI variant <= 1.2x a plain run. Say which CPU (lscpu) with every figure.

    python benchmarks/feedback.py                      # studio walk (every mode) and CLI
    python benchmarks/feedback.py --modes variant --no-cli
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))  # the tests' live server: one way to start a studio
sys.path.insert(0, HERE)  # tiles.py: how a tile is scored

from PIL import Image  # noqa: E402

from eigenstyle import __version__  # noqa: E402
from eigenstyle.demo import sample  # noqa: E402
from eigenstyle.studio.actions import CLIP  # noqa: E402
from eigenstyle.studio.runner import SHARP_SIZES  # noqa: E402

from studio_live import live_studio, page_url  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
TILES = "#tiles .tile"
MOVING = (
    f"[...document.querySelectorAll('{TILES}')].some(t => t.querySelector('img').src.includes('/preview') "
    "&& t.querySelector('img').naturalWidth > 0)"
)
DONE = (
    f"(ts => ts.length === N && ts.every(t => t.dataset.status === 'done'))([...document.querySelectorAll('{TILES}')])"
)


def cpu() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        name = next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name"))
    except (OSError, StopIteration):
        name = platform.processor() or platform.machine()
    flags = open("/proc/cpuinfo").read() if os.path.exists("/proc/cpuinfo") else ""
    isa = "AMX-BF16" if "amx_bf16" in flags else "AVX-512 BF16" if "avx512_bf16" in flags else "AVX2"
    return f"{name}, {os.cpu_count()} cores, {isa}"


def shown_at(n: int, size: int) -> str:
    """Every one of the page's first ``n`` tiles shows its picture sharpened to ``size`` px, loaded."""
    return (
        f"(ts => ts.length >= {n} && ts.slice(0, {n}).every(t => t.querySelector('img').src.includes('/sharp?v={size}')"
        f" && t.querySelector('img').complete && t.querySelector('img').naturalWidth > 0))"
        f"([...document.querySelectorAll('{TILES}')])"
    )


def studio_walk(
    mode: str,
    count: int,
    size: int | None,
    iterations: int | None,
    timeout: float,
    shot=None,
    sharpen=False,
    morph=False,
) -> dict:
    from playwright.sync_api import sync_playwright

    sizes = SHARP_SIZES if sharpen else ()
    with tempfile.TemporaryDirectory() as ws, live_studio(ws, sharpen=sizes) as (url, app), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(page_url(url, app))  # the URL serve prints, with its token
        page.click("#content-picker button[data-name='tubingen.jpg']")
        page.click("#style-picker button[data-name='starry_night.jpg']")
        page.select_option("#mode", mode)
        page.fill("#count", str(count))
        if size:
            page.fill("#size", str(size))
        if iterations:
            page.fill("#iterations", str(iterations))
        settings = {k: page.input_value(f"#{k}") for k in ("size", "iterations", "count")}
        started = time.perf_counter()
        page.click("#generate")
        page.wait_for_function(f"() => ({MOVING})", timeout=timeout * 1000, polling=20)
        first = time.perf_counter() - started
        shown = page.eval_on_selector(f"{TILES} .state", "e => e.textContent")
        page.wait_for_function(f"() => ({DONE.replace('N', str(count))})", timeout=timeout * 1000, polling=50)
        done = time.perf_counter() - started
        store = app.state.studio.store
        job = store.list_jobs(1)[0]["id"]
        tiles = [Image.open(store.image_path(r["id"])).convert("RGB") for r in store.results(job_id=job)]
        if shot and not sizes:  # the page as the artist sees it then (every tile's picture and swatch loaded)
            page.wait_for_function(  # a function, not an expression: the studio's CSP forbids eval
                f"() => [...document.querySelectorAll('{TILES} img')].every(i => i.complete && i.naturalWidth > 0)",
                timeout=30_000,
            )
            page.screenshot(path=shot)
        sharp = sharpened(page, app, started, count, sizes, timeout, shot) if sizes else {}
        print({k: v for k, v in sharp.items() if k != "tiles"}, flush=True)
        clip = morphed(page, app, count, timeout, shot) if morph else {}
        browser.close()
    scores = scored(tiles, int(settings["size"]), int(settings["iterations"]))
    if sharp.get("tiles"):
        big = scored(sharp.pop("tiles"), int(settings["size"]), int(settings["iterations"]), sizes[-1])
        sharp.update({f"{k}_{sizes[-1]}": v for k, v in big.items()})
    return {"mode": mode, **settings, "first_preview_s": round(first, 2), "first_shows": shown,
            "all_done_s": round(done, 1), **scores, **sharp, **clip}  # fmt: skip


def morphed(page, app, count: int, timeout: float, shot=None) -> dict:
    """Morph on the first two tiles (the studio's clip defaults): the time from the second click to the clip
    tile playing its first painted frame, and to the clip written; the flow of its frames (benchmarks/morph.py's
    measures: the change a frame, its coefficient of variation, the largest step over the median)."""
    from morph import flow

    first = f"document.querySelector('{TILES}')"
    page.click(f"{TILES} >> nth=0 >> [data-act=morph]")
    page.click(f"{TILES} >> nth=1 >> [data-act=morph]")
    clicked = time.perf_counter()
    page.wait_for_function(  # a painted frame (frame 0 is the first tile itself)
        f"() => document.querySelectorAll('{TILES}').length === {count + 1} && "
        f"/\\/frames\\/[1-9]/.test({first}.querySelector('img').src)",
        timeout=timeout * 1000,
        polling=20,
    )
    playing = time.perf_counter() - clicked
    if shot:
        page.screenshot(path=shot.replace(".png", "-morph.png"))
    page.wait_for_function(f"() => {first}.dataset.status === 'done'", timeout=timeout * 1000, polling=50)
    done = time.perf_counter() - clicked
    store = app.state.studio.store
    rec = store.results(job_id=store.list_jobs(1)[0]["id"])[0]
    frame_ms = 1000 / CLIP.fps
    with Image.open(store.clip_path(rec["id"], ".webp")) as im:
        pictures = []
        for k in range(im.n_frames):  # a run of equal frames is kept as one, shown for their time
            im.seek(k)
            pictures += [im.convert("RGB")] * max(1, round(im.info["duration"] / frame_ms))
    fl = flow(pictures)
    n = rec["iterations_done"]
    return {"morph_frames": n, "morph_first_frame_s": round(playing, 2), "morph_done_s": round(done, 1),
            "morph_s_per_frame": round(done / max(1, n - 1), 2), "morph_change": round(fl["median"], 2),
            "morph_cv": round(fl["cv"], 2), "morph_step": round(fl["step"], 2)}  # fmt: skip


def sharpened(page, app, started: float, count: int, sizes: tuple, timeout: float, shot=None) -> dict:
    """The background sharpening of the walk's tiles, timed from Generate (``shot``: the page then); then the
    pre-emption: a second Generate, and once its tiles are sharpening at the last size, a third, timed to its
    first preview."""
    out = {}
    for size in sizes:
        page.wait_for_function(f"() => ({shown_at(count, size)})", timeout=timeout * 1000, polling=100)
        out[f"shown_{size}_s"] = round(time.perf_counter() - started, 1)
    if shot:
        page.screenshot(path=shot)
    store = app.state.studio.store
    job = store.list_jobs(1)[0]["id"]
    out["tiles"] = [Image.open(store.sharp_path(r["id"], sizes[-1])).convert("RGB") for r in store.results(job_id=job)]
    if shot:  # the sharpened tiles beside the screenshot, to look at
        for i, im in enumerate(out["tiles"]):
            im.save(f"{os.path.splitext(shot)[0]}-{sizes[-1]}px-{i}.png")
    page.click("#generate")  # a second job; its tiles sharpen in turn
    page.wait_for_function(f"() => ({DONE.replace('N', str(2 * count))})", timeout=timeout * 1000, polling=50)
    if len(sizes) > 1:
        page.wait_for_function(f"() => ({shown_at(count, sizes[-2])})", timeout=timeout * 1000, polling=100)
    time.sleep(2.0)  # inside a step at the last size
    busy = bool(app.state.studio.queue._background)
    clicked = time.perf_counter()
    page.click("#generate")
    page.wait_for_function(f"() => ({MOVING})", timeout=timeout * 1000, polling=20)
    out["preempted_first_preview_s"] = round(time.perf_counter() - clicked, 2)
    out["preempted_a_step"] = busy
    return out


def scored(tiles: list, size: int, iterations: int, photo_size: int | None = None) -> dict:
    """The walk's tiles scored as benchmarks/tiles.py scores them (edges with the photograph, stroke x a plain
    tile at the same settings, border): each score's range over the tiles. ``photo_size``: the tiles' own
    size when they are larger than the walk's (sharpened), for the photograph they are compared with."""
    from quality import stroke_scale
    from tiles import score
    from tiles import tiles as made

    from eigenstyle.images import fit_size, load_rgb, resize
    from eigenstyle.studio.actions import STUDIO

    content = sample("tubingen.jpg")
    photo = resize(load_rgb(content), fit_size(*load_rgb(content).size, photo_size or size))
    opts = STUDIO.replace(size=size, iterations=iterations, print_every=0)
    (plain,), _ = made(content, sample("starry_night.jpg"), opts, [0], "none")
    scores = [score(photo, im) for im in tiles]
    ref = stroke_scale(plain)
    for s in scores:
        s["stroke"] /= ref
    keys = ("edges", "stroke", "border")
    return {k: f"{min(s[k] for s in scores):.2f}-{max(s[k] for s in scores):.2f}" for k in keys}


def cli_run(size: int, iterations: int, mode: str, out_dir: str) -> float:
    args = [sys.executable, "-m", "eigenstyle.cli", "stylize", sample("tubingen.jpg"), sample("starry_night.jpg"),
            "--size", str(size), "--iterations", str(iterations), "--seed", "1", "--print-every", "0", "-q",
            "--overwrite", "-o", os.path.join(out_dir, f"{mode}.png")]  # fmt: skip
    if mode != "none":
        args += ["--mode", mode, "--variant-seed", "1"]
    started = time.perf_counter()
    subprocess.run(args, check=True, capture_output=True)
    return time.perf_counter() - started


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--modes", default="variant,fantasy,random", help="studio walks, one per mode")
    ap.add_argument("--count", type=int, default=4)
    ap.add_argument("--size", type=int, help="studio size (default: the studio's)")
    ap.add_argument("--iterations", type=int, help="studio iterations (default: the studio's)")
    ap.add_argument("--cli-size", type=int, default=256)
    ap.add_argument("--cli-iterations", type=int, default=200)
    ap.add_argument("--no-cli", action="store_true")
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument(
        "--screenshot", help="save the page after the first walk's tiles are done (with --sharpen: sharpened) (PNG)"
    )
    ap.add_argument("--sharpen", action="store_true", help="time the background sharpening too (see above)")
    ap.add_argument("--morph", action="store_true", help="then Morph on the first two tiles (see morphed)")
    args = ap.parse_args()
    print(f"# {cpu()}; eigenstyle {__version__}", flush=True)
    rows = []
    for k, mode in enumerate(args.modes.split(",")):
        shot = args.screenshot if k == 0 else None
        rows.append(
            studio_walk(mode, args.count, args.size, args.iterations, args.timeout, shot, args.sharpen, args.morph)
        )
        print(json.dumps(rows[-1]), flush=True)
    if not args.no_cli:
        with tempfile.TemporaryDirectory() as d:
            cli_run(64, 2, "none", d)  # warm the weight cache and the file cache first
            plain = [cli_run(args.cli_size, args.cli_iterations, "none", d) for _ in range(2)]
            variant = [cli_run(args.cli_size, args.cli_iterations, "variant", d) for _ in range(2)]
        p, v = min(plain), min(variant)
        print(json.dumps({"cli_size": args.cli_size, "cli_iterations": args.cli_iterations, "plain_s": round(p, 1),
                          "variant_s": round(v, 1), "ratio": round(v / p, 2)}), flush=True)  # fmt: skip
    print("\n| mode | size | iterations | count | first preview (s) | it shows | all done (s) | edges | stroke × "
          "| border |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---|---:|---|---|---|")
    for r in rows:
        print(f"| {r['mode']} | {r['size']} | {r['iterations']} | {r['count']} | {r['first_preview_s']} | "
              f"{r['first_shows']} | {r['all_done_s']} | {r['edges']} | {r['stroke']} | {r['border']} |")  # fmt: skip


if __name__ == "__main__":
    main()
