// eigenstyle studio: the one page. Plain JS, no build step.
// The server is the source of truth: the page renders what /api/results says and
// applies the events of /api/events (server-sent), so several tabs stay in step.
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const state = { config: null, inputs: [], content: null, style: null, results: new Map(),
  tiles: new Map(), pick: null, pickAct: null, jobs: new Map(), clips: new Map(),
  mask: null, regions: [], regionStyles: {}, mutateRegion: null };  // regions: the mask's, each its style

async function api(method, url, body) {
  // X-Eigenstyle: a header no cross-site "simple" request can carry; the server refuses changes without it.
  const opts = { method, headers: { "X-Eigenstyle": "1" } };
  if (body instanceof Blob) { opts.body = body; opts.headers["Content-Type"] = body.type || "application/octet-stream"; }
  else if (body !== undefined) { opts.body = JSON.stringify(body); opts.headers["Content-Type"] = "application/json"; }
  let res;
  try { res = await fetch(url, opts); } catch (e) { throw new Error("the studio server cannot be reached"); }
  let data = null;
  try { data = await res.json(); } catch (e) { /* not JSON */ }
  if (!res.ok) throw new Error((data && data.error) || `${res.status} ${res.statusText}`);
  return data;
}

let messageTimer = null;
function say(text, ok = false) {
  const box = $("#message");
  box.textContent = text; box.hidden = false; box.classList.toggle("ok", ok);
  clearTimeout(messageTimer);
  messageTimer = setTimeout(() => { box.hidden = true; }, ok ? 3000 : 10000);
}
const guard = (fn) => async (...args) => { try { await fn(...args); } catch (e) { say(e.message); } };

// ---------------------------------------------------------------- inputs
function renderPickers() {
  for (const kind of ["content", "style"]) {
    const box = $(`#${kind}-picker`);
    box.replaceChildren();
    for (const inp of state.inputs.filter((i) => !i.mask)) {
      const b = document.createElement("button");
      b.type = "button"; b.title = `${inp.name} (${inp.width}×${inp.height})`; b.dataset.id = inp.id;
      b.dataset.name = inp.name; b.setAttribute("role", "option");
      b.setAttribute("aria-selected", String(state[kind] === inp.id));
      const img = document.createElement("img"); img.src = `/api/inputs/${inp.id}/image`; img.alt = inp.name;
      b.append(img);
      b.onclick = () => { state[kind] = inp.id; renderPickers(); };
      box.append(b);
    }
  }
  for (const f of ["content", "style"]) {
    const sel = $(`#f-${f}`), keep = sel.value;
    sel.replaceChildren(new Option("all", ""), ...state.inputs.filter((i) => !i.mask).map((i) => new Option(i.name, i.id)));
    sel.value = keep;
  }
}

async function upload(ev) {
  const input = ev.target, file = input.files[0], kind = input.dataset.kind;
  input.value = "";
  if (!file) return;
  const data = await api("POST", `/api/inputs?name=${encodeURIComponent(file.name)}`, file);
  if (!state.inputs.some((i) => i.id === data.input.id)) state.inputs.push(data.input);
  state[kind] = data.input.id;
  renderPickers();
  say(`${data.input.name}: ${data.input.width}×${data.input.height}, ready as ${kind}`, true);
}

// ---------------------------------------------------------------- settings
function settings() {
  const f = $("#settings");
  const num = (name) => (f[name].value === "" ? null : Number(f[name].value));
  const checked = [...document.querySelectorAll("#layers input[type=checkbox]:checked")];
  const layers = checked.map((c) => c.value);
  // each layer's factor (--style-layer-weights): all blank is none given (the auto weights as they are)
  const factors = checked.map((c) => $(`#lw-${c.value}`).value.trim());
  const layerWeights = factors.every((v) => v === "") ? null : factors.map((v) => (v === "" ? 1 : Number(v)));
  const regions = state.mask ? { mask: state.mask, regions: regionStyles() } : {};
  return { ...regions, content: state.content, style: state.style, mode: f.mode.value, style_layers: layers,
    style_layer_weights: layerWeights,
    style_weight: num("style_weight"), spread: [num("spread_lo"), num("spread_hi")], size: num("size"),
    iterations: num("iterations"), count: num("count"), init: f.init.value };
}

