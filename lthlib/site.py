"""A static course site: the executed notebooks as HTML, a figure gallery, the syllabus.

``python -m lthlib.site --out DIR [--scale smoke|quick] [--executed DIR] [--only 01,02]``

Without ``--executed`` every notebook is executed with papermill, one at a time (so the
torch threads of one training process at a time use the cores; see ``lthlib.threads``),
at the given scale, into a temporary folder with its own results store (``--results DIR``
reuses a store instead). With ``--executed DIR`` the notebooks are taken as they are from
a folder of executed notebooks, e.g. the ``--out`` of ``python -m lthlib run`` (its
``notebooks/`` and ``figures/<notebook>/``); that is how a paper-scale site is built.

``DIR`` receives:

- ``index.html``: the notebook table (number, title read from each notebook's first
  heading, how it was executed, its figures), links to every page;
- ``NN_slug.html``: each executed notebook converted by nbconvert, and the executed
  ``notebooks/NN_slug.ipynb`` for download;
- ``gallery.html``: every saved figure (``figures/NN_slug/*.png``, written by the
  notebooks through their ``FIGURES_DIR`` parameter), grouped by notebook;
- ``course.html``: ``docs/course.md`` (the syllabus) rendered with nbconvert's Markdown
  filter (no extra dependency); its links to notebooks point at their pages.

The exit status is non-zero when a notebook fails; its page is still written (with the
error in it) and the index marks it FAILED.

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

Why not Jupyter Book: version 2 (PyPI ``jupyter-book``) is a Python wrapper around the
Node.js MyST engine; it needs Node at run time and downloads its site theme from the web
when it builds (mystmd issue #1451 asks for an offline build), so it cannot build where only
package registries are reachable, this project's CI included. Version 1 (``jupyter-book<2``)
builds with Sphinx, whose MathJax comes from a CDN by default, so the same offline work would
be needed, on top of a second toolchain and a rewrite of what this module does (the
executed/FAILED index, ``--executed`` builds from a paper-scale run, the gallery).
"""
from __future__ import annotations

import argparse
import ast
import contextlib
import copy
import datetime
import html
import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import nbformat
from latex2mathml.converter import convert as _latex2mathml
from nbconvert import HTMLExporter
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath

REPO_ROOT = Path(__file__).resolve().parents[1]
COURSE_MD = REPO_ROOT / "docs" / "course.md"
SITE_SCALES = ("smoke", "quick")
MARKER = ".lthlib-site"  # marks a folder this module built (and may therefore empty)
GLOSSARY_START = "<!-- glossary:start (generated from lthlib.glossary by `python -m lthlib.site --update-glossary`) -->"
GLOSSARY_END = "<!-- glossary:end -->"

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
BUILD_FOLDER = "<build folder>"  # what readers see instead of the build's own folders
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


@dataclass
class Page:
    """One notebook of the site."""
    stem: str                      # 01_dense_training
    title: str                     # from the notebook's first heading
    status: str = "ok"             # "ok" | "FAILED"
    seconds: float | None = None   # execution time (None: taken from --executed)
    detail: str = ""               # why it failed
    figures: list[str] = field(default_factory=list)  # paths relative to the site root
    has_notebook: bool = False     # the executed .ipynb is in the site (notebooks/)

    @property
    def number(self) -> str:
        return self.stem[:2]

    @property
    def html_name(self) -> str:
        return f"{self.stem}.html"


# --------------------------------------------------------------------------- helpers


def parse_only(values: list[str] | None) -> list[str] | None:
    """``--only 01,02``, ``--only 01 02`` and mixtures, as a list of prefixes."""
    if not values:
        return None
    return [part.strip() for v in values for part in v.split(",") if part.strip()]


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


def _replace_in_strings(node, hide: dict[str, str]):
    if isinstance(node, str):
        for folder, placeholder in hide.items():
            node = node.replace(folder, placeholder)
        return node
    if isinstance(node, list):
        return [_replace_in_strings(item, hide) for item in node]
    if isinstance(node, dict):
        return type(node)((key, _replace_in_strings(value, hide)) for key, value in node.items())
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
    return _replace_in_strings(nb, {k: v for k, v in hide.items() if k})


