"""The workspace: a SQLite database plus image files, one folder.

Layout: ``studio.sqlite3``; ``inputs/`` (re-encoded uploads and samples),
``images/`` (results, recipe embedded; a randomised result's style swatch beside
it as ``ID.swatch.png``; a tile sharpened in the background as ``ID.sSIZE.png``,
with its own recipe; a clip, a Morph or Walk's, as ``ID.clip.webp`` and ``ID.clip.mp4``), ``previews/``
(live previews, kept when a run is cut off, and a clip's frames as ``ID.fNNNN.jpg``),
``styles/`` (style files made on request). Every file name is generated here (a
random hex id plus a fixed suffix): nothing a request says
ever becomes a path.

The schema carries its version in ``PRAGMA user_version`` and is brought up to
date by ``MIGRATIONS`` on open, so a later eigenstyle opens an older workspace;
a workspace from a *newer* eigenstyle is refused with a clear message instead
of being half-understood.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import threading
import time
import uuid

from .. import images
from ..errors import EigenstyleError
from . import urls

DB_NAME = "studio.sqlite3"
FOLDERS = ("inputs", "images", "previews", "styles", "tmp")
ID = re.compile(r"^[0-9a-f]{32}$")
TERMINAL = ("done", "failed", "cancelled", "interrupted")
CLIPS = ("morph", "walk")  # the kinds of job whose result is a clip (its frames), not a still
CLIP_FORMATS = (".webp", ".mp4")  # the one the page plays (an <img>), and the one to download

_V1 = """
CREATE TABLE inputs (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, sha256 TEXT NOT NULL UNIQUE,
    width INTEGER NOT NULL, height INTEGER NOT NULL, sample INTEGER NOT NULL DEFAULT 0, created REAL NOT NULL);
CREATE TABLE jobs (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, status TEXT NOT NULL, content_id TEXT, style_id TEXT,
    params TEXT NOT NULL DEFAULT '{}', device TEXT, error TEXT,
    created REAL NOT NULL, started REAL, finished REAL);
CREATE TABLE results (
    id TEXT PRIMARY KEY, job_id TEXT NOT NULL, idx INTEGER NOT NULL, kind TEXT NOT NULL, label TEXT NOT NULL,
    status TEXT NOT NULL, parent_id TEXT, parent2_id TEXT, content_id TEXT, style_id TEXT,
    mode TEXT NOT NULL, style_layers TEXT NOT NULL, size INTEGER NOT NULL, iterations INTEGER NOT NULL,
    iterations_done INTEGER NOT NULL DEFAULT 0, loss REAL, options TEXT NOT NULL, recipe TEXT,
    has_image INTEGER NOT NULL DEFAULT 0, has_preview INTEGER NOT NULL DEFAULT 0, starred INTEGER NOT NULL DEFAULT 0,
    error TEXT, created REAL NOT NULL, started REAL, finished REAL, elapsed_s REAL);