function fillForm(cfg) {
  const d = cfg.defaults, f = $("#settings");
  $("#mode").replaceChildren(...cfg.modes.map((m) => Object.assign(new Option(m, m), { title: cfg.mode_help[m] })));
  $("#f-mode").replaceChildren(new Option("all", ""), ...cfg.modes.map((m) => new Option(m, m)));
  f.mode.value = d.mode; f.init.value = d.init; f.count.value = d.count; f.size.value = d.size; f.iterations.value = d.iterations;
  f.spread_lo.value = d.spread[0]; f.spread_hi.value = d.spread[1]; f.amount.value = d.amount;
  f.frames.value = cfg.clip.frames; f.frames.max = cfg.clip.max_frames;
  f.size.max = cfg.limits.max_size; f.iterations.max = cfg.limits.max_iterations; f.count.max = cfg.limits.max_count;
  const box = $("#layers");
  for (const name of cfg.layers) {  // the style layers offered: the server's list (actions.LAYER_CHOICES)
    const label = document.createElement("label"), c = document.createElement("input"), w = document.createElement("input");
    c.type = "checkbox"; c.value = name; c.checked = d.style_layers.includes(name);
    w.type = "number"; w.min = "0"; w.step = "any"; w.id = `lw-${name}`; w.placeholder = "1"; w.className = "layer-weight";
    w.setAttribute("aria-label", `${name} weight`);
    w.title = `${name}'s factor: on its own balanced weight (the one it has alone); 0 leaves it out. ` +
      "All blank: the layers' usual weights.";
    label.append(c, name, w); box.append(label);
  }
}

async function submitJob(url, body) {
  const data = await api("POST", url, body);
  for (const r of data.results) upsert(r);
  return data;
}

// ---------------------------------------------------------------- regions
const TILE_DRAG = "application/x-eigenstyle-tile";
const REGION_MODES = ["none", "plain", "style", "variant", "fantasy", "random"];
const REGION_HELP = { none: "the photograph's own look", plain: "the style image as it is",
  style: "this form's mode and style", variant: "a variant of the style (its seed)",
  fantasy: "a fantasy of the style (its seed)", random: "a random Gram (its seed)" };