def _for_page(nb, title: str):
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


def _nav(prefix: str = "") -> str:
    return (f'<nav class="lthlib-nav"><a href="{prefix}index.html">Notebooks</a>'
            f'<a href="{prefix}course.html">Syllabus</a><a href="{prefix}gallery.html">Gallery</a></nav>')


def _page(title: str, body: str) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{html.escape(title)}</title>\n<style>{CSS}{MATH_CSS}</style>\n</head>\n<body>\n"
            f"{_nav()}\n{body}\n</body>\n</html>\n")


def _relink(body: str, pages: dict[str, Page]) -> str:
    """Links of the rendered syllabus: a notebook (``../notebooks/NN_slug.ipynb``) points at
    its page when the site has it; other links into the repository (which the site does not
    contain) keep their text and lose the link, so the site has no dead links."""
    def fix(m: re.Match) -> str:
        href, text = m.group(1), m.group(2)
        if re.match(r"[a-z][a-z0-9+.-]*:|#", href, re.IGNORECASE):  # http:, mailto:, #anchor
            return m.group(0)
        nb = re.search(r"(?:^|/)notebooks/(\d\d_[\w-]+)\.(?:ipynb|py)$", href)
        if nb and nb.group(1) in pages:
            return f'<a href="{pages[nb.group(1)].html_name}">{text}</a>'
        return text

    return re.sub(r'<a href="([^"]*)">(.*?)</a>', fix, body, flags=re.DOTALL)


