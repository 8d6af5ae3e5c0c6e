"""Wall time, CPU and tokens of the real CLI against a bare AsyncOpenAI loop, both talking to the fake API.

The fake API (tests/fakes/fakeapi.py) runs as a subprocess and answers every request after a fixed latency. For each
(batch size, concurrency) the real CLI classifies N products, then a bare loop sends the same request bodies
(rendered with RequestBuilder + OpenAIClient.request_params) with the same concurrency through
``chat.completions.create``: the "bare SDK" baseline. At the reference concurrency a second bare loop sends them
with ``client.post``, the CLI's own call path (byte-identical bodies; throughput_wire.py checks both on the wire).
Every run must answer all N products.
Both run as subprocesses, so CPU is measured the same way (getrusage(RUSAGE_CHILDREN) deltas); the fixed cost
of a process (interpreter, imports, run folder) is measured with a one-product run and subtracted.
Writes benchmarks/results.md.  Run: python benchmarks/throughput.py [--n 800] [--latency 0.2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from throughput_report import (
    MODEL,
    REFERENCE_CONCURRENCY,
    Fixed,
    Measure,
    Row,
    answer_tokens,
    best,
    report,
    token_rows,
)

ROOT = Path(__file__).resolve().parents[1]
FAKE = ROOT / "tests" / "fakes" / "fakeapi.py"
CLI = ROOT / "src" / "run_assign_cat.py"
OUT = ROOT / "benchmarks" / "results.md"
KEY = "bench-key-0123456789abcdef"


class FakeServer:
    """tests/fakes/fakeapi.py in its own process (its CPU is never counted as ours)."""

    def __init__(self, latency: float, extra: list[str] | None = None) -> None:
        self.latency, self.extra = latency, extra or []  # extra: e.g. the fake's --rate-* options

    def __enter__(self) -> FakeServer:
        cmd = [sys.executable, str(FAKE), "--port", "0", "--latency", str(self.latency), "--api-key", KEY, *self.extra]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        self.url = self.proc.stdout.readline().strip()  # type: ignore[union-attr]
        if not self.url.startswith("http"):
            raise RuntimeError(f"fake API did not start: {self.url!r}")
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and not k.endswith("_BASE_URL")}
        return {**env, "OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": f"{self.url}/v1"}


def timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[subprocess.CompletedProcess, float, float]:
    """Run ``cmd``; return it with its wall seconds and CPU seconds (user + system, with its own children)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    clock = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    wall = time.perf_counter() - clock
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return proc, wall, cpu


def cli_args(work: Path, runs: Path, batch: int, concurrency: int) -> list[str]:
    return [str(CLI), "--input", str(work / "products.csv"), "--taxonomy", str(work / "taxonomy.xml"),
            "--models-config", str(work / "models.yaml"), "--runs-dir", str(runs), "--model", MODEL,
            "--batch-size", str(batch), "--concurrency", str(concurrency)]


def run_cli(server: FakeServer, work: Path, batch: int, concurrency: int, expected: int,
            limit: int | None = None) -> Measure:
    """The real CLI over work/products.csv; fails unless all ``expected`` products came back ok."""
    runs = Path(tempfile.mkdtemp(prefix="runs-", dir=work))
    cmd = [sys.executable, *cli_args(work, runs, batch, concurrency)]
    proc, wall, cpu = timed(cmd + (["--limit", str(limit)] if limit else []), server.env())
    if proc.returncode != 0:
        raise RuntimeError(f"CLI exited {proc.returncode}: {proc.stderr[-2000:]}")
    (folder,) = [p for p in runs.iterdir() if p.is_dir()]
    summary = json.loads((folder / "metadata" / "run_summary.json").read_text())
    loop = sum(s["duration_seconds"] for s in summary["sessions"])
    if summary["counts"]["ok"] != expected:
        raise RuntimeError(f"CLI classified {summary['counts']} of {expected} products (want all ok): {folder}")
    usage = json.loads((folder / "outputs" / "token_usage.json").read_text())
    return Measure(wall, cpu, loop, summary["counts"]["ok"], usage, answer_tokens(folder))


