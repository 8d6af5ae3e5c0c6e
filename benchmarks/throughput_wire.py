"""Do the CLI and the bare loop of benchmarks/throughput.py put the same request on the wire? (checked once per run)

The CLI sends a rendered body with the SDK's low-level ``client.post``; the bare loop passes the same dict either to
``chat.completions.create`` (which rebuilds it in its own key order) or to ``client.post``. All three go to an
in-process fake API that keeps the raw bytes; the bodies are compared byte for byte and as JSON.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

from fakeapi import FakeAPIServer

KEY = "wire-check-key"


class _Recording(FakeAPIServer):
    """The test fake, also keeping every request body as received."""

    def __init__(self) -> None:
        super().__init__(api_key=KEY)
        self.raw: list[bytes] = []

    def handle(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> Any:
        self.raw.append(raw)
        return super().handle(method, target, headers, raw)


def wire_check(work: Path, model: str, batch: int) -> str:
    """One markdown sentence: how the two bodies of the first request at ``batch`` compare."""
    import openai
    from openai.types.chat import ChatCompletion

    from assign_cat.products import load_products
    from assign_cat.task import AssignCat
    from labnb.clients.openai_client import OpenAIClient
    from labnb.clients.requests import RequestBuilder, batches
    from labnb.config import load_models_config

    entry = load_models_config(work / "models.yaml").get(model)
    request = RequestBuilder(entry, AssignCat(work / "taxonomy.xml")).build(
        batches(load_products(work / "products.csv"), batch)[0])
    saved = {k: os.environ.get(k) for k in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
    with _Recording() as server:
        os.environ.update(OPENAI_API_KEY=KEY, OPENAI_BASE_URL=f"{server.url}/v1")
        try:
            async def sends() -> None:
                ours = OpenAIClient(entry)
                await ours.generate(request)
                params = ours.request_params(request)
                await ours.aclose()
                async with openai.AsyncOpenAI() as bare:
                    await bare.chat.completions.create(**params)
                    await bare.post("/chat/completions", body=params, cast_to=ChatCompletion,
                                    options={"security": {"bearer_auth": True}})

            asyncio.run(sends())
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    cli, create, post = server.raw
    return f"Checked on the wire at batch size {batch}: bare `create` {_compare(cli, create)}; bare `post` " \
           f"{_compare(cli, post)}."


def _compare(cli: bytes, other: bytes) -> str:
    if cli == other:
        return f"byte-identical to the CLI's body ({len(cli):,} bytes)"
    mine, theirs = json.loads(cli), json.loads(other)
    how = "equal as JSON" if mine == theirs else "DIFFERENT as JSON"
    return (f"{how} to the CLI's body ({len(cli):,} vs {len(other):,} bytes) but not byte-identical: "
            f"keys in the order {list(theirs)} instead of {list(mine)}")
