"""Message templates: Jinja2 in a sandbox, one file per template and locale, with the blocks
`subject`, `text` and `html`. A missing variable is an error (StrictUndefined), so a broken
template fails the test suite instead of a customer's message."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined, select_autoescape
from jinja2.sandbox import SandboxedEnvironment

FOLDER = Path(__file__).parent / "templates"
LOCALES = ("en", "de")
DEFAULT_LOCALE = "en"

_env = SandboxedEnvironment(
    loader=FileSystemLoader(FOLDER),
    undefined=StrictUndefined,
    autoescape=select_autoescape(default=False, default_for_string=False, enabled_extensions=()),
    keep_trailing_newline=False,
)
_html_env = SandboxedEnvironment(loader=FileSystemLoader(FOLDER), undefined=StrictUndefined, autoescape=True)


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def _block(env: SandboxedEnvironment, name: str, block: str, variables: dict[str, Any]) -> str:
    template = env.get_template(name)
    return "".join(template.blocks[block](template.new_context(variables))).strip()


def render(template: str, locale: str, variables: dict[str, Any]) -> Rendered:
    locale = locale if locale in LOCALES else DEFAULT_LOCALE
    name = f"{template}.{locale}.jinja"
    return Rendered(
        subject=_block(_env, name, "subject", variables),
        text=_block(_env, name, "text", variables),
        html=_block(_html_env, name, "html", variables),  # values are HTML-escaped here
    )


def available() -> list[tuple[str, str]]:
    """Every (template, locale) pair on disk."""
    pairs = []
    for path in FOLDER.glob("*.jinja"):
        template, locale = path.name.removesuffix(".jinja").rsplit(".", 1)
        pairs.append((template, locale))
    return sorted(pairs)
