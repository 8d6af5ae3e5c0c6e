"""How the fake API (tests/fakes/fakeapi.py) reads a request and decides its answer.

Understands the prompts of assign-cat's prompt files (src/assign_cat/prompts/): the taxonomy rendered in the
system prompt, numbered product lines in the user turn, and the answer schema: a subcategory number ``k`` (the
current format, `Category name` lines with `  k: Subcategory name` lines) or ``c``/``s`` id enums.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

CATEGORY_RE = re.compile(r"^([a-z0-9]+(?:-[a-z0-9]+)*): ")
SUBCATEGORY_RE = re.compile(r"^  ([a-z0-9]+(?:-[a-z0-9]+)*): ")
PRODUCT_RE = re.compile(r"^(\d+)\. (.*)$")
CODE_RE = re.compile(r"^  (\d+): (.*?)(?: - .*)?$")
INVALID_LABEL = "made-up"
WHY = "fake reason"


@dataclass
class Parsed:
    """The parts of a chat request that matter to the fake."""

    provider: str
    model: str
    system: str
    user: str
    schema: dict[str, Any] | None = None
    tool_name: str | None = None
    cache_control: bool = False
    cache_ttl: str = "5m"


def block_text(content: Any) -> str:
    """Text of a message ``content``: a string or a list of blocks with ``text``."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(b.get("text", "") for b in content if isinstance(b, dict))
    return ""


def parse_openai(body: dict[str, Any]) -> Parsed:
    messages = body.get("messages") or []
    system = "".join(block_text(m.get("content")) for m in messages if m.get("role") in ("system", "developer"))
    user = "".join(block_text(m.get("content")) for m in messages if m.get("role") == "user")
    fmt = body.get("response_format") or {}
    schema = (fmt.get("json_schema") or {}).get("schema") if fmt.get("type") == "json_schema" else None
    return Parsed("openai", str(body.get("model", "")), system, user, schema)


def parse_anthropic(body: dict[str, Any]) -> Parsed:
    system_param = body.get("system") or ""
    blocks = system_param if isinstance(system_param, list) else []
    marks = [b["cache_control"] for b in blocks if isinstance(b, dict) and b.get("cache_control")]
    if body.get("cache_control"):
        marks.append(body["cache_control"])
    user = "".join(block_text(m.get("content")) for m in body.get("messages") or [] if m.get("role") == "user")
    parsed = Parsed("anthropic", str(body.get("model", "")), block_text(system_param), user,
                    cache_control=bool(marks), cache_ttl=str(marks[0].get("ttl", "5m")) if marks else "5m")
    tools = [t for t in body.get("tools") or [] if isinstance(t, dict) and "input_schema" in t]
    if tools:
        wanted = (body.get("tool_choice") or {}).get("name")
        tool = next((t for t in tools if t.get("name") == wanted), tools[0])
        parsed.schema, parsed.tool_name = tool["input_schema"], tool["name"]
    else:
        fmt = (body.get("output_config") or {}).get("format") or {}
        parsed.schema = fmt.get("schema") if fmt.get("type") == "json_schema" else None
    return parsed


def parse_taxonomy(system: str) -> list[tuple[str, list[str]]]:
    """(category id, [subcategory ids]) in prompt order, from `cat-id: Name` / `  sub-id: Name` lines."""
    out: list[tuple[str, list[str]]] = []
    for line in system.splitlines():
        sub = SUBCATEGORY_RE.match(line)
        if sub and out:
            out[-1][1].append(sub.group(1))
            continue
        cat = CATEGORY_RE.match(line)
        if cat:
            out.append((cat.group(1), []))
    return [(c, subs) for c, subs in out if subs]


def product_titles(user: str) -> list[tuple[int, str]]:
    """(number, title) of every `N. Title | field: value` line."""
    out = []
    for line in user.splitlines():
        m = PRODUCT_RE.match(line)
        if m:
            out.append((int(m.group(1)), m.group(2).split(" | ")[0]))
    return out


def _item_properties(schema: dict[str, Any] | None) -> dict[str, Any]:
    try:
        return schema["properties"]["r"]["items"]["properties"]  # type: ignore[index]
    except (KeyError, TypeError):
        return {}