def _prepare_out(out: Path) -> None:
    """Create ``out``, or empty it if this module built it; refuse any other non-empty folder."""
    if out.exists() and not out.is_dir():
        raise SystemExit(f"error: --out {out} is a file, not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not (out / MARKER).exists():
            raise SystemExit(f"error: --out {out} is not empty and was not built by lthlib.site; "
                             "choose an empty or new folder")
        for child in out.iterdir():
            shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("built by python -m lthlib.site; emptied on the next build\n")


@contextlib.contextmanager
def _environment(**values: str):
    """Set environment variables for the kernels papermill starts (they inherit them) and
    restore the previous values afterwards; a variable already set is left as it is."""
    saved = {k: os.environ.get(k) for k in values}
    for k, v in values.items():
        os.environ.setdefault(k, v)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _executed_path(folder: Path, notebook: Path) -> Path | None:
    for candidate in (folder / "notebooks" / notebook.name, folder / notebook.name):
        if candidate.is_file():
            return candidate
    return None


def _extract_figures(nb, dest: Path) -> list[Path]:
    """PNG outputs of an executed notebook written as files (for notebooks executed without
    ``FIGURES_DIR``)."""
    import base64

    files = []
    for cell in nb.cells:
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            data = output.get("data", {}).get("image/png")
            if data:
                dest.mkdir(parents=True, exist_ok=True)
                path = dest / f"figure_{len(files) + 1:02d}.png"
                path.write_bytes(base64.b64decode(data if isinstance(data, str) else "".join(data)))
                files.append(path)
    return files


def _notebook_html(nb, pages_nav: str) -> tuple[str, list[str]]:
    """The page of one notebook (as ``_for_page`` prepared it) and the formulas left as TeX."""
    exporter = SiteExporter()
    nav = f'<div style="padding:0.6rem 1rem;font-family:sans-serif">{pages_nav}</div>'
    body, _ = exporter.from_notebook_node(nb, resources={"lthlib_nav": nav, "lthlib_css": MATH_CSS})
    return body, exporter.math_failures


# --------------------------------------------------------------------------- glossary


def glossary_markdown() -> str:
    """The syllabus glossary: every term of ``lthlib.glossary``, alphabetically."""
    from lthlib.glossary import TERMS

    return "\n".join(f"- **{term}**: {TERMS[term]}" for term in sorted(TERMS, key=str.lower))


def update_course_glossary(path: Path = COURSE_MD) -> bool:
    """Rewrite the generated glossary block of the syllabus from ``lthlib.glossary``;
    returns whether the file changed."""
    text = path.read_text()
    if GLOSSARY_START not in text or GLOSSARY_END not in text:
        raise SystemExit(f"error: {path} has no glossary block ({GLOSSARY_START} ... {GLOSSARY_END})")
    head, rest = text.split(GLOSSARY_START, 1)
    _, tail = rest.split(GLOSSARY_END, 1)
    new = f"{head}{GLOSSARY_START}\n{glossary_markdown()}\n{GLOSSARY_END}{tail}"
    if new != text:
        path.write_text(new)
    return new != text


# --------------------------------------------------------------------------- the build


def build_site(out: Path, *, scale: str = "quick", executed: Path | None = None,
               only: list[str] | None = None, results: Path | None = None,
               notebooks: Path = REPO_ROOT / "notebooks", course: Path = COURSE_MD,
               cell_timeout: float | None = None, log=print) -> list[Page]:
    """Build the site into ``out``; returns one ``Page`` per notebook (see the module doc)."""
    from lthlib.__main__ import DEFAULT_CELL_TIMEOUT, execute, find_notebooks

    if scale not in SITE_SCALES:
        raise SystemExit(f"error: --scale {scale!r}: a site is built at {' or '.join(SITE_SCALES)}; "
                         "for paper scale run `python -m lthlib run --scale paper --out DIR` and "
                         "build with --executed DIR")
    sources = find_notebooks(Path(notebooks), only)
    if executed is not None:
        executed = Path(executed)
        missing = [nb.name for nb in sources if _executed_path(executed, nb) is None]
        if missing:
            raise SystemExit(f"error: --executed {executed} has no {', '.join(missing)} "
                             f"(looked in {executed / 'notebooks'} and {executed})")
    if not Path(course).is_file():
        raise SystemExit(f"error: the syllabus {course} does not exist")
    out = Path(out).resolve()
    _prepare_out(out)
    timeout = DEFAULT_CELL_TIMEOUT[scale] if cell_timeout is None else (cell_timeout or None)
    pages: list[Page] = []
    hide: dict[str, str] = {}  # the build's folders -> what readers see instead (for_readers)
    if executed is not None:
        hide = {str(executed.resolve()): BUILD_FOLDER, str(executed): BUILD_FOLDER}
    with contextlib.ExitStack() as stack:
        if executed is None:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="lthlib-site-")))
            store = Path(results).resolve() if results is not None else work / "results"
            hide = {str(store): "<results store>", str(work.resolve()): BUILD_FOLDER, str(work): BUILD_FOLDER}
            stack.enter_context(_environment(LTHLIB_PROGRESS="0", LTHLIB_HEADLESS="1"))
            log(f"Executing {len(sources)} notebook(s) at scale {scale!r}, one at a time "
                f"(results store: {store if results is not None else 'temporary'}) -> {out}")
        for i, source in enumerate(sources, 1):
            if executed is None:
                log(f"[{i}/{len(sources)}] {source.stem} ...")
                outcome = execute(source, work, store, scale, False, timeout)
                log(f"[{i}/{len(sources)}] {source.stem}: {outcome.status} in {outcome.seconds:.1f} s")
                nb_path, fig_dir = work / "notebooks" / source.name, work / "figures" / source.stem
                page = Page(source.stem, source.stem, outcome.status, outcome.seconds,
                            _replace_in_strings(outcome.detail, hide))
                if outcome.detail:
                    log(f"    {outcome.detail}")
            else:
                nb_path, fig_dir = _executed_path(executed, source), executed / "figures" / source.stem
                page = Page(source.stem, source.stem)
            pages.append(page)
            _add_notebook(page, nb_path, fig_dir, out, hide, log)
    pages_by_stem = {p.stem: p for p in pages}
    (out / "index.html").write_text(_index(pages, scale, executed))
    (out / "gallery.html").write_text(_gallery(pages))
    course_text = Path(course).read_text()
    course_title = notebook_title(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(course_text)]),
                                  "Syllabus")
    failures: list[str] = []
    course_html = markdown_to_html(course_text, failures)
    for failure in failures:
        log(f"    {Path(course).name}: maths left as TeX (latex2mathml cannot read it): {failure}")
    (out / "course.html").write_text(_page(course_title, _relink(course_html, pages_by_stem)))
    return pages


