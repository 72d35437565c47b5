"""The site's pages: an executed notebook, or Markdown, as a self-contained HTML page
(``lthlib.apps.site`` builds the site from them).

Self-contained pages. A page loads nothing from outside the site folder, so the site reads the
same offline (a classroom without internet) and on a learning platform that blocks third-party
scripts:

- Maths is typeset at build time: every ``$...$``, ``$$...$$`` and ``\\begin{...}`` of the
  Markdown (cells, Markdown outputs, ``text/latex`` outputs, the syllabus) becomes MathML with
  ``latex2mathml`` (pure Python, pinned in requirements.txt), which browsers lay out natively
  (Chromium 109+, Firefox, Safari). This replaces nbconvert's MathJax 2.7.7 from a CDN. A local
  MathJax copy was the alternative (``jupyter-server-mathjax`` ships MathJax 2.7 files); it
  was not chosen because it typesets in the browser with a script (no maths where scripts are
  blocked), ships ~10 MB and 600 files per site, and that copy has only the STIX-Web fonts and
  no CommonHTML output, so nbconvert's MathJax configuration would have to be rewritten. With
  MathML a formula latex2mathml cannot read is found at build time: it is logged, shown as its
  TeX source, and a test converts every formula of the course's notebooks.
- No require.js, no widget manager, no mermaid: the page template drops those scripts.
  Widgets are not embedded: a saved widget state has no kernel behind it, so its sliders
  would move and change nothing (an explorer only redraws stored results from Python). The
  static figure before each explorer carries the content (GUIDE: Widgets); a widget output
  shows a note to open the notebook in Jupyter (headless builds already print one).
- Each page is titled with its notebook's first heading.
- The build's folders stay out of what readers see: the injected parameters cell loses its
  path lines (RESULTS_DIR, FIGURES_DIR, CLAIMS_FILE: the notebook's own defaults apply when
  a reader runs the downloaded copy), papermill's metadata names the notebook, not the
  build's files, and any other mention of the build's folders reads ``<build folder>``.
"""
from __future__ import annotations

import ast
import copy
import html
import re

import jinja2
from latex2mathml.converter import convert as _latex2mathml
from nbconvert import HTMLExporter
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 72rem;
       margin: 0 auto; padding: 0 1.5rem 3rem; line-height: 1.5; color: #222; }
