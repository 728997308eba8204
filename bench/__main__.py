"""``python -m bench`` (``make bench``): run the suite, write bench/results/*.json and docs/BENCHMARKS.md.

``--quick`` is a smoke run on a tiny load (about half a minute) whose figures are not to be quoted;
it writes to the same places unless told otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from hub.settings import PROJECT_ROOT

from .report import aims, scale_out_section, write_json, write_markdown
from .suite import Plan, ScaleOutIntake, Suite, full_plan, quick_plan

RESULTS_DIR = PROJECT_ROOT / "bench" / "results"
DOC = PROJECT_ROOT / "docs" / "BENCHMARKS.md"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smoke run on a tiny load")
    parser.add_argument(
        "--scale-out", action="store_true", help="with --quick: include PostgreSQL + RabbitMQ"
    )
    parser.add_argument(
        "--scale-out-only",
        action="store_true",
        help="only the scaled-out intake with one and two API processes, PostgreSQL lock waits sampled",
    )
    parser.add_argument(
        "--count",
        type=int,
        metavar="N",
        help="with --scale-out-only: N documents at saturation and N/2 at the fixed rate per phase"
        " (default 4000; a smaller N for same-minute A/B rounds)",
    )
    parser.add_argument(
        "--end-to-end-only",
        action="store_true",
        help="only the embedded end-to-end phase (agency, then the axis; no peak memory), as the full"
        " run measures it",
    )
    parser.add_argument(
        "--delivery",
        choices=["process", "threads"],
        help="with --end-to-end-only: LIENTHONG_DELIVERY of the hub (default: the hub's default)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        help="with --end-to-end-only: LIENTHONG_WORKERS of the hub (default: the hub's default)",
    )
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR, help="where the JSON goes")
    parser.add_argument("--doc", type=Path, default=DOC, help="the Markdown page to (re)write")
    parser.add_argument("--workdir", type=Path, help="data dirs and logs (default: a temporary directory)")
    parser.add_argument(
        "--render", type=Path, metavar="JSON", help="only rewrite the page from a results file (no measuring)"
    )
    args = parser.parse_args(argv)
    if args.render:
        results = json.loads(args.render.read_text(encoding="utf-8"))
        results["aims"] = aims(results)  # judged by this code's rules
        write_markdown(results, args.doc, args.render)
        print(f"page: {args.doc}")
        return 0

    plan = quick_plan(scale_out=args.scale_out) if args.quick else full_plan()
    if args.scale_out_only:
        return _scale_out_only(plan, args)
    if args.end_to_end_only:
        return _end_to_end_only(plan, args)
    with tempfile.TemporaryDirectory(prefix="lienthong-bench-") as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        print(f"lienthong bench ({'quick' if args.quick else 'full'}); processes' logs in {workdir / 'logs'}")
        results = Suite(plan, workdir).run()
    results["aims"] = aims(results)
    json_path = write_json(results, args.results_dir)
    write_markdown(results, args.doc, json_path)
    print(f"results: {json_path}\npage: {args.doc}")
    return 0


def _scale_out_only(plan: Plan, args: argparse.Namespace) -> int:
    """The scaled-out intake alone; its JSON goes next to the others (docs/BENCHMARKS.md quotes it)."""
    with tempfile.TemporaryDirectory(prefix="lienthong-bench-") as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        print(f"lienthong bench, scaled-out intake only; processes' logs in {workdir / 'logs'}")
        results = ScaleOutIntake(Suite(plan, workdir), saturation=args.count).run()
    args.results_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%z")
    path = args.results_dir / f"scale-out-{'quick-' if plan.quick else ''}{stamp}.json"
    path.write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")
    if isinstance(results.get("scaled_out"), dict) and "skipped" not in results["scaled_out"]:
        print("\n".join(scale_out_section(results["embedded"], results["scaled_out"])))
    print(
        f"load average at start {results['machine']['load_average_at_start']}, at end"
        f" {results['machine']['load_average_at_end']}"
    )
    print(f"results: {path}")
    return 0


def _end_to_end_only(plan: Plan, args: argparse.Namespace) -> int:
    """The embedded end-to-end phase alone, for same-minute A/B rounds; its JSON goes next to the
    others (it is not a full run: docs/BENCHMARKS.md is not rewritten)."""
    with tempfile.TemporaryDirectory(prefix="lienthong-bench-") as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        print(f"lienthong bench, embedded end to end only; processes' logs in {workdir / 'logs'}")
        results = Suite(plan, workdir).end_to_end_only(args.delivery, args.workers)
    args.results_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%z")
    path = args.results_dir / f"end-to-end-{'quick-' if plan.quick else ''}{stamp}.json"
    path.write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")
    for name, figures in (
        ("agency", results["end_to_end"]["embedded"]),
        ("axis", results["end_to_end"]["embedded"].get("axis") or {}),
    ):
        burst, fixed = figures.get("saturation"), figures.get("fixed_rate")
        if not burst or not fixed:
            continue
        ratio = burst["delivered_per_s"] / burst["accepted_per_s"] if burst["accepted_per_s"] else 0.0
        latency = fixed["intake_to_delivery"]
        cpu = burst["cpu_s_per_message"]
        print(
            f"{name}: burst accepted {burst['accepted_per_s']:.0f}/s"
            f" delivered {burst['delivered_per_s']:.0f}/s"
            f" (ratio {ratio:.2f}), CPU {1000 * cpu if cpu else 0:.2f} ms/msg;"
            f" at {fixed['offered_per_s']:.0f}/s p50 {latency['p50_ms']:.0f} p99 {latency['p99_ms']:.0f} ms"
        )
    print(
        f"load average at start {results['machine']['load_average_at_start']}, at end"
        f" {results['machine']['load_average_at_end']}"
    )
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
