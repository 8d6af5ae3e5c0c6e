"""The command line every task shares: common options, dispatch, one line and an exit code for every error."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any, NoReturn

from labnb.errors import LabError, UsageError
from labnb.pacing.concurrency import parse_concurrency
from labnb.run.result import EXIT_INTERRUPTED, RunResult
from labnb.store import runlock
from labnb.store.scrub import keep_typed_paths
from labnb.task import Task
from labnb.terminal import console

EPILOG = """exit codes: 0 all {items} classified; 1 some {items} invalid/error (or budget exhausted);
2 bad usage, configuration or input (nothing run); 3 run aborted (authentication, quota); 130 interrupted."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, not usage + message
        self.exit(2, f"error: {message} (see --help)\n")


def build_parser(task_class: type[Task], *, prog: str, description: str | None = None) -> argparse.ArgumentParser:
    """The parser of a task's entry: the task's own options and every framework option; the description is
    the task's docstring unless given."""
    if description is None:
        description = " ".join((task_class.__doc__ or "").split())
    defaults = task_class.options_class()
    noun = task_class.item_noun
    p = _Parser(prog=console.invoked_as(prog), description=description, epilog=EPILOG.format(items=f"{noun}s"))
    what = p.add_argument_group("what to classify (exactly one, unless continuing a run)")
    files = p.add_argument_group("files")
    task_class.add_arguments(what, files)
    what.add_argument("--input", metavar="FILE", help=f"{noun}s file: .csv, .tsv, .json, .jsonl or .xlsx")
    what.add_argument("--resume", metavar="RUN_DIR", help="finish an interrupted or crashed run in its folder")
    what.add_argument("--retry-failed", metavar="RUN_DIR", help=f"re-run the error/invalid {noun}s of a run")
    what.add_argument("--replay", metavar="RUN_DIR", help="run again from a run folder's own snapshot")
    what.add_argument("--fields", metavar="A,B", help="exactly the extra columns offered to the model, LLM or local "
                      "(default: all but label-like ones; \"\" offers none)")
    how = p.add_argument_group("how")
    how.add_argument("--model", metavar="NAME", help="model alias from models.yaml (default: its 'default')")
    how.add_argument("--batch-size", type=int, metavar="N", help=f"{noun}s per model request (default 1)")
    how.add_argument("--concurrency", metavar="N|auto",
                     help="requests in flight: a number, or auto (default: start at 8, grow up to 64)")
    how.add_argument("--limit", type=int, metavar="N", help=f"only the first N {noun}s")
    how.add_argument("--timeout", type=float, metavar="SECONDS",
                     help="deadline for each model call as a whole, retries included (overrides models.yaml)")
    how.add_argument("--max-cost", type=float, metavar="USD", help="stop starting requests past this budget")
    how.add_argument("--explain", action="store_true", help=f"ask for a short reason per {noun} (costs tokens)")
    how.add_argument("--dry-run", action="store_true", help="count tokens and project the cost; send nothing")
    how.add_argument("--compare-models", action="store_true", help="with --dry-run: a row for every model")
    how.add_argument("--batch-api", action="store_true",
                     help="submit to the provider's batch API (half price, within 24 h); collect with --resume")
    how.add_argument("--wait", action="store_true", help="with --batch-api: wait for the batches and collect them")
    how.add_argument("--engine", choices=("process", "ray"),
                     help="--model local on a large input, streamed part by part: in this process, or as a Ray "
                          "Data pipeline (pip install '.[ray]'); outputs past 1M rows are Parquet parts")
    how.add_argument("--ray-address", metavar="ADDR", help="with --engine ray: join this cluster (default "
                     "RAY_ADDRESS, else a local Ray on this machine's cores)")
    how.add_argument("--part-rows", type=int, metavar="N", help="with --engine: rows per part (default 10000)")
    how.add_argument("--no-cache", action="store_true",
                     help="send every request: no answer from the response cache, none kept in it")
    how.add_argument("--tag", dest="tags", action="append", metavar="NAME",
                     help="a label for this run, shown by analyze_runs (repeatable)")
    how.add_argument("--note", metavar="TEXT", help="a free-text note recorded with the run")
    shots = p.add_argument_group("prompt and examples")
    shots.add_argument("--prompt", metavar="FILE", help="a prompt file (YAML, Jinja2 templates) replacing the "
                       "built-in prompt; copy the task's own (a run's inputs/prompt_templates.json names it: "
                       "prompt_file)")
    shots.add_argument("--show-prompt", action="store_true", help="with --dry-run: print the first request")
    shots.add_argument("--examples", metavar="FILE", help=f"labelled {noun}s (input format with gold columns): "
                       "few-shot examples for LLMs, training data for --model local")
    shots.add_argument("--shots", type=int, metavar="K", help="examples per request (default 3 with --examples)")
    shots.add_argument("--shot-selection", choices=("knn", "random", "fixed"),
                       help="knn: the K nearest per item (default); random: K seeded by --seed; fixed: the first K, "
                            "in the cached prefix")
    shots.add_argument("--seed", type=int, metavar="N", help="seed of --shot-selection random (default 0)")
    cascade = p.add_argument_group("cascade")
    cascade.add_argument("--escalate-to", metavar="ALIAS", help=f"send the {noun}s the model is unsure of to ALIAS")
    cascade.add_argument("--escalate-below", type=float, metavar="P",
                         help="with --escalate-to: escalate when the first model's confidence is below P")
    files.add_argument("--models-config", metavar="FILE", help=f"models.yaml (default {defaults.models_config})")
    files.add_argument("--runs-dir", metavar="DIR", help=f"where run folders go (default {defaults.runs_dir})")
    files.add_argument("--cache-db", metavar="FILE",
                       help="the response cache (default RUNS_DIR/.cache/responses.sqlite)")
    return p


