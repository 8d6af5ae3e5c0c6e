"""Loading, checking and rendering a prompt file; every problem is one line naming the file and line.

A prompt file is YAML with two Jinja2 templates, ``system`` (the cached prefix) and ``user``
(one batch), and optionally a ``description``. Templates run in an immutable sandbox with
undefined variables as errors, so a prompt file can neither reach Python nor silently drop a value,
and under size and work limits (labnb.prompting.limits), so it can neither fill the memory nor run for hours.
"""

from __future__ import annotations

import hashlib
import traceback
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from labnb.errors import InputError
from labnb.inputs.files import read_input
from labnb.prompting.variables import SYSTEM_VARIABLES, USER_VARIABLES

if TYPE_CHECKING:  # jinja2 itself is imported when a prompt file is read: runs without one never pay for it
    from jinja2 import Template, nodes

PARTS = ("system", "user")
OPTIONAL_KEYS = ("description",)
MAX_PROMPT_BYTES = 1024 * 1024
ANSWER_FORMAT = "answer_format"
SEPARATOR = "\n\n"  # between a template that leaves out {{ answer_format }} and the appended format


@dataclass
class PromptFile:
    """A checked prompt file: its exact bytes, the two template sources and where they start in the file."""

    path: Path
    raw: bytes
    sources: dict[str, str]
    first_lines: dict[str, int]  # file line of each template's first line
    appends_answer_format: bool
    _templates: dict[str, Template] = field(default_factory=dict, repr=False)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()

    def render_system(self, variables: Mapping[str, Any]) -> str:
        """The system prompt; the answer format is appended when neither template uses it."""
        text = self._render("system", variables)
        if self.appends_answer_format:
            text += SEPARATOR + str(variables[ANSWER_FORMAT])
        return text

    def render_user(self, variables: Mapping[str, Any]) -> str:
        return self._render("user", variables)

    def file_line(self, part: str, template_line: int) -> int:
        return self.first_lines[part] + max(template_line, 1) - 1

    def _render(self, part: str, variables: Mapping[str, Any]) -> str:
        from labnb.prompting.limits import render

        try:
            return render(self._templates[part], dict(variables))
        except Exception as exc:  # UndefinedError, SecurityError, TypeError…: the template's fault
            line = _template_line(exc, _marker(self.path, part))
            where = f"line {self.file_line(part, line)}: " if line else ""
            raise InputError(f"{self.path}: {where}{part} template: {_message(exc)}") from None


def load_prompt_file(path: str | Path, *, extra_variables: Iterable[str] = ()) -> PromptFile:
    """Read and check ``path``: YAML shape, template syntax, and that every variable used is known."""
    from jinja2 import FunctionLoader, StrictUndefined, TemplateSyntaxError, meta

    from labnb.prompting.limits import LimitedSandbox

    path = Path(path)
    raw = read_input(path, "prompt file", max_bytes=MAX_PROMPT_BYTES)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError(f"{path}: line {line}: not UTF-8; re-save the file as UTF-8") from None
    sources, first_lines = _parse_yaml(path, text)
    extras = frozenset(extra_variables)
    known = {"system": SYSTEM_VARIABLES | extras, "user": USER_VARIABLES | extras}
    env = LimitedSandbox(
        undefined=StrictUndefined, keep_trailing_newline=True, autoescape=False,
        loader=FunctionLoader(lambda name: (sources[name], _marker(path, name), lambda: True)),
    )
    used: set[str] = set()
    prompt = PromptFile(path, raw, sources, first_lines, appends_answer_format=False)
    for part in PARTS:
        try:
            ast = env.parse(sources[part])
        except TemplateSyntaxError as exc:
            raise InputError(f"{path}: line {prompt.file_line(part, exc.lineno)}: {part} template: "
                             f"syntax error: {exc.message}") from None
        names = meta.find_undeclared_variables(ast)
        _check_names(prompt, part, ast, names - known[part], known[part])
        used |= names
    prompt.appends_answer_format = ANSWER_FORMAT not in used
    prompt._templates = {part: env.get_template(part) for part in PARTS}
    return prompt


def _parse_yaml(path: Path, text: str) -> tuple[dict[str, str], dict[str, int]]:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 1
        raise InputError(f"{path}: line {line}: not valid YAML: {exc.problem}") from None
    if not isinstance(root, yaml.MappingNode):
        raise InputError(f"{path}: line 1: a prompt file is a mapping with 'system' and 'user' templates")
    sources, first_lines = {}, {}
    for key, value in root.value:
        name = key.value if isinstance(key, yaml.ScalarNode) else str(key.value)
        if name not in PARTS + OPTIONAL_KEYS:
            raise InputError(f"{path}: line {key.start_mark.line + 1}: unknown key '{name}' "
                             f"(expected {', '.join(PARTS + OPTIONAL_KEYS)})")
        if not isinstance(value, yaml.ScalarNode) or value.tag != "tag:yaml.org,2002:str":
            raise InputError(f"{path}: line {value.start_mark.line + 1}: '{name}' must be a text")
        if name in PARTS:
            sources[name] = value.value
            # A block scalar (| or >) starts on the line after its indicator.
            first_lines[name] = value.start_mark.line + 1 + (1 if value.style in ("|", ">") else 0)
    missing = [p for p in PARTS if p not in sources]
    if missing:
        raise InputError(f"{path}: line 1: missing '{missing[0]}' template")
    return sources, first_lines


def _check_names(prompt: PromptFile, part: str, ast: nodes.Template, unknown: set[str], known: frozenset[str]) -> None:
    from jinja2 import nodes

    if not unknown:
        return
    first = min((n.lineno, n.name) for n in ast.find_all(nodes.Name) if n.name in unknown)
    line, name = first
    where = f"{prompt.path}: line {prompt.file_line(part, line)}: {part} template"
    if part == "system" and name in USER_VARIABLES:
        raise InputError(f"{where}: '{name}' is only available in the user template (the system prompt is the "
                         "cached prefix, the same for every request)")
    raise InputError(f"{where}: unknown variable '{name}' (known: {', '.join(sorted(known))})")


def _marker(path: Path, part: str) -> str:
    return f"{path}#{part}"


def _template_line(exc: BaseException, marker: str) -> int:
    """The template line of the innermost traceback frame that jinja attributes to the template."""
    lines = [frame.lineno or 0 for frame in traceback.extract_tb(exc.__traceback__) if frame.filename == marker]
    return lines[-1] if lines else 0


def _message(exc: BaseException) -> str:
    from jinja2 import TemplateError

    if isinstance(exc, TemplateError):
        return exc.message or type(exc).__name__
    return f"{type(exc).__name__}: {exc}"
