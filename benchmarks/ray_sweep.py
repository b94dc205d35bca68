"""The Ray executor's overhead: N variants through a local Ray cluster against the local executor,
on this machine, in one run (the issue's target: <= 10 % of the runs' time).

Each configuration is the real command (``eigenstyle variants --count N``), timed from launch to exit,
in alternation, --repeats times:

* ``local``: the default executor, in the command's own process (its threads: all cores);
* ``ray, 1 task at a time``: ``--cpus-per-run`` = every CPU of the cluster, so each task gets the
  threads the local run has: the difference is Ray's own cost (connecting, sending the inputs,
  a worker's start and its own network, progress through the channel, results coming back);
* ``ray, 1 CPU per task``: tasks side by side, one thread each (what a many-core node does).

The cluster is started here (``ray start --head``, this machine's CPUs) unless --address names one;
its start is not counted (an artist starts it once). The first Ray run of a fresh cluster also
starts its worker processes; it is timed like the others, and each line shows its own repeats.

    python benchmarks/ray_sweep.py --count 8 --size 256 --iterations 100
"""

from __future__ import annotations

import datetime
import os
import socket
import subprocess
import sys
import tempfile
import time

import torch

from eigenstyle.vgg import speed

import common


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(argv=None):
    ap = common.parser(__doc__, size=256, device="cpu")
    ap.add_argument("--count", type=int, default=8)
    ap.add_argument("--address", help="an existing cluster (default: start one here)")
    args = ap.parse_args(argv)
    ray_bin = os.path.join(os.path.dirname(sys.executable), "ray")
    cpus = os.cpu_count()
    address, temp = args.address, None
    if address is None:
        temp, port = f"/tmp/ray-bench-{os.getpid()}", _free_port()
        subprocess.run(
            [ray_bin, "start", "--head", f"--port={port}", f"--num-cpus={cpus}", "--include-dashboard=false",
             f"--temp-dir={temp}", "--disable-usage-stats"],
            check=True, capture_output=True,
        )  # fmt: skip
        address = f"127.0.0.1:{port}"
    configs = {
        "local": [],
        "ray, 1 task at a time": ["--executor", "ray", "--address", address, "--cpus-per-run", str(cpus)],
        "ray, 1 CPU per task": ["--executor", "ray", "--address", address, "--cpus-per-run", "1"],
    }
    times = {name: [] for name in configs}
    try:
        with tempfile.TemporaryDirectory(prefix="ray-sweep-") as tmp:
            content, style = common.shared_inputs(args.content, args.style, args.size, tmp)
            for r in range(args.repeats):
                for name, extra in configs.items():
                    out = os.path.join(tmp, f"{r}-{name.split(',')[0]}-{len(times[name])}")
                    cmd = [sys.executable, "-m", "eigenstyle.cli", "variants", content, style, "--count",
                           str(args.count), "--size", str(args.size), "--iterations", str(args.iterations),
                           "--seed", "1", "--variant-seed", "1", "-o", out, "-q", *extra]  # fmt: skip
                    t = time.perf_counter()
                    done = subprocess.run(cmd, capture_output=True, text=True)
                    times[name].append(time.perf_counter() - t)
                    if done.returncode != 0:
                        sys.exit(f"{name} failed: {done.stderr.strip()[-500:]}")
                    print(f"{name}: {times[name][-1]:.1f} s", flush=True)
    finally:
        if temp is not None:
            subprocess.run([ray_bin, "stop", "--force"], capture_output=True)
    local = min(times["local"])
    lines = ["| executor | wall s (each repeat) | best | × local | overhead |", "|---|---|---:|---:|---:|"]
    for name, ts in times.items():
        best = min(ts)
        lines.append(
            f"| {name} | {', '.join(f'{t:.1f}' for t in ts)} | {best:.1f} | {best / local:.3f} | "
            f"{100 * (best / local - 1):+.1f} % |"
        )
    cpu = speed.machine_key(torch.device("cpu"))
    notes = [
        f"{datetime.date.today()}, {cpu['name']} ({cpu['isa']}; {cpus} cores, torch {torch.__version__}); "
        f"{args.count} variants, {args.size} px, {args.iterations} iterations, "
        f"cluster {'started here' if temp else address} with {cpus} CPUs",
        common.invocation(__file__, argv),
    ]
    common.publish("\n".join(lines), notes, args.out)


if __name__ == "__main__":
    main()
