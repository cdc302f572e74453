"""The whole machine's busy CPU while each wrk load runs: run it beside ``sidebyside.py``.

``sidebyside.py`` adds up the CPU of the processes it can name (a system's process tree,
PostgreSQL's processes for LinkFlow). This reads ``/proc/stat`` instead: everything the
machine did during each wrk run (user, system, irq and softirq time of every process and
of the kernel), so nothing is missed and both systems are counted the same way. Divide
the busy cores by the requests/s of that row for the CPU milliseconds per request.

    python3 bench/machine_cpu.py --runs 4 &
    python3 ../shared/bench/sidebyside.py --lf . --only n8n-legacy,lf-roles

Only meaningful on an otherwise idle machine. Prints one line per wrk run it saw, with
its concurrency; the first second of each run is skipped (wrk connecting).
"""

import argparse
import os
import subprocess
import time

TICK = os.sysconf("SC_CLK_TCK")


def _busy_and_idle() -> tuple[int, int]:
    # user nice system idle iowait irq softirq steal
    with open("/proc/stat") as stat:
        fields = [int(x) for x in stat.readline().split()[1:9]]
    busy = fields[0] + fields[1] + fields[2] + fields[5] + fields[6]
    return busy, fields[3] + fields[4]


def _wrk() -> tuple[int, int] | None:
    """The pid and concurrency of a running wrk, if one runs."""
    found = subprocess.run(["pgrep", "-a", "-x", "wrk"], capture_output=True, text=True)
    for line in found.stdout.splitlines():
        words = line.split()
        if "-c" in words:
            return int(words[0]), int(words[words.index("-c") + 1])
    return None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=4, help="wrk runs to measure, then stop")
    parser.add_argument("--skip-below", type=int, default=9, help="ignore warm-ups below this c")
    args = parser.parse_args()
    measured = 0
    while measured < args.runs:
        wrk = _wrk()
        if wrk is None or wrk[1] < args.skip_below:
            time.sleep(0.1)
            continue
        pid, conc = wrk
        time.sleep(1)
        busy0, idle0 = _busy_and_idle()
        start = time.monotonic()
        while os.path.exists(f"/proc/{pid}"):  # cheap: no process scan while it runs
            time.sleep(0.1)
        busy1, idle1 = _busy_and_idle()
        seconds = time.monotonic() - start
        busy = (busy1 - busy0) / TICK / seconds
        idle = (idle1 - idle0) / TICK / seconds
        print(f"c={conc}: {busy:.3f} cores busy, {idle:.3f} idle, over {seconds:.1f} s", flush=True)
        measured += 1


if __name__ == "__main__":
    main()