def _add_notebook(page: Page, nb_path: Path, fig_dir: Path, out: Path, hide: dict[str, str], log) -> None:
    """Write the page, the executed notebook (as ``for_readers`` shows it, without the folders
    of ``hide``) and the figures of one notebook into ``out``."""
    nav = (f'<a href="index.html">&larr; all notebooks</a> &middot; <a href="gallery.html#{page.stem}">'
           f'figures</a> &middot; <a href="notebooks/{page.stem}.ipynb">download the executed notebook</a>')
    if not nb_path.is_file():  # the kernel died before papermill wrote anything
        page.status = "FAILED"
        (out / page.html_name).write_text(_page(page.stem, f"<h1>{html.escape(page.stem)}</h1>"
                                                f'<p class="failed">Not executed: {html.escape(page.detail)}</p>'))
        return
    nb = for_readers(nbformat.read(nb_path, as_version=4), page.stem, hide)
    page.title = notebook_title(nb, page.stem)
    (out / "notebooks").mkdir(exist_ok=True)
    nbformat.write(nb, out / "notebooks" / f"{page.stem}.ipynb")
    page.has_notebook = True
    dest = out / "figures" / page.stem
    if fig_dir.is_dir() and any(fig_dir.glob("*.png")):
        dest.mkdir(parents=True, exist_ok=True)
        for png in sorted(fig_dir.glob("*.png")):
            shutil.copyfile(png, dest / png.name)
        files = sorted(dest.glob("*.png"))
    else:  # executed without FIGURES_DIR: take the figures from the outputs
        files = _extract_figures(nb, dest)
    page.figures = [f.relative_to(out).as_posix() for f in files]
    body, failures = _notebook_html(_for_page(nb, page.title), nav)
    for failure in failures:
        log(f"    {page.stem}: maths left as TeX (latex2mathml cannot read it): {failure}")
    (out / page.html_name).write_text(body)


def _index(pages: list[Page], scale: str, executed: Path | None) -> str:
    how = (f"taken from the executed notebooks of <code>{html.escape(executed.resolve().name)}</code>"
           if executed is not None else f"executed at <code>SCALE=\"{scale}\"</code> on the machine that built them")
    rows = []
    for p in pages:
        status = (f'<span class="failed">FAILED</span> {html.escape(p.detail)}' if p.status != "ok"
                  else ("ok" if p.seconds is None else f"ok, {p.seconds:.0f} s"))
        figures = (f'<a href="gallery.html#{p.stem}">{len(p.figures)} figure{"s" * (len(p.figures) != 1)}</a>'
                   if p.figures else "none")
        download = f'<a href="notebooks/{p.stem}.ipynb">.ipynb</a>' if p.has_notebook else "-"
        title = re.sub(rf"^{re.escape(p.number)}\s*[·.:-]\s*", "", p.title)  # the number has its own column
        rows.append(f'<tr><td>{p.number}</td><td><a href="{p.html_name}">{html.escape(title)}</a></td>'
                    f"<td>{figures}</td><td>{download}</td><td>{status}</td></tr>")
    smoke = ('<p class="note">Built at <code>SCALE="smoke"</code>: the runs are seconds long, so '
             "their numbers mean nothing and no claim is judged. Build at <code>quick</code> (or from "
             "executed notebooks) for a site to read.</p>" if executed is None and scale == "smoke" else "")
    built = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    body = (
        "<h1>Lottery tickets, learned by running them</h1>\n"
        "<p>The course notebooks, executed. Start with the <a href=\"course.html\">syllabus</a> "
        "(objectives, prerequisites, a three-week schedule, glossary, papers); every figure is in "
        f"the <a href=\"gallery.html\">gallery</a>. These pages were {how} ({built}); the results "
        "in them are that machine's runs, not the papers' numbers.</p>\n"
        f"{smoke}\n<table>\n<tr><th>#</th><th>notebook</th><th>figures</th><th>executed notebook</th>"
        "<th>run</th></tr>\n" + "\n".join(rows) + "\n</table>\n")
    return _page("Lottery tickets: the notebooks", body)