CREATE INDEX results_job ON results(job_id);
CREATE INDEX results_filter ON results(content_id, style_id, mode, starred);
"""

# Version 2: the largest size a tile has been sharpened to in the background (runner.Sharpener).
_V2 = "ALTER TABLE results ADD COLUMN sharp_size INTEGER"

# Version 3: an input that is a mask of regions (--mask), painted or uploaded, not offered as a content or style.
_V3 = "ALTER TABLE inputs ADD COLUMN mask INTEGER NOT NULL DEFAULT 0"

# One entry per schema version: MIGRATIONS[n] takes a version-n database to n+1. Append only.
MIGRATIONS = [_V1, _V2, _V3]
SCHEMA_VERSION = len(MIGRATIONS)


def new_id() -> str:
    return uuid.uuid4().hex


def check_id(value: str, what: str = "id") -> str:
    """Ids in URLs are 32 hex digits or nothing at all (no path can sneak in)."""
    if not isinstance(value, str) or not ID.match(value):
        raise NotFound(f"no such {what}")
    return value


class NotFound(EigenstyleError):
    pass


class Store:
    """Thread-safe access to one workspace (one connection, one lock: queries are short)."""

    def __init__(self, root: str):
        self.root = os.path.abspath(root)
        try:
            for f in FOLDERS:
                os.makedirs(os.path.join(self.root, f), exist_ok=True)
        except OSError as e:
            raise EigenstyleError(f"workspace: cannot create {self.root}: {e.strerror}") from None
        self._lock = threading.RLock()
        self.db = sqlite3.connect(os.path.join(self.root, DB_NAME), check_same_thread=False, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA busy_timeout=5000")
        self._migrate()
        self.recovered = self._recover()

    # --- schema -----------------------------------------------------------
    def _migrate(self) -> None:
        with self._lock:
            version = self.schema_version()
            if version > SCHEMA_VERSION:
                raise EigenstyleError(
                    f"workspace {self.root} was written by a newer eigenstyle (schema {version}, "
                    f"this version knows {SCHEMA_VERSION}); upgrade eigenstyle to open it"
                )
            for v in range(version, SCHEMA_VERSION):
                self.db.executescript("BEGIN;" + MIGRATIONS[v] + f";PRAGMA user_version={v + 1};COMMIT;")

    def schema_version(self) -> int:
        """The workspace's schema version (``PRAGMA user_version``), as its migrations left it."""
        return self.db.execute("PRAGMA user_version").fetchone()[0]

    def _recover(self) -> int:
        """Jobs cut off by a crash or kill: mark them (and their results) interrupted; previews stay."""
        now = time.time()
        with self._lock:
            n = self.db.execute(
                "UPDATE results SET status='interrupted', finished=?, error=COALESCE(error, "
                "'the server stopped during this run') WHERE status IN ('queued','running')",
                (now,),
            ).rowcount
            self.db.execute(
                "UPDATE jobs SET status='interrupted', finished=? WHERE status IN ('queued','running')", (now,)
            )
        return n

    def close(self) -> None:
        with self._lock:
            self.db.close()

    # --- paths (generated names only) ---------------------------------------
    def path(self, folder: str, ident: str, suffix: str) -> str:
        assert folder in FOLDERS and ID.match(ident)
        return os.path.join(self.root, folder, ident + suffix)

    def input_path(self, input_id: str) -> str:
        return self.path("inputs", input_id, ".png")

    def image_path(self, result_id: str, raw: bool = False) -> str:
        return self.path("images", result_id, ".raw.png" if raw else ".png")

    def swatch_path(self, result_id: str) -> str:
        """A randomised result's style swatch, written by ``Result.save`` beside its image."""
        return images.swatch_path(self.image_path(result_id))

    def sharp_path(self, result_id: str, size: int, raw: bool = False) -> str:
        """A tile sharpened in the background to ``size`` px (and its raw image, with levels applied)."""
        return self.path("images", result_id, f".s{int(size)}" + (".raw.png" if raw else ".png"))

    def preview_path(self, result_id: str) -> str:
        return self.path("previews", result_id, ".jpg")

    def frame_path(self, result_id: str, index: int) -> str:
        """Frame ``index`` of a clip as it was made (a JPEG at preview size: the page plays them as they come)."""
        return self.path("previews", result_id, f".f{int(index):04d}.jpg")

    def clip_path(self, result_id: str, ext: str) -> str:
        """A Morph or Walk's clip, ``ext`` one of CLIP_FORMATS (the morph's recipe inside)."""
        assert ext in CLIP_FORMATS
        return self.path("images", result_id, ".clip" + ext)

    def style_path(self, result_id: str) -> str:
        return self.path("styles", result_id, ".safetensors")

    # --- inputs -------------------------------------------------------------
    def add_input(
        self, name: str, sha256: str, width: int, height: int, sample: bool = False, write=None, mask: bool = False
    ) -> tuple[dict, bool]:
        """(record, created): an image with the same pixels is stored once. ``write(id)``
        writes its file before the record appears, so no reader sees a record without a file."""
        with self._lock:
            row = self.db.execute("SELECT * FROM inputs WHERE sha256=?", (sha256,)).fetchone()
            if row:
                return dict(row), False
            ident = new_id()
            if write is not None:
                write(ident)
            self.db.execute(
                "INSERT INTO inputs (id, name, sha256, width, height, sample, created, mask) VALUES (?,?,?,?,?,?,?,?)",
                (ident, name, sha256, width, height, int(sample), time.time(), int(mask)),
            )
            return self.get_input(ident), True

    def get_input(self, input_id: str) -> dict:
        check_id(input_id, "image")
        with self._lock:
            row = self.db.execute("SELECT * FROM inputs WHERE id=?", (input_id,)).fetchone()
        if not row:
            raise NotFound("no such image")
        return dict(row)

    def list_inputs(self) -> list[dict]:
        with self._lock:
            return [dict(r) for r in self.db.execute("SELECT * FROM inputs ORDER BY sample DESC, created")]

    # --- jobs and results -----------------------------------------------------
    def create_job(self, job_id: str, kind: str, content_id, style_id, params: dict, results: list[dict]) -> None:
        now = time.time()
        with self._lock:
            self.db.execute("BEGIN")
            self.db.execute(
                "INSERT INTO jobs (id, kind, status, content_id, style_id, params, created) VALUES (?,?,?,?,?,?,?)",
                (job_id, kind, "queued", content_id, style_id, json.dumps(params), now),
            )
            for i, r in enumerate(results):
                o = r["options"]
                self.db.execute(
                    "INSERT INTO results (id, job_id, idx, kind, label, status, parent_id, parent2_id, content_id, "
                    "style_id, mode, style_layers, size, iterations, options, created) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        r["id"],
                        job_id,
                        i,
                        kind,
                        r["label"],
                        "queued",
                        r.get("parent_id"),
                        r.get("parent2_id"),
                        content_id,
                        style_id,
                        o["mode"],
                        ",".join(o["style_layers"]),
                        o["size"],
                        o["iterations"],
                        json.dumps(o),
                        now,
                    ),
                )
            self.db.execute("COMMIT")

    def update_job(self, job_id: str, **fields) -> None:
        self._update("jobs", job_id, fields)

    def update_result(self, result_id: str, **fields) -> None:
        self._update("results", result_id, fields)

    def _update(self, table: str, ident: str, fields: dict) -> None:
        if not fields:
            return
        cols = ", ".join(f"{k}=?" for k in fields)  # keys come from this package's code, never from requests
        with self._lock:
            self.db.execute(f"UPDATE {table} SET {cols} WHERE id=?", (*fields.values(), ident))

    def get_job(self, job_id: str) -> dict:
        check_id(job_id, "job")
        with self._lock:
            row = self.db.execute("SELECT * FROM jobs WHERE id=?", (job_id,)).fetchone()
        if not row:
            raise NotFound("no such job")
        return _job(row)

    def latest_job(self):
        """The job submitted last (None in a new workspace)."""
        with self._lock:
            row = self.db.execute("SELECT * FROM jobs ORDER BY created DESC LIMIT 1").fetchone()
        return _job(row) if row else None

    def list_jobs(self, limit: int = 50) -> list[dict]:
        with self._lock:
            return [_job(r) for r in self.db.execute("SELECT * FROM jobs ORDER BY created DESC LIMIT ?", (limit,))]

    def get_result(self, result_id: str, recipe: bool = False) -> dict:
        check_id(result_id, "result")
        with self._lock:
            row = self.db.execute("SELECT * FROM results WHERE id=?", (result_id,)).fetchone()
        if not row:
            raise NotFound("no such result")
        return self._result(row, recipe)

    def results(
        self, *, job_id=None, content_id=None, style_id=None, mode=None, starred=None, limit: int = 500
    ) -> list[dict]:
        where, args = [], []
        for col, value in (("job_id", job_id), ("content_id", content_id), ("style_id", style_id), ("mode", mode)):
            if value:
                where.append(f"{col}=?")
                args.append(value)
        if starred:
            where.append("starred=1")
        sql = "SELECT * FROM results" + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY created DESC, idx ASC LIMIT ?"
        with self._lock:
            rows = self.db.execute(sql, (*args, limit)).fetchall()
        return [self._result(r) for r in rows]

    def delete_result(self, result_id: str) -> None:
        with self._lock:
            self.db.execute("DELETE FROM results WHERE id=?", (result_id,))
        images_dir, previews = os.path.join(self.root, "images"), os.path.join(self.root, "previews")
        sharp, frame = re.compile(rf"{result_id}\.s\d+\."), re.compile(rf"{result_id}\.f\d+\.jpg$")
        sharpened = [os.path.join(images_dir, n) for n in os.listdir(images_dir) if sharp.match(n)]
        frames = [os.path.join(previews, n) for n in os.listdir(previews) if frame.match(n)]
        for p in (
            self.image_path(result_id),
            self.image_path(result_id, raw=True),
            self.swatch_path(result_id),
            self.preview_path(result_id),
            self.style_path(result_id),
            *sharpened,  # ID.sSIZE.png, its raw image and swatch
            *frames,
            *(self.clip_path(result_id, ext) for ext in CLIP_FORMATS),
        ):
            try:
                os.unlink(p)
            except FileNotFoundError:
                pass

    def _result(self, row, recipe: bool = False) -> dict:
        d = _result(row, recipe)
        # The swatch is written (atomically) before the image, so a finished image means a complete swatch.
        has_swatch = d["image_url"] is not None and os.path.isfile(self.swatch_path(d["id"]))
        d["swatch_url"] = urls.result(d["id"], "swatch") if has_swatch else None
        sharp = d["sharp_size"]
        d["sharp_url"] = urls.result(d["id"], "sharp", sharp) if sharp else None
        clip = d["kind"] in CLIPS and os.path.isfile(self.clip_path(d["id"], ".webp"))
        d["clip_url"] = urls.result(d["id"], "clip", d["iterations_done"]) if clip else None  # the frames made
        return d


def _job(row) -> dict:
    d = dict(row)
    d["params"] = json.loads(d["params"] or "{}")
    return d


def _result(row, recipe: bool = False) -> dict:
    d = dict(row)
    d["options"] = json.loads(d["options"])
    d["recipe"] = json.loads(d["recipe"]) if recipe and d["recipe"] else None
    if not recipe:
        d.pop("recipe")
    d["style_layers"] = d["style_layers"].split(",")
    d["starred"] = bool(d["starred"])
    v = d["iterations_done"]
    d["image_url"] = urls.result(d["id"], "image") if d.pop("has_image") else None
    d["preview_url"] = urls.result(d["id"], "preview", v) if d.pop("has_preview") else None
    return d
