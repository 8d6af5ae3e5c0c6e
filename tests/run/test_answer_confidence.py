"""Confidence from OpenAI logprobs, through the real SDK against the fake server's real wire format."""

from __future__ import annotations

import asyncio

from assign_cat.products import Product
from assign_cat.task import AssignCat
from assign_cat.taxonomy import load_taxonomy
from conftest import ROOT
from labnb.answers import answer_schema
from labnb.answers.confidence import choice_probabilities, confidences_by_item
from labnb.clients import create_client
from labnb.clients.base import ChatRequest
from labnb.config import load_models_config

TAXONOMY = load_taxonomy(ROOT / "config" / "taxonomy.xml")
PRODUCTS = [Product("a", "Zinc Picolinate 50 mg"), Product("b", "Whey Protein Isolate"), Product("c", "CLA Softgels")]


def ask(cli, alias: str, logprobs: bool):
    entry = load_models_config(cli.models).get(alias)
    request = ChatRequest(AssignCat(TAXONOMY).render_system(), AssignCat(TAXONOMY).render_user(PRODUCTS),
                          answer_schema(TAXONOMY.codes), logprobs=logprobs)

    async def call():
        client = create_client(entry)
        try:
            return await client.generate(request)
        finally:
            await client.aclose()

    return asyncio.run(call())


def test_openai_answer_token_probabilities_become_confidences(cli, fake_api):
    fake_api.answer_probabilities = {"Zinc Picolinate 50 mg": 0.8, "CLA Softgels": 0.35}
    response = ask(cli, "gpt4o_mini", logprobs=True)
    assert fake_api.requests[-1]["json"]["logprobs"] is True
    assert "".join(token for token, _ in response.token_logprobs) == response.text
    assert confidences_by_item(response.data, response.token_logprobs) == {1: 0.8, 2: 0.99, 3: 0.35}


def test_no_logprobs_unless_asked_and_none_from_anthropic(cli, fake_api):
    response = ask(cli, "gpt4o_mini", logprobs=False)
    assert "logprobs" not in fake_api.requests[-1]["json"]
    assert response.token_logprobs == ()
    assert confidences_by_item(response.data, response.token_logprobs) == {}
    anthropic = ask(cli, "haiku", logprobs=True)
    assert "logprobs" not in fake_api.requests[-1]["json"]
    assert anthropic.data is not None and anthropic.token_logprobs == ()


def test_a_number_spread_over_tokens_sums_their_logprobs():
    tokens = [('{"', 0.0), ("r", 0.0), ('":[{"', 0.0), ("n", 0.0), ('":', 0.0), ("1", 0.0), (',"', 0.0), ("k", 0.0),
              ('":', 0.0), ("123", -0.5), ("4", -0.25), ('}]}', 0.0)]
    assert choice_probabilities(tokens) == [0.472367]
