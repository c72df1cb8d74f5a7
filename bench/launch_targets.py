#!/usr/bin/env python3
"""bench/launch_targets.py: issue 15's launch targets, met or missed, from one bench/run.

Reads what bench/run just wrote (latest.json from bench/compare, latest-scale.json from
bench/scale, latest-accuracy.json from bench/accuracy) and writes a Markdown section and a JSON
file with one row per target: the figure, the target, the figure it is compared against (always
from the same run), and met or missed. A figure that is missing (a tool left out, a failed part)
is "not measured", which counts as missed.

    bench/launch_targets.py RESULTS_DIR MARKDOWN_OUT JSON_OUT

Exit status: 0 every target met, 1 one or more missed or not measured, 2 bad usage or input.
"""
import json
import os
import sys


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return None


def tool(compare, name):
    for t in (compare or {}).get("tools", []):
        if t.get("name") == name and not t.get("error"):
            return t
    return None


def median(t):
    return ((t or {}).get("latency") or {}).get("median_ms")


def jobs_per_s(t, parallel):
    for row in (t or {}).get("throughput") or []:
        if row.get("parallel") == parallel:
            return row.get("jobs_per_s")
    return None


class Targets:
    def __init__(self):
        self.rows = []

    def add(self, figure, measured, target, met):
        """measured: text of what was measured, or None when it was not."""
        if measured is None:
            self.rows.append({"figure": figure, "measured": "not measured", "target": target, "met": False})
        else:
            self.rows.append({"figure": figure, "measured": measured, "target": target, "met": bool(met)})


def ratio(a, b):
    return a / b if a is not None and b else None


def check(results_dir):
    compare = load(os.path.join(results_dir, "latest.json"))
    scale = load(os.path.join(results_dir, "latest-scale.json"))
    accuracy = load(os.path.join(results_dir, "latest-accuracy.json"))
    t = Targets()

    bare, bwrap = tool(compare, "bare"), tool(compare, "bwrap")
    queue, run, batch = tool(compare, "cellblock-queue"), tool(compare, "cellblock-run"), tool(compare, "cellblock-batch")

    q_bare, q_bwrap = ratio(median(queue), median(bare)), ratio(median(queue), median(bwrap))
    t.add("cellblock-queue median",
          None if q_bare is None or q_bwrap is None else
          f"{median(queue):.2f} ms: {q_bare:.2f}× bare ({median(bare):.2f} ms), {q_bwrap:.2f}× bwrap ({median(bwrap):.2f} ms)",
          "≤ 2.5× bare and ≤ 0.5× bwrap", q_bare is not None and q_bwrap is not None and q_bare <= 2.5 and q_bwrap <= 0.5)

    jq, jb, jw = jobs_per_s(queue, 2), jobs_per_s(bare, 2), jobs_per_s(bwrap, 2)
    tq_bare, tq_bwrap = ratio(jq, jb), ratio(jq, jw)
    t.add("cellblock-queue jobs/s, 2 workers",
          None if tq_bare is None or tq_bwrap is None else
          f"{jq:.0f}: {tq_bare:.2f}× bare ({jb:.0f}), {tq_bwrap:.2f}× bwrap ({jw:.0f})",
          "≥ 0.35× bare and ≥ 2× bwrap", tq_bare is not None and tq_bwrap is not None and tq_bare >= 0.35 and tq_bwrap >= 2)

    r_bwrap = ratio(median(run), median(bwrap))
    t.add("`cellblock run` median (a process per job)",
          None if r_bwrap is None else f"{median(run):.2f} ms: {r_bwrap:.2f}× bwrap's",
          "≤ bwrap's", r_bwrap is not None and r_bwrap <= 1.0)

    # Batch against the in-process queue, at each worker count both ran; the worst counts.
    worst = None
    for p in (compare or {}).get("settings", {}).get("parallel", []):
        r = ratio(jobs_per_s(batch, p), jobs_per_s(queue, p))
        if r is not None and (worst is None or r < worst[1]):
            worst = (p, r)
    t.add("`cellblock batch` throughput",
          None if worst is None else f"{worst[1]:.3f}× the in-process queue's jobs/s (worst, at {worst[0]} worker(s))",
          "≥ 0.90× the in-process queue", worst is not None and worst[1] >= 0.90)

    cells = (scale or {}).get("cells")
    if cells and not cells.get("timed_out"):
        # Alive at once: bench/scale proves it from each cell's own lifetime (all_alive_together_ms).
        ran = scale["settings"]["concurrent"]
        together = cells.get("all_alive_together_ms", -1) > 0 and cells.get("exited_0") == ran
        n = ran if together else 0
        threads = cells["threads"]["max_sampled"]
        fds_per_cell = (cells["fds"]["max_sampled"] - cells["fds"]["before"]) / ran if ran else None
        wanted = 1000
        t.add("one supervisor's cells alive at once",
              (f"{ran} cells alive together for {cells['all_alive_together_ms'] / 1000:.1f} s" if together
               else f"{ran} cells run, not all alive together")
              + f": {threads} threads in the process, "
              + (f"{fds_per_cell:.1f} fds per cell" if fds_per_cell is not None else "no cell"),
              f"{wanted} cells with < 64 threads and < 8 fds per cell",
              n >= wanted and threads < 64 and fds_per_cell is not None and fds_per_cell < 8)
    else:
        t.add("one supervisor's cells alive at once", None, "1000 cells with < 64 threads and < 8 fds per cell", False)

    if accuracy is not None:
        missed = accuracy.get("missed") or []
        t.add("accuracy (bench/accuracy)",
              "within bounds" if not missed else "; ".join(missed),
              "CPU ≤ 1 ms + 1%, memory ≤ 2% (of the same program run bare)", accuracy.get("all_targets_met", False))
    else:
        t.add("accuracy (bench/accuracy)", None, "CPU ≤ 1 ms + 1%, memory ≤ 2% (of the same program run bare)", False)
    return t.rows


def markdown(rows):
    out = ["## Launch targets (issue 15)", "",
           "Every ratio is between figures of this one run (medians; jobs/s over the same job count).", "",
           "| figure | measured | target | |", "|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['figure']} | {r['measured']} | {r['target']} | {'met' if r['met'] else '**missed**'} |")
    met = sum(r["met"] for r in rows)
    out += ["", f"{met} of {len(rows)} targets met.", ""]
    return "\n".join(out)


def main(argv):
    if len(argv) != 4:
        print(__doc__.strip().splitlines()[4], file=sys.stderr)
        return 2
    results_dir, md_out, json_out = argv[1:]
    try:
        rows = check(results_dir)
    except (KeyError, TypeError, ValueError, json.JSONDecodeError) as e:
        print(f"launch_targets: cannot read the results in {results_dir}: {e!r}", file=sys.stderr)
        return 2
    with open(md_out, "w") as f:
        f.write(markdown(rows))
    with open(json_out, "w") as f:
        json.dump({"schema": "cellblock-bench-launch-targets/1", "targets": rows,
                   "all_targets_met": all(r["met"] for r in rows)}, f, indent=2)
        f.write("\n")
    for r in rows:
        if not r["met"]:
            print(f"launch_targets: missed: {r['figure']}: {r['measured']} (target {r['target']})", file=sys.stderr)
    return 0 if all(r["met"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
