"""``python -m mitoviz …``: the same operations as the app, from a terminal."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from mitoviz.config import Settings, load_settings
from mitoviz.errors import MitovizError
from mitoviz.progress import Reporter


class BarReporter(Reporter):
    """One progress bar per stage on stderr."""

    def __init__(self) -> None:
        from tqdm import tqdm

        self._tqdm = tqdm
        self._bars: dict[str, Any] = {}

    def update(self, stage: str, done: int, total: int, unit: str = "") -> None:
        bar = self._bars.get(stage)
        if bar is None and done == 0 and stage != "load and plan":
            return  # a stage announced before it starts: its bar appears with its first progress
        if bar is None:  # counted from here, so work done before (cached shards) is no rate
            bar = self._bars[stage] = self._tqdm(total=total, initial=done, desc=stage, leave=True, file=sys.stderr,
                                                 unit=f" {unit}" if unit else " it", dynamic_ncols=True,
                                                 mininterval=0.5, smoothing=0.1)
        bar.total = total
        bar.update(done - bar.n)
        if done >= total:  # a stage that counts again (the next fit's batches) gets a new bar
            bar.close()
            del self._bars[stage]

    def log(self, message: str) -> None:
        self._tqdm.write(message, file=sys.stderr)

    def close(self) -> None:
        for bar in self._bars.values():
            bar.close()


def _print_json(payload: Any) -> None:
    print(json.dumps(payload, indent=2, default=str))


def _table(rows: list[dict[str, Any]], columns: list[str], keep: tuple[str, ...] = ()) -> None:
    from mitoviz.terminal import table

    print(table(rows, columns, keep=keep))


def cmd_datasets(args: argparse.Namespace, settings: Settings) -> int:
    from mitoviz.data.presets import get_preset
    from mitoviz.data.sources import dataset_status

    statuses = dataset_status(settings)
    if args.json:  # each preset's licence, citation and download beside where it was found
        _print_json([{**get_preset(s.name).describe(), **s.to_dict()} for s in statuses])
        return 0
    rows = []
    for s in statuses:
        state = "ready" if s.ready else "images missing" if s.found else "not found"
        where = str(s.path) if s.found else "python -m mitoviz demo-data" if s.synthetic else _first_url(s.how_to_get)
        rows.append({"name": s.name, "status": state, "where / get it from": where})
    _table(rows, ["name", "status", "where / get it from"])
    print("\n(--json for titles, licences, citations, what to put where, and how to get each data set)")
    return 0


def _first_url(text: str) -> str:
    import re

    match = re.search(r"https?://(\S+)", text)
    return match.group(1).rstrip(".,;)") if match else text


def cmd_inspect(args: argparse.Namespace, settings: Settings) -> int:
    from mitoviz import terminal
    from mitoviz.data.cells import DOMAIN_COLUMNS
    from mitoviz.data.sources import inspect_path

    report = inspect_path(args.path, settings, strict=args.strict)
    if args.json:
        _print_json(report)
        return 0
    print(terminal.paragraph(f"{report['dataset']}: {report['cells']:,} cells on {report['images']:,} images "
                             f"({report['format']} format, preset {report['preset'] or 'none'}) from {report['path']}",
                             indent="", hang="  "))
    if not report["format_verified"]:
        print(terminal.paragraph("note: this data set's file layout is unverified; check these counts."))
    for key in ("label", *dict.fromkeys([*DOMAIN_COLUMNS, *report["axes"]]), "split"):
        counts = report.get(key) or {}
        if counts and set(counts) - {"unknown", ""}:
            axis = " (domain axis)" if key in report["axes"] else ""
            print(terminal.paragraph(f"{key}{axis}: {terminal.counts(counts)}"))
    print(terminal.paragraph(f"slides: {report['slides']:,}"))
    for kind in ("adjusted", "skipped"):
        lines = report[f"{kind}_lines"]
        print(terminal.paragraph(f"{kind}: {report[f'n_{kind}']:,} row(s)" + (":" if lines else "")))
        for line in lines:
            print(terminal.paragraph(line, indent="    ", hang="      "))
    for column, merges in report["normalised"].items():
        text = ", ".join(f"{m['raw']!r} → {m['normalised']!r} ({m['rows']:,} rows)" for m in merges)
        print(terminal.paragraph(f"normalised {column}: {text}"))
    missing = report["missing_images"]
    if missing:
        shown = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
        print(terminal.paragraph(f"missing image files ({len(missing):,}): {shown}"))
    for note in report["notes"]:
        print(terminal.paragraph(f"note: {note}"))
    return 0


def cmd_demo_data(args: argparse.Namespace, settings: Settings) -> int:
    from mitoviz.demo import generate_demo

    target = Path(args.dir) if args.dir else settings.demo_dir
    started = time.monotonic()
    reporter = BarReporter()
    path = generate_demo(target, seed=args.seed, progress=lambda d, t: reporter.update("demo images", d, t, "images"))
    reporter.close()
    print(f"Synthetic demo data written to {path.parent} in {time.monotonic() - started:.1f} s (annotations: {path.name})")
    return 0


def cmd_encoders(args: argparse.Namespace, settings: Settings) -> int:
    from mitoviz.encoders import encoder_status

    rows = [s.to_dict() for s in encoder_status(settings)]
    if args.json:
        _print_json(rows)
        return 0
    _table([{**r, "weights": r.get("location") if r["available"] else f"missing · {_first_url(r.get('how_to_get', ''))}"}
            for r in rows], ["name", "dim", "weights"])
    print("\n(--json for families, licences, file names and where mitoviz looks for weights)")
    return 0


def cmd_cache(args: argparse.Namespace, settings: Settings) -> int:
    from mitoviz.embed.store import EmbeddingStore

    store = EmbeddingStore(settings.embeddings_dir)
    if args.action == "list":
        rows = store.listing()
        if args.json:
            _print_json(rows)
        else:
            _table([{**r, "key": r["key"][:12], "MB": f"{r['bytes'] / 1e6:.1f}"} for r in rows],
                   ["key", "encoder", "dataset", "cells", "dim", "MB", "complete", "created"])
    elif args.action == "size":
        size = store.size_bytes()
        _print_json({"bytes": size}) if args.json else print(f"{size / 1e6:.1f} MB in {settings.embeddings_dir}")
    else:
        if not args.key and args.older_than is None and not args.all:
            raise MitovizError("`cache evict` needs --key, --older-than or --all.", "Say what to delete.")
        gone = store.evict(args.key or None, args.older_than)
        print(f"Evicted {len(gone)} embedding set(s).")
    return 0


def _spec(path: str):
    from mitoviz.experiment.spec import PRESETS, ExperimentSpec

    if path in PRESETS and not Path(path).exists():
        return PRESETS[path]
    return ExperimentSpec.from_toml(path)


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from mitoviz.experiment.run import run_experiment

    spec = _spec(args.spec)
    reporter = BarReporter()
    try:
        run = run_experiment(spec, settings, reporter, resume=args.resume)
    finally:
        reporter.close()
    print(f"Results in {run.root}")
    return 0


def cmd_runs(args: argparse.Namespace, settings: Settings) -> int:
    from mitoviz.results import ResultsStore

    rows = ResultsStore(settings.results_dir).listing()
    if args.json:
        _print_json(rows)
    else:
        for row in rows:
            planned = row.get("planned") or 0
            row["fits"] = f"{row['fits']}/{planned}" if planned and row["fits"] < planned else row["fits"]
        _table(rows, ["run_id", "status", "fits", "name", "created", "problem"], keep=("run_id", "status"))
    return 0


def cmd_compare(args: argparse.Namespace, settings: Settings) -> int:
    from mitoviz.report.compare import compare_lines, compare_run, paired_numbers
    from mitoviz.results import ResultsStore

    run = ResultsStore(settings.results_dir).get(args.run_id)
    options = {k: v for k, v in (("metric", args.metric), ("protocol", args.protocol),
                                 ("train_domain", args.trained_on), ("test_domain", args.tested_on)) if v}
    if args.tested_on:
        options["test_axis"] = args.test_axis or "dataset"
    table = compare_run(run, args.a, args.b, **options)
    if args.json:
        _print_json(paired_numbers(table).to_dict("records"))
        return 0
    from mitoviz import terminal

    for line in compare_lines(table):
        print(terminal.paragraph(line, indent="", hang="    "))
    return 0


def cmd_submit(args: argparse.Namespace, settings: Settings) -> int:
    from mitoviz.experiment.plan import prepare
    from mitoviz.jobs import submit

    spec = _spec(args.spec)
    prepare(spec, settings, Reporter())  # refuse here what the worker would (encoders, data, columns, budgets)
    job, created = submit(spec, settings, start_worker=not args.no_worker)
    print(job["id"])
    if not created:
        print(f"(the same experiment is already {job['state']})", file=sys.stderr)
    return 0


def cmd_jobs(args: argparse.Namespace, settings: Settings) -> int:
    from mitoviz.jobs import job_store
    from mitoviz.ui.jobs import where_it_is

    with job_store(settings) as store:
        jobs = store.list()
    if args.json:
        _print_json([{k: v for k, v in j.items() if k != "spec"} for j in jobs])
        return 0
    rows = []
    for j in jobs:
        rows.append({"id": j["id"], "name": j["name"], "state": j["state"], "progress": where_it_is(j),
                     "run": j.get("run_id") or "", "error": (j.get("error") or {}).get("what", "")})
    _table(rows, ["id", "name", "state", "progress", "run", "error"])
    return 0


def cmd_cancel(args: argparse.Namespace, settings: Settings) -> int:
    from mitoviz.jobs import job_store

    with job_store(settings) as store:
        job = store.cancel(args.job_id)
    print(f"{job['id']}: {'cancel requested' if job['state'] == 'running' else job['state']}")
    return 0


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    from mitoviz.jobs.worker import worker_loop

    idle = None if args.idle_exit < 0 else args.idle_exit
    worker_loop(args.slot, idle_exit_s=idle, max_jobs=1 if args.once else None)
    return 0


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    from mitoviz.experiment.bundle import export_bundle

    path = export_bundle(args.run_id, Path(args.target or "."), settings)
    print(path)
    return 0


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    from mitoviz.results import ResultsStore

    run = ResultsStore(settings.results_dir).import_bundle(Path(args.bundle))
    print(run.run_id)
    return 0


def cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    from mitoviz.check import check_home, repair

    report = check_home(settings)
    result: dict[str, Any] = {"home": str(settings.home), "summary": report.summary, "healthy": report.healthy,
                              "findings": [{"area": f.area, "what": f.what, "repairable": f.repair is not None}
                                           for f in report.findings]}
    lines = [f"mitoviz home {settings.home}"]
    lines += [f"  {area:<12} {text}" for area, text in report.summary.items()]
    lines += [f"  DAMAGED {f.area}: {f.what}" for f in report.findings]
    if report.findings and args.repair:
        quarantine, done = repair(report)
        after = check_home(settings)
        result.update(repaired=done, quarantine=str(quarantine.root) if quarantine.moved else None,
                      healthy=after.healthy)
        lines += [f"  {line}" for line in done]
        if quarantine.moved:
            lines.append(f"moved {len(quarantine.moved)} item(s) into {quarantine.root} (nothing was deleted)")
        lines.append("healthy now" if after.healthy else f"{len(after.findings)} problem(s) remain")
    elif report.findings:
        lines.append(f"{len(report.findings)} problem(s). `python -m mitoviz check --repair` moves what is damaged "
                     f"into {settings.home / 'quarantine'}/<timestamp>/ (nothing is deleted).")
    else:
        lines.append("healthy")
    _print_json(result) if args.json else print("\n".join(lines))
    return 0 if result["healthy"] else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mitoviz", description="The same operations as the app, from a terminal: python -m mitoviz COMMAND.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("datasets", help="dataset presets and whether each is found on disk")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_datasets)
    p = sub.add_parser("inspect", help="counts by class and domain; what was adjusted, skipped and merged")
    p.add_argument("path")
    p.add_argument("--strict", action="store_true", help="refuse rows the loader would adjust or skip")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_inspect)
    p = sub.add_parser("demo-data", help="write the synthetic demo data set (MIDOG format)")
    p.add_argument("dir", nargs="?")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_demo_data)
    p = sub.add_parser("encoders", help="encoders, their dimensions and where their weights are")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_encoders)
    p = sub.add_parser("cache", help="the embedding cache")
    p.add_argument("action", choices=["list", "size", "evict"])
    p.add_argument("--key", action="append", help="key (or prefix) to evict; repeatable")
    p.add_argument("--older-than", type=float, metavar="DAYS")
    p.add_argument("--all", action="store_true")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_cache)
    p = sub.add_parser("run", help="run an experiment (TOML file or preset name) in this process")
    p.add_argument("spec")
    p.add_argument("--resume", action="store_true", help="continue the latest unfinished run of this spec")
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("runs", help="stored runs")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_runs)
    p = sub.add_parser("compare", help="is method A really better than B? per budget: A − B and its interval")
    p.add_argument("run_id")
    p.add_argument("a", help="a method as the run names it (e.g. uni, e2e-resnet18, uni+lora)")
    p.add_argument("b")
    p.add_argument("--metric", default="", help="balanced_accuracy (default), auroc, f1, accuracy or kappa")
    p.add_argument("--protocol", default="", help="pooled (default), cross:scanner, …")
    p.add_argument("--trained-on", default="", help="the training domain of a cross/lodo protocol")
    p.add_argument("--tested-on", default="", help="a test domain (with --test-axis; default the dataset axis)")
    p.add_argument("--test-axis", default="", help="the axis of --tested-on (scanner, tumor_type, dataset, …)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_compare)
    p = sub.add_parser("submit", help="queue an experiment as a background job; prints the job id")
    p.add_argument("spec")
    p.add_argument("--no-worker", action="store_true", help="queue only; do not start a worker")
    p.set_defaults(func=cmd_submit)
    p = sub.add_parser("jobs", help="background jobs")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_jobs)
    p = sub.add_parser("cancel", help="cancel a job")
    p.add_argument("job_id")
    p.set_defaults(func=cmd_cancel)
    p = sub.add_parser("worker", help="run queued jobs (started by the app when needed)")
    p.add_argument("--slot", type=int, default=0)
    p.add_argument("--idle-exit", type=float, default=600.0, help="seconds idle before exiting; -1 never")
    p.add_argument("--once", action="store_true", help="run one job, then exit")
    p.set_defaults(func=cmd_worker)
    p = sub.add_parser("export", help="export a run as one bundle file")
    p.add_argument("run_id")
    p.add_argument("target", nargs="?")
    p.set_defaults(func=cmd_export)
    p = sub.add_parser("import", help="import a results bundle")
    p.add_argument("bundle")
    p.set_defaults(func=cmd_import)
    p = sub.add_parser("check", help="verify the home folder (job store, caches, runs); --repair moves damage aside")
    p.add_argument("--repair", action="store_true", help="move what is damaged into <home>/quarantine/<timestamp>/")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_check)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code = int(args.func(args, load_settings()) or 0)
        sys.stdout.flush()  # here, not at exit: a reader that went away (`| head`) is handled below
        return code
    except BrokenPipeError:
        # The reader closed the pipe: stop quietly, as `cat | head` does. Point stdout at /dev/null so the
        # interpreter's final flush of what is still buffered cannot fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a writer whose reader went away
    except MitovizError as exc:
        print(f"error: {exc.what}", file=sys.stderr)
        if exc.fix:
            print(f"  what to do: {exc.fix}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; finished work is kept (resume with --resume)", file=sys.stderr)
        return 130
