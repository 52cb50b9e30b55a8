"""Rendering report documents with the Jinja templates of reports/.

A template is named KIND.FORMAT.j2 (run.html.j2, compare.md.j2, ...). HTML is
autoescaped; in Markdown every value is escaped too, by the environment's finalize hook,
so a template cannot forget to: only Markup (the output of the md_cell filter, or
chart SVG) passes unchanged.
"""

import difflib
import html
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from evaltool import display
from evaltool.config import data_dir
from evaltool.errors import EvaltoolError

FORMATS = {".html": "html", ".htm": "html", ".md": "md", ".markdown": "md"}

# Characters with a meaning inside a line of GitHub-flavoured Markdown, backslash-escaped
# in values (after HTML escaping has made entities of <, > and &). Values never start a
# line, so list and heading markers at a line's start need no escape. Model text, test-case
# ids and run names also get ":" (autolinks, emoji) and "@" escaped, inside <code>.
_MD_SPECIAL = frozenset("\\`*_[]|#!~")
_MD_MODEL_TEXT = _MD_SPECIAL | {":", "@"}
# The units of word_diff: words, runs of punctuation, runs of white space.
_TOKEN = re.compile(r"\w+|[^\w\s]+|\s+")


def format_of(path: Path) -> str:
    """html or md, from a file name's extension."""
    try:
        return FORMATS[path.suffix.lower()]
    except KeyError:
        raise EvaltoolError(
            f"{path}: cannot tell the format from its extension (use .html or .md)"
        ) from None


def render(kind: str, fmt: str, document: dict[str, Any], template_dir: Path | None = None) -> str:
    """Render `document` with the template KIND.FORMAT.j2; templates in template_dir are
    used before the built-in ones of the same name."""
    try:
        template = environment(fmt, template_dir).get_template(f"{kind}.{fmt}.j2")
        return template.render(doc=document, generated_at=datetime.now(UTC))
    except jinja2.TemplateNotFound as exc:
        raise EvaltoolError(f"no report template {exc.name}") from exc
    except jinja2.TemplateError as exc:
        where = (
            f"{exc.filename}:{exc.lineno}: " if isinstance(exc, jinja2.TemplateSyntaxError) else ""
        )
        raise EvaltoolError(f"report template error: {where}{exc}") from exc


def environment(fmt: str, template_dir: Path | None = None) -> jinja2.Environment:
    """The Jinja environment of one output format, with evaltool's filters."""
    paths = [str(template_dir)] if template_dir else []
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([*paths, str(data_dir("reports"))]),
        autoescape=fmt == "html",
        finalize=md_escape if fmt == "md" else _blank_none,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        num=display.number,
        pct=display.percent,
        signed=display.signed,
        count=display.count,
        cost=display.cost,
        ms=display.milliseconds,
        pvalue=display.pvalue,
        when=display.when,
        duration=display.duration,
        text=as_text,
        clip=clip,
        pretty=pretty_json,
        md_cell=md_cell,
        word_diff=word_diff,
    )
    env.globals.update(scale=scale, bounds=bounds)
    return env


def _blank_none(value: Any) -> Any:
    return "" if value is None else value


def md_escape(value: Any, special: frozenset[str] = _MD_SPECIAL) -> Any:
    """A value made inert in GitHub Markdown: HTML escaped, Markdown punctuation
    backslash-escaped, line breaks as spaces. Markup passes unchanged."""
    if isinstance(value, Markup):
        return value
    text = " ".join(("" if value is None else str(value)).split())
    return "".join("\\" + ch if ch in special else ch for ch in html.escape(text, quote=False))


def md_cell(value: Any, width: int = 200) -> Markup:
    """Model input or output, or a name someone chose (a test-case id, a run name), for
    Markdown: escaped, clipped to `width` characters, inside <code> so GitHub makes no
    mentions (@name), issue links (#12) or emoji of it."""
    return Markup(f"<code>{md_escape(clip(as_text(value), width), _MD_MODEL_TEXT)}</code>")


def word_diff(text: str, baseline: str | None, width: int = 2000) -> list[tuple[str, str]]:
    """`text` (clipped to `width` characters) as pieces against `baseline`, word by word:
    (same, ...) as in the baseline, (added, ...) in its place, (removed, ...) where the
    baseline had words that `text` dropped, and (more, "… (N more characters)") when it was
    clipped; a text with little in common with the baseline is added whole. Plain strings:
    the template escapes each piece as it marks it."""
    tokens = _TOKEN.findall(text[:width])
    old = _TOKEN.findall((baseline or "")[:width])
    pieces: list[tuple[str, str]] = []

    def add(kind: str, words: list[str]) -> None:
        if not words:
            return
        if pieces and pieces[-1][0] == kind:
            pieces[-1] = (kind, pieces[-1][1] + "".join(words))
        else:
            pieces.append((kind, "".join(words)))

    matcher = difflib.SequenceMatcher(None, old, tokens, autojunk=False)
    # an answer with little in common with the baseline's is all new: striking out the
    # whole baseline beside it would only double the text
    opcodes = (
        matcher.get_opcodes() if matcher.ratio() >= 0.3 else [("insert", 0, 0, 0, len(tokens))]
    )
    for op, a1, a2, b1, b2 in opcodes:
        if op == "equal":
            add("same", tokens[b1:b2])
            continue
        if op in ("replace", "delete") and "".join(old[a1:a2]).strip():
            add("removed", old[a1:a2])
        add("added", tokens[b1:b2])
    if len(text) > width:
        pieces.append(("more", f"… ({len(text) - width:,} more characters)"))
    return pieces


def as_text(value: Any) -> str:
    """A JSON value as text: strings as they are, anything else as compact JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def pretty_json(value: Any) -> str:
    """A JSON value for a <pre> block: strings as they are, anything else indented."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, indent=2)


def clip(text: str, width: int) -> str:
    """At most `width` characters, saying how many were left out."""
    if len(text) <= width:
        return text
    return f"{text[:width]}… ({len(text) - width:,} more characters)"


def scale(value: float, low: float, high: float, pixels: float) -> float:
    """Position of value on an axis from low (0) to high (pixels)."""
    if high <= low:
        return 0.0
    return round((value - low) / (high - low) * pixels, 2)


def bounds(
    values: list[Any], include: tuple[float, ...] = (), symmetric: bool = False
) -> tuple[float, float]:
    """The ends of an axis that shows every value and those of `include`; centred on
    zero when symmetric."""
    seen = [float(v) for v in values if v is not None] + list(include)
    low, high = (min(seen), max(seen)) if seen else (0.0, 1.0)
    if symmetric:
        half = max(abs(low), abs(high)) or 1.0
        return -half, half
    return (low, high) if high > low else (low, low + 1.0)
