"""Every clinic scenario, broken then fixed: findings, step of first detection, fixed accuracy.

    python bench/clinic.py [--only NAME[,NAME]] [--threads N] [--json out.json]

For each scenario: the finding kinds (doctor + gradient check), the step of the doctor's first
alarm, the broken run's time, the remedies applied, and the fixed run's test accuracy on
mnist-mini against its target and its time (preflight, training, evaluation, report).
Targets (issue 7): >= 92% for seeds 000, 002, 004; >= 97% for seed 003's CNN.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from _common import blas_description, clean_blas_environment, write_json  # noqa: E402

removed_vars = clean_blas_environment()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=None, help="comma-separated scenario names (or seeds)")
    parser.add_argument("--threads", type=int, default=None,
                        help="BLAS threads (default: the BLAS's own; 1 is steadier on shared "
                             "cores, where 2 threads spin against other work)")
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args()

    import numpy  # noqa: F401 - loads OpenBLAS, so that threadpoolctl can see and limit it
    from rich.console import Console
    from rich.table import Table

    from netmedic import clinic

    if args.threads:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=args.threads, user_api="blas")
    print(f"BLAS: {blas_description()}" + (f"; unset {removed_vars}" if removed_vars else ""))
    names = args.only.split(",") if args.only else clinic.names()
    rows = []
    for name in names:
        start = time.perf_counter()
        result = clinic.run_scenario(name, fix_it=True)
        total = time.perf_counter() - start
        row = result.to_dict()
        row["total_seconds"] = total
        rows.append(row)
        fixed = row["fixed"]
        print(f"{row['scenario']}: {', '.join(row['kinds'])}; first alarm at step "
              f"{row['first_detection']}, first error {row['first_error']}; "
              f"fixed {fixed['test_accuracy']:.2%} "
              f"(target {fixed['target']:.0%}) in {fixed['seconds']:.1f} s", flush=True)

    table = Table(title="netmedic clinic: each seed broken, diagnosed, fixed")
    for column in ("scenario", "findings (kinds)", "first alarm", "first error", "broken run",
                   "remedies applied", "fixed accuracy", "fixed run"):
        table.add_column(column, justify="right" if column in ("first alarm", "broken run",
                                                                "fixed run") else "left")
    for row in rows:
        fixed = row["fixed"]
        applied = [f"{r['remedy']['action']}" + "".join(f" {v}" for k, v in r["remedy"].items()
                                                        if k != "action")
                   for r in row["remedies"] if r["status"] == "applied"
                   and any(" → " in e for e in r["edits"])]
        mark = "✓" if fixed["reached_target"] else "✗"
        error = row["first_error"]
        table.add_row(row["scenario"], ", ".join(row["kinds"]), f"step {row['first_detection']}",
                      "—" if error is None else f"step {error[0]}: {error[1]}",
                      f"{row['broken']['steps']} steps, {row['broken']['seconds']:.1f} s",
                      "; ".join(applied),
                      f"{fixed['test_accuracy']:.2%} {mark} (≥ {fixed['target']:.0%})",
                      f"{fixed['seconds']:.1f} s")
    Console(width=200).print(table)
    load = [f"{x:.2f}" for x in os.getloadavg()]  # shared cores: say how busy the machine was
    print(f"load average (1, 5, 15 min) at the end: {', '.join(load)}")
    write_json(args.json, {"blas": blas_description(), "threads": args.threads,
                           "load_average": load, "rows": rows})


if __name__ == "__main__":
    main()