// A result's regions that a Mutate can work on (randomised: not none, plain or a picture), from its NAME=STYLE texts.
function regionsOf(r) {
  const texts = (r.options && r.options.region) || [];
  const named = texts.map((t) => [t.split("=")[0], t.slice(t.indexOf("=") + 1)]);
  const moves = ([, s]) => !/^(none|plain)$/.test(s) && !/^[^{:]*\.[a-z]+$/i.test(s);
  return named.filter(moves).map(([n]) => n);
}
const shortRegion = (t) => t.replace(/"genome": ?\{.*\}/, '"genome": …');

function regionStyles() {
  const out = {};
  for (const name of state.regions) {
    const s = state.regionStyles[name] || { mode: "plain" };
    out[name] = s.tile ? { tile: s.tile } : ["none", "plain", "style"].includes(s.mode) ? s.mode : `${s.mode}:${s.seed ?? 1}`;
  }
  return out;
}

function renderRegions() {
  const box = $("#regions");
  box.replaceChildren();
  $("#clear-mask").hidden = !state.mask;
  $("#regions-hint").hidden = !!state.mask;
  $("#regions-key").hidden = !state.mask;
  if (!state.regions.includes(state.mutateRegion)) state.mutateRegion = state.regions[0] || null;
  for (const name of state.regions) {
    const s = state.regionStyles[name] || (state.regionStyles[name] = { mode: "plain" });
    const row = document.createElement("div"), chip = document.createElement("span"), label = document.createElement("span");
    row.className = "region"; row.dataset.region = name;
    chip.className = "chip"; chip.style.background = name;  // a colour's name or #rrggbb: the mask's own colour
    label.textContent = name;
    row.append(chip, label);
    if (s.tile) {
      const t = state.results.get(s.tile), tag = document.createElement("span"), x = document.createElement("button");
      tag.className = "tile-style"; tag.textContent = `tile: ${t ? t.label : s.tile.slice(0, 8)}`;
      x.type = "button"; x.textContent = "×"; x.title = "back to a named style";
      x.onclick = () => { state.regionStyles[name] = { mode: "plain" }; renderRegions(); };
      row.append(tag, x, mutateRadio(name));
    } else {
      const sel = document.createElement("select"), seed = document.createElement("input");
      sel.setAttribute("aria-label", `${name}'s style`);
      sel.replaceChildren(...REGION_MODES.map((m) => Object.assign(new Option(m, m), { title: REGION_HELP[m] })));
      sel.value = s.mode;
      seed.type = "number"; seed.min = "0"; seed.step = "1"; seed.value = s.seed ?? 1; seed.title = "variant seed";
      seed.setAttribute("aria-label", `${name}'s variant seed`);
      seed.hidden = ["none", "plain", "style"].includes(s.mode);
      sel.onchange = () => { s.mode = sel.value; renderRegions(); };
      seed.onchange = () => { s.seed = Number(seed.value) || 0; };
      row.append(sel, seed, mutateRadio(name));
    }
    row.addEventListener("dragover", (e) => { if (e.dataTransfer.types.includes(TILE_DRAG)) { e.preventDefault(); row.classList.add("over"); } });
    row.addEventListener("dragleave", () => row.classList.remove("over"));
    row.addEventListener("drop", (e) => {
      e.preventDefault(); row.classList.remove("over");
      const id = e.dataTransfer.getData(TILE_DRAG);
      if (id) { state.regionStyles[name] = { tile: id }; renderRegions(); say(`${name} wears that tile's style`, true); }
    });
    box.append(row);
  }
}

// Which region a tile's Mutate varies (a tile with regions: its others stay as they are).
function mutateRadio(name) {
  const mutate = document.createElement("input");
  mutate.type = "radio"; mutate.name = "mutate-region"; mutate.checked = state.mutateRegion === name;
  mutate.title = "Mutate varies this region of a tile with regions"; mutate.setAttribute("aria-label", `mutate ${name}`);
  mutate.onchange = () => { state.mutateRegion = name; };
  return mutate;
}

async function useMask(blob, name) {
  const data = await api("POST", `/api/inputs?name=${encodeURIComponent(name)}&mask=1`, blob);
  state.mask = data.input.id;
  state.regions = data.input.regions;
  state.regionStyles = Object.fromEntries(state.regions.map((n) => [n, state.regionStyles[n] || { mode: "plain" }]));
  renderRegions();
  say(`mask: ${state.regions.length} regions (${state.regions.join(", ")})`, true);
}

// The painter: the content under a canvas of its own size; brushes of flat colours (black: the rest).
const painter = { colour: "red", drawing: false };
function openPainter() {
  if (!state.content) return say("choose a content image first");
  const inp = state.inputs.find((i) => i.id === state.content), img = $("#painter-content"), c = $("#painter-canvas");
  img.src = `/api/inputs/${inp.id}/image`;
  if (c.width !== inp.width || c.height !== inp.height || c.dataset.content !== inp.id) {
    c.width = inp.width; c.height = inp.height; c.dataset.content = inp.id;
    const g = c.getContext("2d"); g.fillStyle = "black"; g.fillRect(0, 0, c.width, c.height);
  }
  $("#painter").showModal();
}
function paintAt(e) {
  const c = $("#painter-canvas"), box = c.getBoundingClientRect(), g = c.getContext("2d");
  const k = c.width / box.width, r = (Number($("#brush-size").value) * k) / 2;
  g.fillStyle = painter.colour; g.beginPath();
  g.arc((e.clientX - box.left) * k, (e.clientY - box.top) * k, r, 0, 2 * Math.PI); g.fill();
}
function initPainter() {
  const c = $("#painter-canvas");
  c.addEventListener("pointerdown", (e) => { painter.drawing = true; c.setPointerCapture(e.pointerId); paintAt(e); });
  c.addEventListener("pointermove", (e) => { if (painter.drawing) paintAt(e); });
  c.addEventListener("pointerup", () => { painter.drawing = false; });
  for (const b of document.querySelectorAll("#painter .brush")) {
    b.onclick = () => {
      painter.colour = b.dataset.colour;
      for (const o of document.querySelectorAll("#painter .brush")) o.setAttribute("aria-pressed", String(o === b));
    };
  }
  $("#paint-cancel").onclick = () => $("#painter").close();
  $("#paint-use").onclick = guard(async () => {
    const blob = await new Promise((resolve) => c.toBlob(resolve, "image/png"));
    await useMask(blob, "painted mask.png");
    $("#painter").close();
  });
  $("#paint-mask").onclick = openPainter;
  $("#mask-file").addEventListener("change", guard(async (e) => {
    const file = e.target.files[0]; e.target.value = "";
    if (file) await useMask(file, file.name);
  }));
  $("#clear-mask").onclick = () => { state.mask = null; state.regions = []; renderRegions(); };
}

// ---------------------------------------------------------------- tiles
function matchesFilter(r) {
  const c = $("#f-content").value, s = $("#f-style").value, m = $("#f-mode").value;
  return (!c || r.content_id === c) && (!s || r.style_id === s) && (!m || r.mode === m) &&
    (!$("#f-starred").checked || r.starred);
}
const order = (a, b) => (b.created - a.created) || (a.idx - b.idx);

// What progress events add to a running tile (the database row has none of it but the iteration).
const LIVE = ["iterations_done", "loss", "preview_url", "scale", "scales", "scale_size", "scale_iterations", "eta_s", "fraction",
  "phase", "swatch_done", "swatch_iterations"];

function upsert(r) {
  const old = state.results.get(r.id);
  if (old && old.status === "running" && r.status === "running" &&
      (old.scale !== undefined || old.phase !== undefined || old.iterations_done > r.iterations_done)) {
    r = { ...r, ...Object.fromEntries(LIVE.map((k) => [k, old[k]])) };
  }
  state.results.set(r.id, r);
  let el = state.tiles.get(r.id);
  if (!matchesFilter(r)) { if (el) { el.remove(); state.tiles.delete(r.id); } return updateEmpty(); }
  if (!el) {
    el = $("#tile-template").content.firstElementChild.cloneNode(true);
    el.dataset.id = r.id;
    el.addEventListener("click", onTileClick);
    el.draggable = true;  // dropped on a region of the mask: that region wears this tile's style
    el.addEventListener("dragstart", (e) => { e.dataTransfer.setData(TILE_DRAG, el.dataset.id); e.dataTransfer.effectAllowed = "copy"; });
    state.tiles.set(r.id, el);
    const grid = $("#tiles");
    const next = [...grid.children].find((t) => order(state.results.get(t.dataset.id), r) > 0);
    grid.insertBefore(el, next || null);
  }
  renderTile(el, r);
  updateEmpty();
}

// A time to wait, as a person says it (as progress.duration): 45 s, 12 min, 2 h 05 min.
function duration(s) {
  if (s < 90) return `${Math.round(s)} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")} min`;
}
// A print-size render: its tile and viewer show the preview (the PNG may be 100 MB), its PNG downloads it.
const isLarge = (r) => r.size > state.config.limits.max_size;

// A Morph's or Walk's result: a clip, played in its tile (its frames as they come, then the WebP).
const isClip = (r) => r.kind === "morph" || r.kind === "walk";

function renderTile(el, r) {
  el.dataset.status = r.status;
  if (isClip(r)) return renderClip(el, r);
  const full = r.status === "done" && r.image_url && !isLarge(r);
  // a finished tile shows the largest size the studio has sharpened it to while idle (runner.Sharpener)
  const img = $("img", el), src = full ? (r.sharp_url || `${r.image_url}?v=${r.iterations_done}`) : r.preview_url;
  if (src && img.getAttribute("src") !== src) img.src = src;
  img.alt = r.label;
  renderSwatch(el, r);
  const n = r.iterations_done || 0, deep = r.options && r.options.bit_depth === 16 ? " · 16-bit" : "";
  const making = r.status === "running" && r.phase === "swatch";  // its style's swatch appearing, before the run
  const running = making ? `new style · ${r.swatch_done}/${r.swatch_iterations}` :
    r.scales > 1 ? `scale ${r.scale}/${r.scales} · ${r.scale_size} px · ${n}/${r.scale_iterations}` : `${n}/${r.iterations}`;
  const sharp = r.sharp_size ? ` · shown at ${r.sharp_size} px` : "";
  const states = { queued: "queued", running, done: `${r.size} px · ${n} it${deep}${sharp}`,
    interrupted: `interrupted at ${n}/${r.iterations}`, cancelled: "cancelled", failed: "failed" };
  $(".state", el).textContent = states[r.status] || r.status;
  const share = making ? r.swatch_done / r.swatch_iterations : (r.fraction ?? n / r.iterations);
  $(".fill", el).style.width = `${Math.min(100, 100 * share)}%`;
  el.classList.toggle("making-style", making);
  const eta = $(".eta", el), left = r.status === "running" && r.eta_s != null;
  eta.hidden = !left; eta.textContent = left ? `about ${duration(r.eta_s)} left${r.scales > 1 ? " (all scales)" : ""}` : "";
  $(".label", el).textContent = r.label; $(".label", el).title = r.label;
  $(".loss", el).textContent = r.loss == null ? "" : `loss ${Number(r.loss).toPrecision(3)}`;
  const err = $(".error", el); err.hidden = !r.error; err.textContent = r.error || "";
  const finished = !!r.image_url, active = r.status === "queued" || r.status === "running";
  const breeds = finished && !isLarge(r);
  const show = { enlarge: !!(r.image_url || r.preview_url), parent: !!r.parent_id, refine: breeds,
    mutate: breeds && (r.mode !== "none" || regionsOf(r).length > 0), between: breeds && r.mode !== "none", render: finished, style: finished,
    png: finished, star: true, delete: !active, cancel: active, morph: breeds, walk: breeds && r.mode !== "none",
    mp4: false, webp: false };
  for (const [act, on] of Object.entries(show)) $(`[data-act="${act}"]`, el).hidden = !on;
  if (finished) {
    $('[data-act="png"]', el).href = `${r.image_url}?download=1`;
    $('[data-act="style"]', el).href = `/api/results/${r.id}/style`;
  }
  const star = $('[data-act="star"]', el); star.textContent = r.starred ? "★" : "☆"; star.classList.toggle("on", r.starred);
  el.classList.toggle("picked", state.pick === r.id);
}

// A clip's tile: while it is made, its frames so far play in a loop (``playClips``); once written, the WebP.
function renderClip(el, r) {
  const img = $("img", el), n = r.iterations_done || 0, active = r.status === "queued" || r.status === "running";
  if (r.clip_url && !active) { if (img.getAttribute("src") !== r.clip_url) img.src = r.clip_url; }
  else if (!img.getAttribute("src") && r.preview_url) img.src = r.preview_url;
  img.alt = r.label;
  const states = { queued: "queued", running: `frame ${n}/${r.iterations}`, done: `clip · ${n} frames · ${r.size} px`,
    interrupted: `clip of ${n}/${r.iterations} frames (stopped)`, cancelled: "cancelled", failed: "failed" };
  $(".state", el).textContent = states[r.status] || r.status;
  $(".fill", el).style.width = `${Math.min(100, (100 * n) / Math.max(1, r.iterations))}%`;
  $(".eta", el).hidden = true;
  $(".label", el).textContent = r.label; $(".label", el).title = r.label;
  $(".loss", el).textContent = "";
  const err = $(".error", el); err.hidden = !r.error; err.textContent = r.error || "";
  const show = { enlarge: !!(r.clip_url || r.preview_url), parent: !!r.parent_id, star: true, delete: !active,
    cancel: active, mp4: !!r.clip_url && !active, webp: !!r.clip_url && !active };
  for (const a of el.querySelectorAll(".actions [data-act]")) a.hidden = !show[a.dataset.act];
  if (r.clip_url) {
    $('[data-act="mp4"]', el).href = `/api/results/${r.id}/clip?format=mp4&download=1`;
    $('[data-act="webp"]', el).href = `/api/results/${r.id}/clip?download=1`;
  }
  const star = $('[data-act="star"]', el); star.textContent = r.starred ? "★" : "☆"; star.classList.toggle("on", r.starred);
}

// The frames of the clips being made, each loaded before it is shown (no blank between frames), played
// from the first on, as far as they are there without a gap, at the clip's fps.
let playing = false;  // the animation loop runs only while a clip is being made: idle, the page costs nothing
function clipFrame(ev) {
  let c = state.clips.get(ev.id);
  if (!c) { c = { frames: [], at: 0, fps: ev.fps || 12, last: 0 }; state.clips.set(ev.id, c); }
  if (!playing) { playing = true; requestAnimationFrame(playClips); }
  const im = new Image(); im.src = ev.frame_url;
  im.decode().then(() => { c.frames[ev.frame] = ev.frame_url; }, () => {});
}

function playClips(now) {
  for (const [id, c] of state.clips) {
    const r = state.results.get(id), el = state.tiles.get(id);
    if (!r || (r.status !== "running" && r.status !== "queued")) { state.clips.delete(id); continue; }
    if (!el || now - c.last < 1000 / c.fps) continue;
    let ready = 0;
    while (c.frames[ready]) ready += 1;
    if (!ready) continue;
    c.at = (c.at + 1) % ready; c.last = now;
    $("img", el).src = c.frames[c.at];
  }
  if (state.clips.size) requestAnimationFrame(playClips);
  else playing = false;
}

// A randomised result's style swatch, inset in the frame's corner (only once the file exists).
function renderSwatch(el, r) {
  let sw = $("img.swatch", el);
  if (!r.swatch_url) { if (sw) sw.remove(); return; }
  if (!sw) {
    sw = document.createElement("img");
    sw.className = "swatch"; sw.alt = "style swatch"; sw.title = "style swatch";
    $(".frame", el).append(sw);
  }
  if (sw.getAttribute("src") !== r.swatch_url) sw.src = r.swatch_url;
}

function progress(ev) {
  const r = state.results.get(ev.id);
  if (!r || (r.status !== "running" && r.status !== "queued")) return;
  // A randomised tile first shows its style's swatch being made (phase "swatch"), then its run; a render's
  // iterations start again at each scale. Late events of an earlier phase or scale are dropped.
  const phase = ev.phase || "run";
  if (phase === "frame") {  // a clip's frame: played by playClips, counted here
    clipFrame(ev);
    Object.assign(r, { status: "running", iterations_done: Math.max(r.iterations_done || 0, ev.iterations_done),
      preview_url: ev.preview_url });
    const el = state.tiles.get(ev.id);
    if (el) renderTile(el, r);
    return;
  }
  if (r.phase === "run" && phase === "swatch") return;
  if (phase === "swatch") {
    if (r.phase === "swatch" && ev.iteration < (r.swatch_done || 0)) return;
    Object.assign(r, { status: "running", phase, swatch_done: ev.iteration, swatch_iterations: ev.iterations,
      loss: ev.loss, preview_url: ev.preview_url, eta_s: null });
  } else {
    const scale = ev.scale || 1, was = r.phase === "run" ? (r.scale ?? scale) : scale;
    const done = r.phase === "run" ? r.iterations_done || 0 : 0;
    if (scale < was || (scale === was && ev.iteration < done)) return;
    Object.assign(r, { status: "running", phase, iterations_done: ev.iteration, loss: ev.loss,
      preview_url: ev.preview_url, scale, scales: ev.scales, scale_size: ev.scale_size, scale_iterations: ev.iterations,
      eta_s: ev.eta_s, fraction: ev.fraction });
  }
  const el = state.tiles.get(ev.id);
  if (el) renderTile(el, r);
}

function removeTile(id) {
  state.results.delete(id);
  const el = state.tiles.get(id);
  if (el) { el.remove(); state.tiles.delete(id); }
  updateEmpty();
}
const updateEmpty = () => { $("#empty").hidden = state.tiles.size > 0; };

const onTileClick = guard(async (ev) => {
  const tile = ev.currentTarget, target = ev.target.closest("[data-act], img");
  if (!target) return;
  const r = state.results.get(tile.dataset.id), act = target.tagName === "IMG" ? "enlarge" : target.dataset.act;
  const f = $("#settings"), count = Number(f.count.value) || 4;
  if (act === "enlarge") return showResult(r);
  if (act === "parent") return compareParent(r);
  if (act === "refine") {
    const size = f.refine_size.value ? Number(f.refine_size.value) : null;
    await submitJob(`/api/results/${r.id}/refine`, { size, iterations: Number(f.iterations.value) || null });
    return say(`refining ${r.label}`, true);
  }
  if (act === "mutate") {
    const own = regionsOf(r), region = own.includes(state.mutateRegion) ? state.mutateRegion : own[0];
    await submitJob(`/api/results/${r.id}/mutate`, { count, amount: Number(f.amount.value), ...(region ? { region } : {}) });
    return say(`${count} children of ${r.label}${region ? `'s ${region}` : ""} queued`, true);
  }
  if (act === "between" || act === "morph") return pickTwo(act, r, count);
  if (act === "walk") {
    await submitJob(`/api/results/${r.id}/walk`, { frames: Number(f.frames.value) || null, amount: Number(f.amount.value) });
    return say(`a walk from ${r.label} queued`, true);
  }
  if (act === "render") return renderForm(r);
  if (act === "star") return upsert((await api("POST", `/api/results/${r.id}/star`, { starred: !r.starred })).result);
  if (act === "delete") {
    if (!confirm(`Delete ${r.label}? Its image and recipe go too.`)) return;
    await api("DELETE", `/api/results/${r.id}`);
    return removeTile(r.id);
  }
  if (act === "cancel") { await api("POST", `/api/jobs/${r.job_id}/cancel`); return say("cancelling…", true); }
});

// Between and Morph take two tiles: the first click picks one, a second click on another tile (with the
// same button) sends both.
async function pickTwo(act, r, count) {
  const name = act === "morph" ? "Morph" : "Between";
  if (!state.pick || state.pick === r.id || state.pickAct !== act) {
    state.pick = state.pick === r.id && state.pickAct === act ? null : r.id;
    state.pickAct = state.pick ? act : null;
    $("#hint").textContent = state.pick ? `${name}: now pick a second tile (${r.label})` : "";
  } else {
    const a = state.pick;
    state.pick = null; state.pickAct = null; $("#hint").textContent = "";
    if (act === "morph") await submitJob("/api/morph", { ids: [a, r.id], frames: Number($("#frames").value) || null });
    else await submitJob("/api/between", { a, b: r.id, count });
  }
  for (const [id, el] of state.tiles) el.classList.toggle("picked", state.pick === id);
}

// ---------------------------------------------------------------- render large
// The size a render of r at `side` px (longest side) will have, from the tile's picture's proportions.
function renderDims(r, side) {
  const img = $("img", state.tiles.get(r.id)), w = img?.naturalWidth || 4, h = img?.naturalHeight || 3;
  return w >= h ? [side, Math.round((side * h) / w)] : [Math.round((side * w) / h), side];
}

function renderForm(r) {
  const cfg = state.config.render, most = state.config.limits.max_render;
  const form = document.createElement("form"); form.className = "render-form";
  const h = document.createElement("h3"); h.textContent = `Render large: ${r.label}`;
  const note = document.createElement("p"); note.className = "note";
  const from = r.sharp_size ? `the ${r.sharp_size} px picture it shows` : "this tile";
  note.textContent = `This tile is ${r.size} px. The render runs its recipe again, coarse to fine from ${from}, ` +
    "with the tile's style scaled to the new size; it becomes a new tile, its PNG the print.";
  const sizes = document.createElement("fieldset"), legend = document.createElement("legend");
  legend.textContent = "Longest side"; sizes.append(legend);
  const choice = (value, text, extra) => {
    const label = document.createElement("label"), radio = document.createElement("input");
    radio.type = "radio"; radio.name = "side"; radio.value = value;
    label.append(radio, text); if (extra) label.append(extra);
    sizes.append(label);
    return radio;
  };
  const radios = cfg.sizes.filter((s) => s > r.size && s <= most).map((s) => {
    const dims = document.createElement("span"); dims.className = "dims"; dims.textContent = renderDims(r, s).join(" × ");
    return choice(String(s), `${s} px`, dims);
  });
  const other = document.createElement("input");
  other.type = "number"; other.name = "other"; other.min = r.size + 1; other.max = most; other.step = 1;
  other.placeholder = `${r.size + 1}–${most}`; other.setAttribute("aria-label", "other size (px)");
  const otherRadio = choice("other", "other", other);
  other.addEventListener("focus", () => { otherRadio.checked = true; });
  (radios[0] || otherRadio).checked = true;
  form.append(h, note, sizes);
  if (cfg.bit_depths.includes(16)) {
    const label = document.createElement("label"), box = document.createElement("input");
    label.className = "check"; box.type = "checkbox"; box.name = "deep";
    label.append(box, "16-bit PNG (no 8-bit rounding: for print and editing; about twice the file)");
    form.append(label);
  }
  const buttons = document.createElement("div"), go = document.createElement("button");
  buttons.className = "buttons"; go.type = "submit"; go.className = "primary"; go.textContent = "Render";
  buttons.append(go); form.append(buttons);
  form.addEventListener("submit", guard(async (e) => {
    e.preventDefault();
    const side = form.side.value === "other" ? Number(other.value) : Number(form.side.value);
    const body = { size: side || null };
    if (form.deep?.checked) body.bit_depth = 16;
    await submitJob(`/api/results/${r.id}/render`, body);
    $("#viewer").close();
    say(`render of ${r.label} at ${side} px queued`, true);
  }));
  openViewer(form);
}

// ---------------------------------------------------------------- viewer
function figure(r, caption) {
  const fig = document.createElement("figure"), img = document.createElement("img"), cap = document.createElement("figcaption");
  img.src = (isLarge(r) ? r.preview_url : r.sharp_url || r.image_url || r.preview_url) || ""; img.alt = r.label;
  cap.textContent = caption; fig.append(img, cap);
  if (isLarge(r) && r.image_url) {
    const a = document.createElement("a");
    a.href = r.image_url; a.target = "_blank"; a.textContent = `full ${r.size} px PNG`;
    cap.append(" · ", a);
  }
  return fig;
}

function swatchFigure(r) {
  const fig = document.createElement("figure"), img = document.createElement("img"), cap = document.createElement("figcaption");
  fig.className = "swatch";
  img.src = r.swatch_url; img.alt = `style swatch of ${r.label}`; img.title = "style swatch";
  const a = document.createElement("a");
  a.href = `${r.swatch_url}?download=1`; a.download = ""; a.textContent = "PNG";
  a.title = "download the swatch PNG (recipe embedded): usable as a style image";
  cap.append("style swatch · ", a, " (usable as a style image)");
  fig.append(img, cap);
  return fig;
}

async function showResult(r) {
  const full = (await api("GET", `/api/results/${r.id}`)).result;
  if (isClip(full)) return showClip(full);
  const o = full.options, rec = full.recipe || {};
  const rows = [["label", full.label], ["status", full.status + (full.error ? `: ${full.error}` : "")],
    ["mode", o.mode], ["style layers", full.style_layers.join(", ")],
    ["style weight", o.style_weight ?? "auto"],
    ...(o.region ? [["regions", o.region.map(shortRegion).join("; ")]] : []),
    ...(o.style_layer_weights ? [["layer weights", full.style_layers.map((n, i) => `${n} ${+o.style_layer_weights[i].toPrecision(3)}`).join(", ")]] : []),
    ["size", `${full.size} px` + (full.sharp_size ? ` (shown sharpened to ${full.sharp_size} px, as Render large would)` : "")],
    ["iterations", `${full.iterations_done}/${full.iterations}`], ["loss", full.loss ?? "–"],
    ["variant seed", o.variant_seed ?? (o.genome ? JSON.stringify(o.genome).slice(0, 120) : "–")],
    ["seed", o.seed ?? "–"], ["time", full.elapsed_s != null ? `${full.elapsed_s} s on ${rec.device || "?"}` : "–"]];
  const dl = document.createElement("dl"); dl.className = "details";
  for (const [k, v] of rows) { const dt = document.createElement("dt"), dd = document.createElement("dd"); dt.textContent = k; dd.textContent = v; dl.append(dt, dd); }
  const wrap = document.createElement("div"); wrap.className = "compare"; wrap.append(figure(full, full.label));
  if (full.swatch_url) wrap.append(swatchFigure(full));
  openViewer(wrap, dl);
}

function showClip(r) {
  const fig = document.createElement("figure"), img = document.createElement("img"), cap = document.createElement("figcaption");
  img.src = r.clip_url || r.preview_url || ""; img.alt = r.label; fig.className = "clip";
  const rec = r.recipe || {}, p = rec.walk ? `walk: ${rec.walk.steps} children of amount ${rec.walk.amount}, seed ${rec.walk.seed}` :
    `${(rec.keys || []).length} tiles${rec.loop ? ", and back" : ""}`;
  cap.textContent = `${r.label} · ${r.iterations_done} frames at ${rec.fps || 12} fps · ${p}` +
    (r.elapsed_s != null ? ` · made in ${duration(r.elapsed_s)}` : "");
  fig.append(img, cap);
  openViewer(fig);
}

async function compareParent(r) {
  const wrap = document.createElement("div"); wrap.className = "compare";
  for (const [id, role] of [[r.parent_id, "parent"], [r.parent2_id, "second parent"]]) {
    if (!id) continue;
    try { const p = (await api("GET", `/api/results/${id}`)).result; wrap.append(figure(p, `${role}: ${p.label}`)); }
    catch (e) { const m = document.createElement("p"); m.textContent = `${role}: deleted`; wrap.append(m); }
  }
  wrap.append(figure(r, `this: ${r.label}`));
  openViewer(wrap);
}

function openViewer(...nodes) {
  $("#viewer-body").replaceChildren(...nodes);
  const d = $("#viewer");
  if (!d.open) d.showModal();
}

// ---------------------------------------------------------------- gallery, events
async function loadGallery() {
  const q = new URLSearchParams();
  for (const [k, id] of [["content", "#f-content"], ["style", "#f-style"], ["mode", "#f-mode"]]) if ($(id).value) q.set(k, $(id).value);
  if ($("#f-starred").checked) q.set("starred", "1");
  const data = await api("GET", `/api/results?${q}`);
  $("#tiles").replaceChildren(); state.tiles.clear(); state.results.clear();
  for (const r of data.results) upsert(r);
  updateEmpty();
}

function showStatus() {
  const running = [...state.jobs.values()].filter((j) => j.status === "running").length;
  const waiting = [...state.jobs.values()].filter((j) => j.status === "queued").length;
  $("#status").textContent = `${(state.config?.devices || []).join(", ")} · ${running} running · ${waiting} waiting`;
}

function connect() {
  const es = new EventSource("/api/events");
  let wasDown = false;
  es.addEventListener("hello", () => { if (wasDown) guard(loadGallery)(); wasDown = false; showStatus(); });
  es.addEventListener("result", (e) => upsert(JSON.parse(e.data).result));
  es.addEventListener("progress", (e) => progress(JSON.parse(e.data)));
  es.addEventListener("deleted", (e) => removeTile(JSON.parse(e.data).id));
  es.addEventListener("resync", () => guard(loadGallery)());
  es.addEventListener("job", (e) => {
    const j = JSON.parse(e.data).job;
    state.jobs.set(j.id, j); showStatus();
    if (j.status === "failed" && j.error) say(`job failed: ${j.error}`);
  });
  es.onerror = () => { wasDown = true; $("#status").textContent = "reconnecting…"; };
}

let ready;
const loaded = new Promise((resolve) => { ready = resolve; });  // the page's inputs, jobs and gallery are in

async function init() {
  // The form's buttons answer from the first moment: a click while the page still loads waits for it
  // (attached after the loading, a quick click submitted the form natively and was lost).
  $("#settings").addEventListener("submit", guard(async (e) => {
    e.preventDefault();
    await loaded;
    const data = await submitJob("/api/generate", settings());
    say(`${data.results.length} tile(s) queued`, true);
  }));
  $("#compare-layers").addEventListener("click", guard(async () => {
    await loaded;
    const { count, ...body } = settings();
    delete body.style_layers;
    await submitJob("/api/layers", body);
    say(`layer comparison queued: ${state.config.layer_comparison.join(", ")}`, true);
  }));
  $("#morph-starred").addEventListener("click", guard(async () => {
    await loaded;
    const starred = [...state.results.values()].filter((r) => r.starred && !isClip(r) && r.image_url && !isLarge(r))
      .sort((a, b) => (a.created - b.created) || (a.idx - b.idx));
    if (starred.length < 2) return say("star two or more finished tiles (of one content, style and size) first");
    await submitJob("/api/morph", { ids: starred.map((r) => r.id), frames: Number($("#frames").value) || null });
    say(`a morph through ${starred.length} starred tiles queued`, true);
  }));
  state.config = await api("GET", "/api/config");
  fillForm(state.config);
  state.inputs = (await api("GET", "/api/inputs")).inputs;
  const samples = state.inputs.filter((i) => i.sample);
  state.content = (samples.find((i) => /tubingen/i.test(i.name)) || state.inputs[0] || {}).id || null;
  state.style = (samples.find((i) => /starry/i.test(i.name)) || state.inputs[1] || {}).id || null;
  renderPickers();
  initPainter();
  renderRegions();
  for (const j of (await api("GET", "/api/jobs")).jobs) state.jobs.set(j.id, j);
  showStatus();
  await loadGallery();
  connect();
  ready();
  for (const input of document.querySelectorAll(".upload input")) input.addEventListener("change", guard(upload));
  for (const id of ["#f-content", "#f-style", "#f-mode", "#f-starred"]) $(id).addEventListener("change", guard(loadGallery));
  document.addEventListener("keydown", (e) => { if (e.key === "Escape" && state.pick) { state.pick = null; state.pickAct = null; $("#hint").textContent = ""; loadGallery(); } });
}

guard(init)();