nav.lthlib-nav { padding: 0.8rem 0; border-bottom: 1px solid #ddd; margin-bottom: 1.2rem; }
nav.lthlib-nav a { margin-right: 1.2rem; text-decoration: none; font-weight: 600; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { border: 1px solid #ccc; padding: 0.35rem 0.6rem; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
.failed { color: #b00; font-weight: 600; }
.note { background: #fff8e0; border-left: 4px solid #e0b000; padding: 0.5rem 0.8rem; }
figure { display: inline-block; margin: 0.6rem; vertical-align: top; max-width: 30rem; }
figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-size: 0.9rem; color: #555; }
pre { background: #f6f6f6; padding: 0.6rem; overflow-x: auto; }
code { background: #f6f6f6; padding: 0 0.2rem; }
"""

# MathML is laid out by the browser with a maths font: the first one the reader's system has.
MATH_CSS = """
math { font-family: "STIX Two Math", "Cambria Math", "Latin Modern Math", "DejaVu Math TeX Gyre", math; }
math[display="block"] { margin: 0.6em 0; }
code.lthlib-tex { color: #a00; }
"""
WIDGET_NOTE = "(an explorer: open this notebook in Jupyter to use it)"
TEMPLATE_NAME = "lthlib-site.html.j2"
# nbconvert's lab template without the scripts it loads from CDNs (require.js, MathJax, the
# widget manager, mermaid); the site's navigation and maths CSS added.
TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block extra_css -%}<style type="text/css">{{ resources.lthlib_css }}</style>{%- endblock extra_css -%}
{%- block body_header -%}{{ super() }}{{ resources.lthlib_nav }}{%- endblock body_header -%}
"""


def notebook_title(nb, fallback: str) -> str:
    """The text of the notebook's first Markdown heading (plain text: no emphasis marks, maths
    as the characters of its MathML), else ``fallback``."""
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            m = re.match(r"\s*#{1,6}\s+(.+?)\s*#*\s*$", line)
            if m:
                parts = re.split(r"(\$[^$]+\$)", m.group(1))
                return "".join(_plain_math(part[1:-1]) if i % 2 else re.sub(r"[*_`]", "", part)
                               for i, part in enumerate(parts)).strip()
    return fallback


def _plain_math(tex: str) -> str:
    try:
        return html.unescape(re.sub(r"<[^>]+>", "", tex_to_mathml(tex)))
    except Exception:  # as typed
        return tex


# --------------------------------------------------------------------------- maths


# Two quirks of latex2mathml 3.81, fixed in the TeX it is given: ``\sim`` becomes the identifier
# "~" (no space around the relation), and in display maths ``\max_{a}`` a subscript where TeX
# sets the limit underneath.
_SIM = re.compile(r"\\sim(?![A-Za-z])")
_LIMITS = re.compile(r"\\(max|min|lim|sup|inf|limsup|liminf)(?![A-Za-z])\s*(?=_)")


def tex_to_mathml(tex: str, display: bool = False) -> str:
    """LaTeX maths (without its ``$`` delimiters) as a MathML ``<math>`` element, which the
    browser typesets itself; raises if latex2mathml cannot read it."""
    tex = _SIM.sub(r"\\thicksim", tex.strip())
    if display:
        tex = _LIMITS.sub(r"\\\1\\limits", tex)
    return _latex2mathml(tex, display="block" if display else "inline")


class MathMLRenderer(IPythonRenderer):
    """nbconvert's Markdown renderer with the maths typeset as MathML at build time, instead of
    left as TeX for MathJax to typeset in the browser. A formula latex2mathml cannot read is
    shown as its TeX source and recorded in ``failures``."""

    def __init__(self, *args, failures: list[str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.failures = [] if failures is None else failures

    def _math(self, tex: str, display: bool, delimiter: str) -> str:
        try:
            return tex_to_mathml(tex, display)
        except Exception as exc:  # a third-party parser of arbitrary TeX: whatever it raises
            self.failures.append(f"{tex.strip()!r} ({type(exc).__name__}: {exc})")
            return f'<code class="lthlib-tex">{self.escape_html(delimiter + tex + delimiter)}</code>'

    def inline_math(self, body: str) -> str:
        return self._math(body, False, "$")

    def block_math(self, body: str) -> str:
        return self._math(body, True, "$$")

    def latex_environment(self, name: str, body: str) -> str:
        return self._math(f"\\begin{{{name}}}{body}\\end{{{name}}}", True, "")

    def heading(self, text: str, level: int, **attrs) -> str:
        """nbconvert's heading with its anchor, added through ElementTree, which writes the
        MathML of a heading as ``ns0:math`` (an unknown element to a browser): unprefixed."""
        html_ = super().heading(text, level, **attrs)
        for prefix in re.findall(r'\sxmlns:(\w+)="http://www.w3.org/1998/Math/MathML"', html_):
            html_ = re.sub(rf'\sxmlns:{prefix}="[^"]*"', "", html_)
            html_ = re.sub(rf"<(/?){prefix}:", r"<\1", html_)
        return html_


def markdown_to_html(text: str, failures: list[str] | None = None) -> str:
    """Markdown -> HTML with nbconvert's own Markdown parser (mistune), maths as MathML."""
    return MarkdownWithMath(renderer=MathMLRenderer(escape=False, failures=failures)).render(text)


class SiteExporter(HTMLExporter):
    """nbconvert's lab HTML exporter for the site: no script from outside the page (see the
    module doc), the maths of Markdown as MathML. ``math_failures`` lists the formulas left
    as TeX."""

    def __init__(self, **kwargs):
        super().__init__(template_name="lab", template_file=TEMPLATE_NAME,
                         extra_loaders=[jinja2.DictLoader({TEMPLATE_NAME: TEMPLATE})],
                         mathjax_url="", require_js_url="", **kwargs)
        self.math_failures: list[str] = []

    @jinja2.pass_context
    def markdown2html(self, context, source):
        """As nbconvert's filter, with ``MathMLRenderer``."""
        cell = context.get("cell", {})
        renderer = MathMLRenderer(
            escape=False, attachments=cell.get("attachments", {}), embed_images=self.embed_images,
            path=context.get("resources", {}).get("metadata", {}).get("path", ""),
            anchor_link_text=self.anchor_link_text, exclude_anchor_links=self.exclude_anchor_links,
            failures=self.math_failures, **self.lexer_options)
        return MarkdownWithMath(renderer=renderer).render(source)


def _latex_output_to_mathml(latex: str) -> str | None:
    """A ``text/latex`` output (``$...$``, ``$$...$$``, ``\\[...\\]``, ``\\(...\\)`` or an
    environment) as MathML; None when it is not a formula or latex2mathml cannot read it."""
    m = re.fullmatch(r"\s*(\$\$|\$|\\\[|\\\()(.*?)(\$\$|\$|\\\]|\\\))\s*", latex, re.DOTALL)
    tex, display = (m.group(2), m.group(1) in ("$$", "\\[")) if m else (latex, True)
    if not m and not latex.lstrip().startswith("\\begin{"):
        return None
    try:
        return tex_to_mathml(tex, display)
    except Exception:  # left as it was: the page shows its TeX
        return None


# --------------------------------------------------------------------------- what readers see


def _is_path(value) -> bool:
    return isinstance(value, str) and ("/" in value or "\\" in value or value.startswith("~"))


def _without_path_parameters(source: str) -> str:
    """The injected parameters cell without its assignments of paths (the build's folders)."""
    kept, hidden = [], []
    for line in source.splitlines():
        m = re.match(r"\s*([A-Za-z_]\w*)\s*=\s*(.+?)\s*$", line)
        if m:
            try:
                value = ast.literal_eval(m.group(2))
            except (ValueError, SyntaxError):
                value = None
            if _is_path(value):
                hidden.append(m.group(1))
                continue
        kept.append(line)
    if hidden:
        kept += [f"# {', '.join(hidden)}: the build's own folders, left out",
                 "# (the defaults above apply when you run this notebook)"]
    return "\n".join(kept)


def replace_in_strings(node, hide: dict[str, str]):
    """``node`` (a string, or lists and dicts of them) with every folder of ``hide`` replaced by
    its value."""
    if isinstance(node, str):
        for folder, placeholder in hide.items():
            node = node.replace(folder, placeholder)
        return node
    if isinstance(node, list):
        return [replace_in_strings(item, hide) for item in node]
    if isinstance(node, dict):
        return type(node)((key, replace_in_strings(value, hide)) for key, value in node.items())
    return node


def for_readers(nb, stem: str, hide: dict[str, str]):
    """A copy of an executed notebook without the build's folders: the injected parameters
    cell without its path lines, papermill's metadata naming ``notebooks/<stem>.ipynb`` and no
    path parameter, and every other mention of a folder of ``hide`` replaced by its value."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if "injected-parameters" in cell.get("metadata", {}).get("tags", []):
            cell.source = _without_path_parameters(cell.source)
    papermill = nb.metadata.get("papermill")
    if papermill:
        for key in ("input_path", "output_path"):
            if papermill.get(key):
                papermill[key] = f"notebooks/{stem}.ipynb"
        for key in ("parameters", "default_parameters"):
            if isinstance(papermill.get(key), dict):
                papermill[key] = {k: v for k, v in papermill[key].items() if not _is_path(v)}
    return replace_in_strings(nb, {k: v for k, v in hide.items() if k})


def for_page(nb, title: str):
    """The reader's copy as the page shows it: titled, widgets replaced by a note (no widget
    manager is loaded, see the module doc), ``text/latex`` formulas as MathML."""
    nb = copy.deepcopy(nb)
    nb.metadata["title"] = title
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            data = output.get("data")
            if not data:
                continue
            if "application/vnd.jupyter.widget-view+json" in data:
                output["data"] = {"text/plain": WIDGET_NOTE}
            elif "text/latex" in data and "text/html" not in data:
                latex = data["text/latex"]
                mathml = _latex_output_to_mathml(latex if isinstance(latex, str) else "".join(latex))
                if mathml:
                    data["text/html"] = mathml
    return nb


def nav_html(prefix: str = "") -> str:
    return (f'<nav class="lthlib-nav"><a href="{prefix}index.html">Notebooks</a>'
            f'<a href="{prefix}course.html">Syllabus</a><a href="{prefix}gallery.html">Gallery</a></nav>')


def page_html(title: str, body: str) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{html.escape(title)}</title>\n<style>{CSS}{MATH_CSS}</style>\n</head>\n<body>\n"
            f"{nav_html()}\n{body}\n</body>\n</html>\n")


def notebook_html(nb, pages_nav: str) -> tuple[str, list[str]]:
    """The page of one notebook (as ``for_page`` prepared it) and the formulas left as TeX."""
    exporter = SiteExporter()
    nav = f'<div style="padding:0.6rem 1rem;font-family:sans-serif">{pages_nav}</div>'
    body, _ = exporter.from_notebook_node(nb, resources={"lthlib_nav": nav, "lthlib_css": MATH_CSS})
    return body, exporter.math_failures