def entry(task_class: type[Task], *, prog: str, description: str | None = None) -> tuple[
        Callable[[], argparse.ArgumentParser], Callable[..., int]]:
    """``(build_parser, main)`` of a task's command line, for its thin ``cli`` module."""

    def build() -> argparse.ArgumentParser:
        return build_parser(task_class, prog=prog, description=description)

    def run(argv: list[str] | None = None) -> int:
        return main(task_class(), build(), argv)

    return build, run


def options_of(task_class: type[Task], args: argparse.Namespace) -> Any:
    """The task's options from the parsed command line (unset options keep their defaults)."""
    cls = task_class.options_class
    given = {k: v for k, v in vars(args).items() if v is not None and k in cls.__dataclass_fields__}
    for flag in ("explain", "no_cache"):
        if not getattr(args, flag, False):
            given.pop(flag, None)
    if "tags" in given:
        given["tags"] = tuple(given["tags"])
    if "concurrency" in given:
        given["concurrency"] = parse_concurrency(given["concurrency"])
    return cls(**given)


# What a continued run may change: a resumed run stays the same experiment, so only how fast and how much it
# may spend; a replay is a new experiment from the same snapshot, so anything but its inputs.
RESUME_ALLOWED = frozenset({"max_cost", "concurrency", "timeout", "ray_address", "no_cache"})
REPLAY_ALLOWED = frozenset({"model", "batch_size", "concurrency", "limit", "timeout", "max_cost", "explain",
                            "runs_dir", "tags", "note", "shots", "shot_selection", "seed", "escalate_to",
                            "escalate_below", "no_cache", "cache_db"})
MODES = frozenset({"resume", "retry_failed", "replay", "dry_run", "compare_models", "batch_api", "wait",
                   "show_prompt"})


def _given(args: argparse.Namespace) -> dict[str, Any]:
    """The options the user gave (not the defaults argparse filled in)."""
    return {k: v for k, v in vars(args).items() if v not in (None, False, [])}


def _refuse_on_continue(args: argparse.Namespace, allowed: frozenset[str], what: str, why: str) -> None:
    refused = sorted(set(_given(args)) - allowed - MODES)
    if refused:
        flags = ", ".join("--" + name.replace("_", "-") for name in refused)
        raise UsageError(f"{what} does not take {flags}: {why}")


