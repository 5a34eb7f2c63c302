"""HTML that shows what a student wrote: feedback pages and formgrader's view of a submission.

A student writes Markdown (answer cells, and any cell they add or edit) and may leave HTML or SVG
outputs; all of it is shown to the student's own browser in the feedback and to the instructor's
in formgrader. ``nbgrader_config.py`` plugs in two pieces for every ``HTMLExporter`` nbgrader
makes (``generate_feedback``'s and formgrader's):

- ``markdown2html`` replaces nbconvert's filter of that name: it renders Markdown as nbconvert does,
  formulas as MathML (browsers show it natively, so formulas render offline, with no MathJax from a
  CDN), then cleans the HTML with bleach against an allow-list: no ``<script>``, ``<iframe>`` or
  ``<style>``, no ``on*`` attribute, no ``javascript:`` or ``data:`` link. Markup outside the list
  is shown as text, so an instructor sees what was tried.
- ``SanitizeOutputs`` is nbconvert's own ``SanitizeHTML`` preprocessor for code cells' outputs:
  HTML and Markdown outputs cleaned by bleach, SVG, JavaScript and other active types dropped.
  (Markdown cells are left to the filter: bleach on Markdown source would garble formulas and
  quotes, and a Markdown link to ``javascript:`` only becomes HTML when rendered.)
"""

from __future__ import annotations

from html import escape

import bleach
import latex2mathml.converter
from jinja2 import pass_context
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath
from nbconvert.preprocessors.sanitize import SanitizeHTML

MATHML_TAGS = {
    "math", "mrow", "mi", "mo", "mn", "ms", "mtext", "mspace", "msup", "msub", "msubsup", "mfrac", "msqrt",
    "mroot", "mstyle", "mover", "munder", "munderover", "mtable", "mtr", "mtd", "mpadded", "mphantom",
    "menclose", "semantics", "annotation",
}
HTML_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "em", "strong", "b", "i", "u", "s", "del", "sub", "sup",
    "code", "pre", "kbd", "blockquote", "ul", "ol", "li", "dl", "dt", "dd", "a", "img", "table", "thead",
    "tbody", "tr", "th", "td", "div", "span", "abbr", "details", "summary",
}
ATTRIBUTES = {
    "*": ["class", "id", "title"],
    "a": ["href", "title"],
    "img": ["src", "alt", "title", "width", "height"],
    "th": ["align"], "td": ["align"],
    "math": ["xmlns", "display"],
    "mo": ["stretchy", "fence", "separator", "lspace", "rspace", "form"],
    "mi": ["mathvariant"], "mstyle": ["displaystyle", "scriptlevel", "mathvariant"],
    "mspace": ["width"], "mfrac": ["linethickness"], "mtd": ["columnalign"], "mtable": ["columnalign"],
}
PROTOCOLS = {"http", "https", "mailto"}


def clean(html: str) -> str:
    """``html`` with everything outside the allow-list escaped (shown as text, never run)."""
    return bleach.clean(html, tags=HTML_TAGS | MATHML_TAGS, attributes=ATTRIBUTES, protocols=PROTOCOLS,
                        strip=False, strip_comments=True)


def mathml(latex: str, display: str) -> str:
    """A formula as MathML; one latex2mathml cannot read stays visible as its source."""
    try:
        return latex2mathml.converter.convert(latex, display=display)
    except Exception:  # any malformed formula a student types: show it, never fail the page
        return f"<code>{escape(latex)}</code>"


class MathMLRenderer(IPythonRenderer):
    """nbconvert's Markdown renderer, with formulas rendered to MathML instead of left for MathJax."""

    def inline_math(self, body: str) -> str:
        return mathml(body, "inline")

    def block_math(self, body: str) -> str:
        return mathml(body, "block")

    def latex_environment(self, name: str, body: str) -> str:
        return mathml(f"\\begin{{{name}}}{body}\\end{{{name}}}", "block")


@pass_context
def markdown2html(context, source: str) -> str:
    """The ``markdown2html`` Jinja filter: Markdown to clean HTML with MathML formulas."""
    cell = context.get("cell", {}) or {}
    path = context.get("resources", {}).get("metadata", {}).get("path", "")
    renderer = MathMLRenderer(escape=False, attachments=cell.get("attachments", {}), path=path)
    return clean(MarkdownWithMath(renderer=renderer).render(source))


class SanitizeOutputs(SanitizeHTML):
    """nbconvert's ``SanitizeHTML`` for code cells' outputs (Markdown cells: see ``markdown2html``)."""

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "markdown":
            return cell, resources
        return super().preprocess_cell(cell, resources, index)