def run_bare(server: FakeServer, requests: Path, concurrency: int, expected: int, via: str = "create") -> Measure:
    """The bare loop (this file with ``--bare``) over pre-rendered request bodies; all must be answered."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--bare", str(requests), "--concurrency", str(concurrency),
           "--via", via]
    proc, wall, cpu = timed(cmd, server.env())
    if proc.returncode != 0:
        raise RuntimeError(f"bare loop exited {proc.returncode}: {proc.stderr[-2000:]}")
    result = json.loads(proc.stdout)
    if result["products"] != expected:
        raise RuntimeError(f"bare loop ({via}) answered {result['products']} of {expected} products")
    return Measure(wall, cpu, result["loop"], result["products"])


def bare_main(path: Path, concurrency: int, via: str) -> None:
    """Pre-rendered requests sent with AsyncOpenAI and nothing else (subprocess mode).

    ``via`` create: ``chat.completions.create(**body)``, the obvious SDK loop; post: ``client.post`` with the body
    as is, the CLI's call path (it skips the SDK's per-request walk over the body).
    """
    import openai

    requests = json.loads(path.read_text(encoding="utf-8"))
    # Built before the clock starts, as the CLI builds its client before its run session starts.
    client = openai.AsyncOpenAI(max_retries=2, timeout=5)  # key and base URL from the environment
    if via == "post":
        from openai.types.chat import ChatCompletion

        async def send(params: dict) -> ChatCompletion:
            return await client.post("/chat/completions", body=params, cast_to=ChatCompletion,
                                     options={"security": {"bearer_auth": True}})
    else:
        async def send(params: dict) -> openai.types.chat.ChatCompletion:
            return await client.chat.completions.create(**params)

    async def go() -> int:
        source, answered = iter(requests), 0

        async def worker() -> None:
            nonlocal answered
            for params in source:
                completion = await send(params)
                answered += len(json.loads(completion.choices[0].message.content)["r"])

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        await client.close()
        return answered

    clock = time.perf_counter()
    answered = asyncio.run(go())
    print(json.dumps({"loop": time.perf_counter() - clock, "products": answered}))


if __name__ == "__main__" and "--bare" in sys.argv:  # keep the bare process free of our imports
    bare = argparse.ArgumentParser()
    bare.add_argument("--bare", type=Path)
    bare.add_argument("--concurrency", type=int)
    bare.add_argument("--via", choices=("create", "post"), default="create")
    bare_args = bare.parse_args()
    bare_main(bare_args.bare, bare_args.concurrency, bare_args.via)
    sys.exit(0)

sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests" / "fakes"))

import results_sections  # noqa: E402
from bench_inputs import default_source, machine_facts, names_taxonomy, write_products  # noqa: E402
from throughput_profile import section  # noqa: E402
from throughput_wire import wire_check  # noqa: E402


def prepare(work: Path, n: int, source: str, taxonomy: Path) -> None:
    """Products, taxonomy and a test models.yaml (no rpm/tpm limits) in ``work``."""
    from conftest import write_models_yaml

    write_products(work / "products.csv", n, source)
    (work / "taxonomy.xml").write_bytes(taxonomy.read_bytes())
    write_models_yaml(work / "models.yaml")


def render_requests(work: Path, batch: int) -> Path:
    """The exact request bodies the CLI sends at ``batch``, as a JSON list for the bare loop."""
    from assign_cat.products import load_products
    from assign_cat.task import AssignCat
    from labnb.clients.openai_client import OpenAIClient
    from labnb.clients.requests import RequestBuilder, batches
    from labnb.config import load_models_config

    entry = load_models_config(work / "models.yaml").get(MODEL)
    os.environ.setdefault("OPENAI_API_KEY", KEY)  # the client wants a key; nothing is sent from here
    client = OpenAIClient(entry)
    builder = RequestBuilder(entry, AssignCat(work / "taxonomy.xml"))
    bodies = [client.request_params(builder.build(group)) for group in batches(load_products(work / "products.csv"),
                                                                                batch)]
    path = work / f"requests-{batch}.json"
    path.write_text(json.dumps(bodies), encoding="utf-8")
    return path


def fixed_costs(latency: float, work: Path, requests: Path, repeat: int) -> Fixed:
    """CPU and wall of one-product processes (best of ``repeat``): what every run pays regardless of N."""
    first = work / "requests-first.json"  # one request only: parsing all N would inflate the fixed cost
    first.write_text(json.dumps(json.loads(requests.read_text(encoding="utf-8"))[:1]), encoding="utf-8")
    import_cpu, cli, bare, post = [], [], [], []
    with FakeServer(latency) as server:
        for _ in range(repeat):
            import_cpu.append(timed([sys.executable, "-c", "import openai"])[2])
            cli.append(run_cli(server, work, 1, 1, 1, limit=1))
            bare.append(run_bare(server, first, 1, 1))
            post.append(run_bare(server, first, 1, 1, via="post"))
    spread = max(max(m.cpu for m in ms) - min(m.cpu for m in ms) for ms in (cli, bare, post))
    return Fixed(min(import_cpu), min(m.cpu for m in cli), min(m.wall for m in cli),
                 min(m.cpu for m in bare), min(m.wall for m in bare), spread, min(m.cpu for m in post))


def profiles(latency: float, work: Path, requests: Path, concurrency: int) -> tuple[Path, Path]:
    """cProfile files of one CLI run and one bare-loop run at batch size 1."""
    ours, bare = work / "ours.prof", work / "bare.prof"
    runs = Path(tempfile.mkdtemp(prefix="runs-", dir=work))
    with FakeServer(latency) as server:
        for cmd in ([sys.executable, "-m", "cProfile", "-o", str(ours), *cli_args(work, runs, 1, concurrency)],
                    [sys.executable, "-m", "cProfile", "-o", str(bare), str(Path(__file__).resolve()), "--bare",
                     str(requests), "--concurrency", str(concurrency), "--via", "create"]):
            proc = subprocess.run(cmd, env=server.env(), capture_output=True, text=True, timeout=900)
            if proc.returncode != 0:
                raise RuntimeError(f"profiled run exited {proc.returncode}: {proc.stderr[-2000:]}")
    return ours, bare


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=800, help="products (default 800)")
    parser.add_argument("--latency", type=float, default=0.2, help="fake API response latency, seconds")
    parser.add_argument("--batch-sizes", default="1,10,20,50")
    parser.add_argument("--concurrency", default="1,8,16,32")
    parser.add_argument("--serial-batch-1", action="store_true",
                        help="also run concurrency 1 at batch size 1 (N x latency per arm: 2 x 160 s at the defaults)")
    parser.add_argument("--products", choices=("sports", "sample"), default=default_source())
    parser.add_argument("--taxonomy", type=Path, default=None, help="default benchmarks/data/taxonomy-20x133.xml")
    parser.add_argument("--runs", type=int, default=2, help="runs per setting and arm; the best is reported")
    parser.add_argument("--repeat", type=int, default=5, help="one-product runs for the fixed costs (best of)")
    parser.add_argument("--no-profile", dest="profile", action="store_false",
                        help="skip the cProfile runs at batch size 1 (about 50 s)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    sizes = [int(s) for s in args.batch_sizes.split(",")]
    levels = [int(c) for c in args.concurrency.split(",")]
    clock = time.perf_counter()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="throughput-") as tmp:
        work = Path(tmp)
        prepare(work, args.n, args.products, args.taxonomy or names_taxonomy())
        requests = {size: render_requests(work, size) for size in sizes}
        wire = wire_check(work, MODEL, sizes[0])
        fixed = fixed_costs(args.latency, work, requests.get(1) or render_requests(work, 1), args.repeat)
        for size in sizes:
            for level in levels:
                if size == 1 and level == 1 and not args.serial_batch_1:
                    continue
                ours_runs, bare_runs, post_runs = [], [], []
                for _ in range(args.runs):
                    with FakeServer(args.latency) as server:  # a fresh fake per set of runs: no state carried over
                        ours_runs.append(run_cli(server, work, size, level, args.n))
                        bare_runs.append(run_bare(server, requests[size], level, args.n))
                        if level == REFERENCE_CONCURRENCY:
                            post_runs.append(run_bare(server, requests[size], level, args.n, via="post"))
                ours, bare = best(ours_runs), best(bare_runs)
                rows.append(Row(size, level, ours, bare, best(post_runs) if post_runs else None))
                print(f"batch {size:>2} concurrency {level:>2}: ours {ours.wall:6.2f}s (loop {ours.loop:6.2f}s) "
                      f"bare {bare.wall:6.2f}s (loop {bare.loop:6.2f}s)", flush=True)
        tokens = token_rows(work, rows, args.n)
        profile = []
        if args.profile and 1 in requests:
            ours_prof, bare_prof = profiles(args.latency, work, requests[1], REFERENCE_CONCURRENCY)
            profile = section(ours_prof, bare_prof, args.n)
    text = report(args, rows, fixed, tokens, profile, wire, machine_facts(), time.perf_counter() - clock)
    results_sections.write(args.out, main=text)  # keeps the rate-limit section (throughput_limits.py)
    print(text)


if __name__ == "__main__":
    main()
