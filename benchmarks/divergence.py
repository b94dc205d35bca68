"""How often runs diverge at the studio's settings, and what a diverged run ends with: each run's
end (done, restarted and where, or stopped with an error), its iterations and final loss.

L-BFGS without a line search (neural-style's) takes a full gradient step where no pair has passed
the curvature test; from the content start and its tiny first step, a bf16 gradient's change is
round-off, the pair fails, and the full step blew studio tiles up. Run it on two commits (a
``git worktree`` of each) to compare; the settings are the studio's (actions.STUDIO) unless given.
Results: docs/benchmarks.md ("divergence").

    python benchmarks/divergence.py --seeds 1-12 --modes variant,fantasy
"""

import argparse
import os
import subprocess
import time

import torch

import eigenstyle
from eigenstyle.studio.actions import STUDIO
from eigenstyle.vgg import speed

SAMPLES = os.path.join(os.path.dirname(os.path.abspath(eigenstyle.__file__)), "samples")


def seeds(text: str) -> list:
    lo, _, hi = text.partition("-")
    return list(range(int(lo), int(hi or lo) + 1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--content", default=os.path.join(SAMPLES, "tubingen.jpg"))
    ap.add_argument("--style", default=os.path.join(SAMPLES, "starry_night.jpg"))
    ap.add_argument("--seeds", default="1-12", help="variant seeds, e.g. 1-12")
    ap.add_argument("--modes", default="variant,fantasy")
    ap.add_argument("--size", type=int, default=STUDIO.size)
    ap.add_argument("--iterations", type=int, default=STUDIO.iterations)
    ap.add_argument("--init", default=STUDIO.init)
    ap.add_argument("--precision", default="auto")
    a = ap.parse_args()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=os.path.dirname(eigenstyle.__file__)).stdout.strip()  # fmt: skip
    cpu = speed.machine_key(torch.device("cpu"))["name"]
    print(
        f"# eigenstyle {commit} ({eigenstyle.__file__}), torch {torch.__version__}, {cpu}, "
        f"{torch.get_num_threads()} threads; {a.size} px, {a.iterations} iterations, init {a.init}, "
        f"precision {a.precision}"
    )
    print("| mode | seed | precision | end | iterations | final loss | s |")
    print("|---|---:|---|---|---:|---:|---:|")
    ends = {}
    for mode in a.modes.split(","):
        for s in seeds(a.seeds):
            kw = STUDIO.to_dict()
            kw.update(mode=mode, size=a.size, iterations=a.iterations, init=a.init, precision=a.precision,
                      seed=1, variant_seed=s, print_every=0)  # fmt: skip
            t = time.perf_counter()
            r = eigenstyle.stylize(a.content, a.style, **kw)
            rec = r.recipe
            end = "error" if r.error else ("restarted at " + ",".join(map(str, rec["restarted_at"]))
                                           if rec.get("restarted_at") else "done")  # fmt: skip
            ends[end.split(" at")[0]] = ends.get(end.split(" at")[0], 0) + 1
            loss = rec["losses"]["total"] if rec.get("losses") else float("nan")
            print(f"| {mode} | {s} | {rec['precision']} | {end} | {rec['iterations_done']} | {loss:.4g} | "
                  f"{time.perf_counter() - t:.1f} |", flush=True)  # fmt: skip
    print("# ends:", ", ".join(f"{k} {v}" for k, v in sorted(ends.items())))


if __name__ == "__main__":
    main()
