"""Benchmark: bench/task_completion.py on two checkouts of the platform, alternated, in one run.

Issue 15 (the organisation) routes every step when it opens and reads the routing when a step is
completed; its target is that one approval gets no more than 10 % slower. This runs each
checkout's own bench/task_completion.py (its own code first on the path: the script puts its
checkout's platform/ there), `--rounds` times each, before and after alternating so that the
shared machine's slower and faster minutes fall on both, and prints every run's medians, the
median of the runs' medians per checkout and the ratio after / before, the median of the
rounds' own ratios (the pair ran back to back), and the load average (1 min) before each run.

Run:  git worktree add /work/wt-before 98936d3      (main before issue 15)
      .venv/bin/python bench/compare_completion.py --before /work/wt-before --after . --rounds 5
      .venv/bin/python bench/compare_completion.py --before /work/wt-before --after . \\
          --pg postgresql+psycopg://postgres@127.0.0.1:5432        (bench_completion_before/_after)
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

LINE = re.compile(r"^(raw Spiff step|adapter step|platform, test client|platform, real HTTP)\s+"
                  r"([\d.]+)\s+([\d.]+)(?:\s+([\d.]+))?\s*$")
WATCHED = ("platform, test client", "platform, real HTTP")


def load():
    return os.getloadavg()[0]


def run(checkout, n, pg):
    """One run of the checkout's bench; {variant: (median ms, p90 ms, CPU ms or None)}."""
    checkout = Path(checkout).resolve()
    cmd = [sys.executable, str(checkout / "bench" / "task_completion.py"), "--n", str(n)]
    if pg:
        cmd += ["--pg", f"{pg}/bench_completion_{'before' if checkout == BEFORE else 'after'}"]
    env = {**os.environ, "PYTHONPATH": str(checkout / "platform")}
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=checkout)
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}")
    found = {}
    for line in out.stdout.splitlines():
        if m := LINE.match(line.strip()):
            found[m[1]] = (float(m[2]), float(m[3]), float(m[4]) if m[4] else None)
    missing = [v for v in WATCHED if v not in found]
    if missing:
        sys.exit(f"no figures for {missing} in:\n{out.stdout}")
    return found


BEFORE = None


def main():
    global BEFORE
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--before", required=True, help="checkout of the code before (e.g. a worktree of 98936d3)")
    ap.add_argument("--after", default=str(Path(__file__).resolve().parents[1]), help="checkout after (default: this)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--n", type=int, default=200, help="measured completions per run (task_completion --n)")
    ap.add_argument("--pg", metavar="SERVER_URL", help="PostgreSQL server URL without a database name")
    args = ap.parse_args()
    BEFORE = Path(args.before).resolve()
    sides = {"before": BEFORE, "after": Path(args.after).resolve()}
    runs = {side: [] for side in sides}
    print(f"task_completion.py --n {args.n} on {'PostgreSQL' if args.pg else 'SQLite'}, {args.rounds} rounds, "
          f"before = {sides['before']}, after = {sides['after']}", flush=True)
    for r in range(args.rounds):
        order = list(sides) if r % 2 == 0 else list(reversed(sides))  # neither side always goes first
        for side in order:
            before_load = load()
            figures = run(sides[side], args.n, args.pg)
            runs[side].append(figures)
            print(f"  round {r + 1} {side:<6} load {before_load:4.2f}  " + "  ".join(
                f"{v}: median {figures[v][0]:.2f} ms (CPU {figures[v][2] if figures[v][2] is not None else '-'})"
                for v in WATCHED), flush=True)
    print("\nmedian of the runs' medians (ms):")
    print(f"  {'':24}{'before':>10}{'after':>10}{'after/before':>14}")
    for variant in ("raw Spiff step", "adapter step", *WATCHED):
        b = statistics.median(f[variant][0] for f in runs["before"])
        a = statistics.median(f[variant][0] for f in runs["after"])
        print(f"  {variant:24}{b:10.2f}{a:10.2f}{a / b:13.2f}x")
    variant = "platform, test client"
    b = statistics.median(f[variant][2] for f in runs["before"])
    a = statistics.median(f[variant][2] for f in runs["after"])
    print(f"  {'test client, CPU ms':24}{b:10.2f}{a:10.2f}{a / b:13.2f}x")
    ratio = statistics.median(f[variant][0] for f in runs["after"]) / statistics.median(
        f[variant][0] for f in runs["before"])
    # each round's after / before: the two ran back to back, so the VM's drifting speed (it moves
    # by 15-30 % from one minute to the next) weighs less on these than on the medians above
    paired = [a[variant][0] / b[variant][0] for a, b in zip(runs["after"], runs["before"])]
    paired_cpu = [a[variant][2] / b[variant][2] for a, b in zip(runs["after"], runs["before"])]
    print(f"\nper round, after / before (test client): median {statistics.median(paired):.2f}x, CPU "
          f"{statistics.median(paired_cpu):.2f}x; after slower in {sum(r > 1 for r in paired)} of {len(paired)} rounds")
    print(f"after / before, test client median: {ratio:.2f}x "
          f"({'within' if ratio <= 1.10 else 'MISSES'} the 10 % allowed)")


if __name__ == "__main__":
    main()
