"""A static course site: the executed notebooks as HTML, a figure gallery, the syllabus.

``python -m lthlib.apps.site --out DIR [--scale smoke|quick] [--executed DIR] [--only 01,02]``

Without ``--executed`` every notebook is executed with papermill, one at a time (so the
torch threads of one training process at a time use the cores; see ``lthlib.core.threads``),
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

Self-contained pages (``lthlib.apps.site_pages``): a page loads nothing from outside the site
folder; maths is MathML typeset at build time, widgets are a note, the build's folders
stay out of what readers see.

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
import base64
import contextlib
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

import nbformat

from lthlib.apps.cli import DEFAULT_CELL_TIMEOUT, execute, find_notebooks
from lthlib.report.glossary import TERMS
from lthlib.apps.site_pages import (for_page, for_readers, markdown_to_html, notebook_html, notebook_title, page_html,
                               replace_in_strings)

REPO_ROOT = Path(__file__).resolve().parents[2]
COURSE_MD = REPO_ROOT / "docs" / "course.md"
SITE_SCALES = ("smoke", "quick")
MARKER = ".lthlib-site"  # marks a folder this module built (and may therefore empty)
GLOSSARY_START = "<!-- glossary:start (generated from lthlib.report.glossary by `python -m lthlib.apps.site --update-glossary`) -->"
GLOSSARY_END = "<!-- glossary:end -->"

BUILD_FOLDER = "<build folder>"  # what readers see instead of the build's own folders
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
            raise SystemExit(f"error: --out {out} is not empty and was not built by lthlib.apps.site; "
                             "choose an empty or new folder")
        for child in out.iterdir():
            shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("built by python -m lthlib.apps.site; emptied on the next build\n")


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


# --------------------------------------------------------------------------- glossary


def glossary_markdown() -> str:
    """The syllabus glossary: every term of ``lthlib.report.glossary``, alphabetically."""
    return "\n".join(f"- **{term}**: {TERMS[term]}" for term in sorted(TERMS, key=str.lower))


def update_course_glossary(path: Path = COURSE_MD) -> bool:
    """Rewrite the generated glossary block of the syllabus from ``lthlib.report.glossary``;
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
                            replace_in_strings(outcome.detail, hide))
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
    (out / "course.html").write_text(page_html(course_title, _relink(course_html, pages_by_stem)))
    return pages


def _add_notebook(page: Page, nb_path: Path, fig_dir: Path, out: Path, hide: dict[str, str], log) -> None:
    """Write the page, the executed notebook (as ``for_readers`` shows it, without the folders
    of ``hide``) and the figures of one notebook into ``out``."""
    nav = (f'<a href="index.html">&larr; all notebooks</a> &middot; <a href="gallery.html#{page.stem}">'
           f'figures</a> &middot; <a href="notebooks/{page.stem}.ipynb">download the executed notebook</a>')
    if not nb_path.is_file():  # the kernel died before papermill wrote anything
        page.status = "FAILED"
        (out / page.html_name).write_text(page_html(page.stem, f"<h1>{html.escape(page.stem)}</h1>"
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
    body, failures = notebook_html(for_page(nb, page.title), nav)
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
    return page_html("Lottery tickets: the notebooks", body)


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
    return page_html("Figure gallery", "\n".join(parts))


# --------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lthlib.apps.site",
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
                        help="rewrite the syllabus's glossary block from lthlib.report.glossary and exit")
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
