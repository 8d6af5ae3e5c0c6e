"""A run where every call failed says why on the terminal, and its latency never feeds a dry run's estimate."""

from __future__ import annotations

import re
import socket

from conftest import write_models_yaml


def unused_port() -> int:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_run_where_every_call_failed_says_why_and_is_not_a_latency_basis(cli, tmp_path):
    port = unused_port()
    models = write_models_yaml(tmp_path / "m.yaml", gpt4o_mini={"base_url": f"http://127.0.0.1:{port}/v1",
                                                                "max_retries": 0})
    result = cli("--input", "data/sample_products.csv", "--limit", "3", models_config=models)
    assert result.code == 1
    line = result.out.strip().splitlines()[-1]
    reason = (f"3 failed (3 × connection error: could not reach http://127.0.0.1:{port}/v1/chat/completions: "
              "APIConnectionError: Connection error. (ConnectError); see outputs/errors.log)")
    assert line.startswith(f"completed_with_errors: 0 classified, {reason} | accuracy 0.0% | 0 tokens | "
                           "$0.000000 | "), line
    assert f"could not reach http://127.0.0.1:{port}/v1/chat/completions" in (
        result.run_dir / "outputs" / "errors.log").read_text()
    failed_run = result.run_dir.name
    # The next dry run of that model does not take the failed run's (fast) error latency as its basis
    dry = cli("--input", "data/sample_products.csv", "--dry-run", models_config=models)
    assert dry.code == 0, dry.err
    assert failed_run not in dry.out
    assert "a typical latency of" in dry.out and "(no earlier run)" in dry.out


def test_the_reason_names_the_commonest_failure_and_counts_the_others():
    from labnb.run.finalize import why_failed

    rows = [{"status": "error", "error_type": "timeout", "error": "APITimeoutError: Request timed out."}] * 2 + [
        {"status": "invalid", "error_type": "", "error": "answer names no subcategory\nsecond line"}]
    assert why_failed(rows) == (" (2 × timeout: APITimeoutError: Request timed out., and 1 other reason; "
                                "see outputs/errors.log)")
    assert why_failed(rows[2:]) == " (1 × invalid answer: answer names no subcategory; see outputs/errors.log)"
    assert why_failed([*rows, {"status": "ok"}]) == ""  # some answers: the table and errors.log tell the rest
    assert re.fullmatch(r" \(1 × server error: x{159}…; see outputs/errors.log\)",
                        why_failed([{"status": "error", "error_type": "server_error", "error": "x" * 500}]))
