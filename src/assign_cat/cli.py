"""The assign-cat command line: parse options, run, turn errors into one line and an exit code."""

from __future__ import annotations

import argparse
import sys
from typing import Any, NoReturn

from assign_cat.plan import RunOptions
from labnb.errors import LabError
from labnb.scrub import scrub

EPILOG = """exit codes: 0 all products classified; 1 some products invalid/error (or budget exhausted);
2 bad usage, configuration or input (nothing run); 3 run aborted (authentication, quota); 130 interrupted."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, not usage + message
        self.exit(2, f"error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    defaults = RunOptions()
    p = _Parser(prog="run_assign_cat.py", description="Assign catalog products to a taxonomy category "
                "and subcategory with an LLM or the local model, recording everything in a run folder.",
                epilog=EPILOG)
    what = p.add_argument_group("what to classify (exactly one, unless continuing a run)")
    what.add_argument("--single-product", metavar="TITLE", help="classify one product title")
    what.add_argument("--input", metavar="FILE", help="products file: .csv, .tsv, .json or .jsonl")
    what.add_argument("--resume", metavar="RUN_DIR", help="finish an interrupted or crashed run in its folder")
    what.add_argument("--retry-failed", metavar="RUN_DIR", help="re-run the error/invalid products of a run")
    what.add_argument("--replay", metavar="RUN_DIR", help="run again from a run folder's own snapshot")
    how = p.add_argument_group("how")
    how.add_argument("--model", metavar="NAME", help="model alias from models.yaml (default: its 'default')")
    how.add_argument("--batch-size", type=int, metavar="N", help="products per model request (default 1)")
    how.add_argument("--concurrency", metavar="N|auto",
                     help="requests in flight: a number, or auto (default: start at 8, grow up to 64)")
    how.add_argument("--limit", type=int, metavar="N", help="only the first N products")
    how.add_argument("--timeout", type=float, metavar="SECONDS", help="per-request timeout (overrides models.yaml)")
    how.add_argument("--max-cost", type=float, metavar="USD", help="stop starting requests past this budget")
    how.add_argument("--explain", action="store_true", help="ask for a short reason per product (costs tokens)")
    how.add_argument("--dry-run", action="store_true", help="count tokens and project the cost; send nothing")
    how.add_argument("--compare-models", action="store_true", help="with --dry-run: a row for every model")
    how.add_argument("--batch-api", action="store_true",
                     help="submit to the provider's batch API (half price, within 24 h); collect with --resume")
    how.add_argument("--wait", action="store_true", help="with --batch-api: wait for the batches and collect them")
    where = p.add_argument_group("files")
    where.add_argument("--taxonomy", metavar="FILE", help=f"taxonomy XML (default {defaults.taxonomy})")
    where.add_argument("--models-config", metavar="FILE", help=f"models.yaml (default {defaults.models_config})")
    where.add_argument("--runs-dir", metavar="DIR", help=f"where run folders go (default {defaults.runs_dir})")
    return p


def _options(args: argparse.Namespace) -> RunOptions:
    given = {k: v for k, v in vars(args).items() if v is not None and k in RunOptions.__dataclass_fields__}
    if not args.explain:
        given.pop("explain", None)
    if "concurrency" in given:
        from labnb.concurrency import parse_concurrency

        given["concurrency"] = parse_concurrency(given["concurrency"])
    return RunOptions(**given)


def _dispatch(args: argparse.Namespace, command: list[str]) -> Any:  # a RunResult, or None after a dry run
    if args.wait and not args.batch_api and not args.resume:
        raise_usage("--wait only applies with --batch-api")
    continuing = [name for name in ("resume", "retry_failed", "replay") if getattr(args, name)]
    if len(continuing) > 1 or (continuing and (args.input or args.single_product)):
        raise_usage("--resume, --retry-failed and --replay each take a run folder and exclude the other inputs")
    from assign_cat import resume
    from assign_cat.plan import prepare
    from assign_cat.runner import run_new

    if args.resume or args.retry_failed:
        return resume.continue_run(args.resume or args.retry_failed, command, retry_failed=bool(args.retry_failed),
                                   batch_api=args.batch_api, wait=args.wait)
    if args.replay:
        return resume.replay(args.replay, command, model=args.model, runs_dir=args.runs_dir)
    if args.dry_run or args.compare_models:
        from assign_cat.dryrun import dry_run

        print(dry_run(prepare(_options(args), require_key=False), compare_models=args.compare_models))
        return None
    plan = prepare(_options(args))
    _warn_about_gold(plan)
    if args.batch_api:
        from assign_cat.batch_run import submit

        return submit(plan, command, wait=args.wait)
    return run_new(plan, command)


def _warn_about_gold(plan: Any) -> None:
    outside = plan.gold_outside_taxonomy()
    if outside:
        first = outside[0]
        print(f"warning: {len(outside)} products have gold labels that are not taxonomy ids, e.g. "
              f"{first.product_id}: ({first.expected_category}, {first.expected_subcategory}); "
              "they will be scored wrong", file=sys.stderr)


def raise_usage(message: str) -> NoReturn:
    from labnb.errors import UsageError

    raise UsageError(message)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    try:
        result = _dispatch(args, ["run_assign_cat.py", *argv])
    except LabError as exc:
        partial = getattr(exc, "result", None)
        if partial is not None:
            print(partial.summary_line)
        print(f"error: {scrub(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the run folder's errors.log has the detail
        print(f"error: internal error: {type(exc).__name__}: {scrub(str(exc))}", file=sys.stderr)
        return 1
    if result is None:  # a dry run printed its report
        return 0
    print(result.summary_line)
    return result.exit_code