def label_pairs(parsed: Parsed) -> list[tuple[str, str]]:
    """Valid (c, s) pairs in schema enum order; the taxonomy of the system prompt decides validity."""
    props = _item_properties(parsed.schema)
    c_enum = list(props.get("c", {}).get("enum", []))
    s_enum = list(props.get("s", {}).get("enum", []))
    taxonomy = parse_taxonomy(parsed.system)
    if not taxonomy:
        return [(c, s) for c in c_enum for s in s_enum]
    pairs = [(c, s) for c, subs in taxonomy for s in subs
             if (not c_enum or c in c_enum) and (not s_enum or s in s_enum)]
    c_rank = {c: i for i, c in enumerate(c_enum)}
    s_rank = {s: i for i, s in enumerate(s_enum)}
    return sorted(pairs, key=lambda p: (c_rank.get(p[0], 0), s_rank.get(p[1], 0)))


def oracle(title: str, pairs: list[tuple[str, str]]) -> tuple[str, str]:
    """The pair with most id words (ids split on '-') that are whole words of the lower-cased title; ties -> first."""
    title_words = set(re.findall(r"[a-z0-9]+", title.lower()))

    def score(pair: tuple[str, str]) -> int:
        return sum(w in title_words for w in pair[0].split("-") + pair[1].split("-"))

    return max(pairs, key=score) if pairs else (INVALID_LABEL, INVALID_LABEL)


def parse_codes(system: str) -> list[tuple[int, str]]:
    """(k, "category name subcategory name") of every numbered subcategory line, in prompt order."""
    out, category = [], ""
    for line in system.splitlines():
        code = CODE_RE.match(line)
        if code:
            out.append((int(code.group(1)), f"{category} {code.group(2)}"))
        elif line and not line.startswith(" "):
            category = line.split(" - ")[0]
    return out


def coded_answer(parsed: Parsed, labels: dict[str, tuple[str, str]], default: tuple[str, str] | None,
                 fault_kind: str | None, variant: str, pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """The answer in the subcategory-number format: labels map through ``pairs``, else a name-word oracle."""
    codes = parse_codes(parsed.system)
    why = "why" in _item_properties(parsed.schema)

    def by_names(title: str) -> int:
        words = set(re.findall(r"[a-z0-9]+", title.lower()))
        return max(codes, key=lambda c: sum(w in words for w in re.findall(r"[a-z0-9]+", c[1].lower())))[0]

    rows: list[dict[str, Any]] = []
    for n, title in product_titles(parsed.user):
        pair = labels.get(title) or default
        k = pairs.index(pair) + 1 if pair in pairs else (by_names(title) if codes else 1)
        rows.append({"n": n, "k": k, **({"why": WHY} if why else {})})
    if fault_kind == "invalid_label" and rows:
        rows[0]["k"] = len(codes) + 100
    elif fault_kind == "missing_product" and rows:
        rows.pop()
    elif fault_kind == "schema_violation":
        if variant == "wrong_types":
            return {"r": [{"n": str(r["n"]), "k": [r["k"]]} for r in rows]}
        return {"result": rows}
    return {"r": rows}


def answer(parsed: Parsed, labels: dict[str, tuple[str, str]], default: tuple[str, str] | None,
           fault_kind: str | None = None, variant: str = "",
           taxonomy_pairs: list[tuple[str, str]] | None = None) -> dict[str, Any]:
    """The answer object ``{"r": [...]}``, possibly damaged by an answer-level fault."""
    if "k" in _item_properties(parsed.schema):
        return coded_answer(parsed, labels, default, fault_kind, variant, taxonomy_pairs or [])
    pairs = label_pairs(parsed)
    why = "why" in _item_properties(parsed.schema)
    rows: list[dict[str, Any]] = []
    for n, title in product_titles(parsed.user):
        c, s = labels.get(title) or default or oracle(title, pairs)
        rows.append({"n": n, "c": c, "s": s, **({"why": WHY} if why else {})})
    if fault_kind == "invalid_label" and rows:
        rows[0]["c"], rows[0]["s"] = _invalid(rows[0]["c"], pairs, variant)
    elif fault_kind == "missing_product" and rows:
        rows.pop()
    elif fault_kind == "schema_violation":
        if variant == "wrong_types":
            return {"r": [{"n": str(r["n"]), "c": [r["c"]], "s": None} for r in rows]}
        return {"result": rows}
    return {"r": rows}


def _invalid(c: str, pairs: list[tuple[str, str]], variant: str) -> tuple[str, str]:
    if variant == "mismatch":
        own = {s for cat, s in pairs if cat == c}
        other = next((s for cat, s in pairs if cat != c and s not in own), None)
        if other:
            return c, other
    return INVALID_LABEL, INVALID_LABEL


def dumps(obj: Any) -> str:
    """Compact JSON, as models emit it; token counts are computed from this text."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def tokens(text: str) -> int:
    return max(1, len(text) // 4)
