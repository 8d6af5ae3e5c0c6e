"""Prompt files: YAML with Jinja2 ``system`` and ``user`` templates, rendered in a sandbox."""

from labnb.prompting.files import PromptFile, load_prompt_file
from labnb.prompting.variables import SYSTEM_VARIABLES, USER_VARIABLES, answer_format_text

__all__ = ["SYSTEM_VARIABLES", "USER_VARIABLES", "PromptFile", "answer_format_text", "load_prompt_file"]