def _gallery(pages: list[Page]) -> str:
    parts = ["<h1>Figure gallery</h1>\n<p>Every figure the notebooks saved, in order of the "
             "notebooks; each links to its full-size image.</p>"]
    for p in pages:
        parts.append(f'<h2 id="{p.stem}"><a href="{p.html_name}">{html.escape(p.title)}</a></h2>')
        if not p.figures:
            parts.append("<p>No figures.</p>")
        for fig in p.figures:
            caption = html.escape(Path(fig).stem.replace("_", " "))
            parts.append(f'<figure><a href="{fig}"><img src="{fig}" alt="{caption}" loading="lazy"></a>'
                         f"<figcaption>{caption}</figcaption></figure>")
    return _page("Figure gallery", "\n".join(parts))


# --------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lthlib.site",
        description="Build a static HTML course site of the executed notebooks, a figure gallery "
                    "and the syllabus (docs/course.md).")
    parser.add_argument("--out", help="folder for the site (created; a site built earlier is replaced)")
    parser.add_argument("--scale", choices=SITE_SCALES, default="quick",
                        help="scale the notebooks are executed at (default: quick; smoke: seconds, "
                             "for checking the build)")
    parser.add_argument("--executed", metavar="DIR",
                        help="take executed notebooks from DIR (DIR/notebooks/*.ipynb or DIR/*.ipynb, "
                             "figures from DIR/figures/<notebook>/, e.g. the --out of "
                             "`python -m lthlib run`) instead of executing them")
    parser.add_argument("--only", nargs="+", metavar="NN",
                        help="only these notebooks, by prefix: --only 01,02 or --only 01 02")
    parser.add_argument("--results", metavar="DIR",
                        help="experiment store to use and keep (default: a temporary one)")
    parser.add_argument("--notebooks", default=str(REPO_ROOT / "notebooks"),
                        help="folder of the source notebooks (default: the repository's notebooks/)")
    parser.add_argument("--course", default=str(COURSE_MD), help="the syllabus (default: docs/course.md)")
    parser.add_argument("--cell-timeout", type=float, default=None, metavar="SECONDS",
                        help="stop a cell that runs longer (default: as `python -m lthlib run`; 0 = no limit)")
    parser.add_argument("--update-glossary", action="store_true",
                        help="rewrite the syllabus's glossary block from lthlib.glossary and exit")
    args = parser.parse_args(argv)
    if args.update_glossary:
        changed = update_course_glossary(Path(args.course))
        print(f"{args.course}: glossary {'updated' if changed else 'already up to date'}")
        return 0
    if not args.out:
        parser.error("--out DIR is required")
    if args.executed and args.results:
        parser.error("--results has no use with --executed (nothing is executed)")
    started = time.perf_counter()
    pages = build_site(Path(args.out), scale=args.scale, only=parse_only(args.only),
                       executed=Path(args.executed) if args.executed else None,
                       results=Path(args.results) if args.results else None,
                       notebooks=Path(args.notebooks), course=Path(args.course),
                       cell_timeout=args.cell_timeout, log=lambda s: print(s, flush=True))
    failed = [p for p in pages if p.status != "ok"]
    print(f"Site: {Path(args.out).resolve() / 'index.html'} ({len(pages)} notebook(s), "
          f"{sum(len(p.figures) for p in pages)} figures) in {time.perf_counter() - started:.1f} s")
    for p in failed:
        print(f"FAILED: {p.stem}: {p.detail}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