def dispatch(task: Task, args: argparse.Namespace, command: list[str]) -> RunResult | None:
    """Run what the command line asks; None after a dry run (which printed its report)."""
    if args.wait and not args.batch_api and not args.resume:
        raise UsageError("--wait only applies with --batch-api")
    single = task.options_class.single_option()
    continuing = [name for name in ("resume", "retry_failed", "replay") if getattr(args, name)]
    if len(continuing) > 1 or (continuing and (args.input or (single and getattr(args, single)))):
        raise UsageError("--resume, --retry-failed and --replay each take a run folder and exclude the other inputs")
    if continuing and args.concurrency is not None:  # checked and recorded as a new run records it (2, not "2")
        args.concurrency = parse_concurrency(args.concurrency)
    from labnb.run import resume
    from labnb.run.plan import prepare

    if not (args.engine or continuing or args.dry_run or args.compare_models):
        from labnb.scale.engine import auto_engine

        args.engine = auto_engine(task, options_of(type(task), args))
        if args.engine:
            console.warn(f"{args.input}: streamed part by part in this process (--engine process: a Parquet input "
                         "or one past 64 MiB)")
    if (args.ray_address or args.part_rows is not None) and not (args.engine or args.resume):
        raise UsageError("--ray-address and --part-rows apply with --engine")
    if args.engine and not (args.resume or args.retry_failed or args.replay or args.dry_run):
        from labnb.scale.engine import run_streamed

        return run_streamed(task, options_of(type(task), args), command)
    if args.resume and not args.engine:
        from labnb.scale.engine import is_streamed, resume_streamed
        from labnb.store.runfolder import RunFolder

        folder = RunFolder.open(args.resume)
        if is_streamed(folder):
            _refuse_on_continue(args, RESUME_ALLOWED, "--resume", "it continues the same experiment")
            return resume_streamed(task, folder.lock(), command, concurrency=args.concurrency,
                                   ray_address=args.ray_address)
    if args.engine:
        raise UsageError("--engine starts a new run; a streamed run is resumed with --resume RUN_DIR alone")
    if args.resume or args.retry_failed:
        flag = "--resume" if args.resume else "--retry-failed"
        _refuse_on_continue(args, RESUME_ALLOWED, flag, "it continues the same experiment (only --max-cost, "
                            "--concurrency and --timeout may change); start a new one with --replay RUN_DIR")
        if args.dry_run or args.compare_models:
            raise UsageError(f"{flag} does not take --dry-run: price the rest of a run with --replay RUN_DIR --dry-run")
        return resume.continue_run(task, args.resume or args.retry_failed, command,
                                   retry_failed=bool(args.retry_failed), batch_api=args.batch_api, wait=args.wait,
                                   max_cost=args.max_cost, concurrency=args.concurrency, timeout=args.timeout)
    if args.replay:
        _refuse_on_continue(args, REPLAY_ALLOWED, "--replay", "a replay runs on the run folder's own snapshot")
        given = _given(args)
        overrides = {k: given[k] for k in REPLAY_ALLOWED if k in given}
        plan = resume.replay_plan(task, args.replay, **overrides)
        if args.dry_run or args.compare_models:
            _dry_run(plan, args)
            return None
    elif args.dry_run or args.compare_models:
        _dry_run(prepare(task, options_of(type(task), args), require_key=False), args)
        return None
    else:
        if args.show_prompt:
            raise UsageError("--show-prompt only applies with --dry-run")
        plan = prepare(task, options_of(type(task), args))
    warn(plan)
    if args.batch_api:
        from labnb.run.batch_run import submit

        return submit(plan, command, wait=args.wait)
    from labnb.run.runner import run_new

    return run_new(plan, command)


def _dry_run(plan: Any, args: argparse.Namespace) -> None:
    from labnb.run.dryrun import dry_run

    warn(plan)
    if args.show_prompt:
        from labnb.clients.requests import first_request_text

        for line in first_request_text(plan).splitlines():
            print(console.safe(line))
    for line in dry_run(plan, compare_models=args.compare_models).splitlines():
        print(console.safe(line))


def warn(plan: Any) -> None:
    """Warnings about the inputs: gold labels that cannot be scored, examples that overlap the input."""
    prompting = plan.task.prompting
    for warning in (plan.task.gold_warning(plan.items), prompting and prompting.warning(plan.task.item_noun)):
        if warning:
            console.warn(warning)


def single_answer(task: Task, args: argparse.Namespace, result: RunResult) -> str:
    """The answer of a one-item run (``--single-...``), as a line for the terminal; empty otherwise."""
    single = task.options_class.single_option()
    if not (single and getattr(args, single, None)):
        return ""
    from labnb.store.logs import read_csv_rows

    rows = read_csv_rows(result.folder.file("outputs/classifications.csv"))
    if not rows:
        return ""
    row = rows[0]
    if row.get("status") != "ok":
        return f"{row.get(task.text_column, '')}: {row.get('status')} ({row.get('error_type')})"
    confidence = f" (confidence {float(row['confidence']):.2f})" if row.get("confidence") else ""
    return f"{row.get(task.text_column, '')} → {task.answer_text(row)}{confidence}"


def main(task: Task, parser: argparse.ArgumentParser, argv: list[str] | None = None) -> int:
    """Parse, run, print the summary line; every expected error is one line on stderr and an exit code."""
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    keep_typed_paths(argv)  # a path the user typed is printed as typed, never redacted
    try:
        result = dispatch(task, args, [parser.prog, *argv])
    except LabError as exc:
        partial = getattr(exc, "result", None)
        if partial is not None:
            print(console.safe(partial.summary_line))
        console.error(exc)
        return exc.exit_code
    except KeyboardInterrupt:
        console.error("interrupted")
        return EXIT_INTERRUPTED
    except Exception as exc:  # the run folder's errors.log has the detail
        console.error(f"internal error: {type(exc).__name__}: {exc}")
        return 1
    finally:
        runlock.release_all()
    if result is None:  # a dry run printed its report
        return 0
    answer = single_answer(result.task or task, args, result)
    if answer:
        print(console.safe(answer))
    print(console.safe(result.summary_line))
    return result.exit_code
