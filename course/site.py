"""The course as a static website for self-study: the executed solutions of ``solutions/``.

nbconvert renders every notebook with its figures (the lab template); an index page lists the
modules with their introductions and the results table. Mathematics is typeset by the MathJax
that the ``jupyter-server-mathjax`` package ships, copied next to the pages, so the site needs no
network. Hidden tests are cleared and solution markers dropped: a page shows the solution as a
student would write it, never what grading checks in secret.
"""
from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from course.grading import MARKERS
from course.paths import CourseError, notebook

SITE_FOLDER = Path("build") / "site"
MATHJAX_FOLDER = "mathjax"
#: STIX web fonts are the ones the package ships; no image fonts, no font menu.
MATHJAX_CONFIG = """MathJax.Hub.Config({
  "HTML-CSS": {availableFonts: [], preferredFont: null, webFont: "STIX-Web", imageFont: null}
});
MathJax.Ajax.loadComplete("[MathJax]/config/local/course.js");
"""
MATHJAX_URL = f"{MATHJAX_FOLDER}/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe,local/course"
SOLUTION_MARKERS = set(MARKERS[:2])


def student_page(nb: NotebookNode) -> NotebookNode:
    """A copy of an executed solution fit to publish: hidden tests cleared (nbgrader's own
    ``ClearHiddenTests``), ``### BEGIN/END SOLUTION`` lines dropped.

    It imports nbgrader (seconds), so the example is not run::

        page = student_page(nbformat.read(notebook("01-regression", "solutions"), as_version=4))
        any("BEGIN SOLUTION" in cell.source for cell in page.cells)   # False
    """
    from nbgrader.preprocessors import ClearHiddenTests

    page, _ = ClearHiddenTests().preprocess(nbformat.from_dict(nb), {})
    for cell in page.cells:
        if cell.cell_type == "code":
            cell.source = "\n".join(line for line in cell.source.splitlines()
                                    if line.strip().lstrip("#").strip() not in SOLUTION_MARKERS)
    return page


def _introduction(nb: NotebookNode) -> str:
    """The module's first top-level heading cell: title, motivation and learning goals."""
    for cell in nb.cells:
        if cell.cell_type == "markdown" and cell.source.lstrip().startswith("# "):
            return cell.source
    raise CourseError("the notebook has no '# Title' markdown cell to introduce it on the index")


def _results_table(rows: list[dict]) -> str:
    def cell(text) -> str:
        return str(text).replace("|", "\\|")

    from course.results import Result, _fmt

    lines = ["| metric | target | achieved | holds |", "|---|---|---|---|"]
    for row in map(lambda r: Result(**r), rows):
        lines.append(f"| {cell(row.metric)} | {cell(f'{row.target_text} {row.unit}'.strip())} | "
                     f"{cell(f'{_fmt(row.achieved)} {row.unit}'.strip())} | {'yes' if row.holds else '**no**'} |")
    return "\n".join(lines)


def _index(modules: list[str], intros: dict[str, str], results: dict) -> NotebookNode:
    cells = [nbformat.v4.new_markdown_cell(
        "# Machine learning for chemistry and physics — interpretable\n\n"
        "The executed solutions of the course, for reading. Each module's page shows the notebook "
        "as it ran with `course reproduce`, with its figures and results; the graded student "
        "versions are in the repository's `release/` folder.")]
    for module in modules:
        body = intros[module].replace("\n# ", "\n## ").lstrip()
        body = "##" + body[1:] if body.startswith("# ") else body
        cells.append(nbformat.v4.new_markdown_cell(f"{body}\n\n**[Read Module {int(module[:2])}]({module}.html)**"))
        rows = results.get("modules", {}).get(module, {}).get("rows", [])
        if rows:
            cells.append(nbformat.v4.new_markdown_cell(f"#### Results of {module}\n\n{_results_table(rows)}"))
    return nbformat.v4.new_notebook(cells=cells, metadata={"title": "Machine learning for chemistry and physics"})


def _exporter():
    from nbconvert import HTMLExporter

    return HTMLExporter(template_name="site_template", extra_template_basedirs=[str(Path(__file__).parent)],
                        mathjax_url=MATHJAX_URL, exclude_input_prompt=True, exclude_output_prompt=True)


def place_mathjax(folder: Path, *, link: bool = False) -> Path:
    """Put the MathJax of ``jupyter-server-mathjax`` into ``folder/mathjax`` so that pages in
    ``folder`` typeset their mathematics offline (load it as :data:`MATHJAX_URL`).

    ``link=True`` hard-links the files (one feedback folder per student costs no disk) and copies
    where a link cannot be made. It copies all of MathJax, so the example is not run::

        place_mathjax(Path("build/site"))   # Path('build/site/mathjax'), holding MathJax.js
    """
    import jupyter_server_mathjax

    static, target = Path(jupyter_server_mathjax.__file__).parent / "static", folder / MATHJAX_FOLDER
    if not (target / "MathJax.js").is_file():
        shutil.copytree(static, target, dirs_exist_ok=True, copy_function=_hard_link if link else shutil.copy2)
    (target / "config" / "local").mkdir(parents=True, exist_ok=True)
    (target / "config" / "local" / "course.js").write_text(MATHJAX_CONFIG, encoding="utf-8")
    return target


def _hard_link(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:  # another file system, or links not allowed
        shutil.copy2(source, target)


#: The script tag of a page that loads MathJax from a CDN (nbconvert's default, nbgrader's feedback).
CDN_MATHJAX = re.compile(r'<script src="https://cdnjs\.cloudflare\.com/ajax/libs/mathjax/[^"]*">')


def offline_mathjax(page: str) -> str:
    """``page`` (HTML) loading the MathJax beside it (:func:`place_mathjax`) instead of a CDN's.

    >>> offline_mathjax('<script src="https://cdnjs.cloudflare.com/ajax/libs/mathjax/2.7.7/MathJax.js?config=X">')
    '<script src="mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe,local/course">'
    """
    return CDN_MATHJAX.sub(f'<script src="{MATHJAX_URL}">', page)


def build(modules: list[str], out: Path, root: Path) -> Path:
    """Render ``solutions/MODULE/MODULE.ipynb`` of every module and an index into ``out``;
    return the index page.

    It renders with nbconvert (seconds per module), so the example is not run::

        build(["01-regression"], Path("build/site"), repo_root())
        # writes build/site/index.html, 01-regression.html and mathjax/
    """
    out.mkdir(parents=True, exist_ok=True)
    place_mathjax(out)
    exporter, intros = _exporter(), {}
    for module in modules:
        path = notebook(module, "solutions", root)
        nb = nbformat.read(path, as_version=4)
        try:
            intros[module] = _introduction(nb)
        except CourseError as error:
            raise CourseError(f"{path}: {error}") from None
        page = student_page(nb)
        page.metadata["title"] = intros[module].splitlines()[0].lstrip("# ").strip()
        html, _ = exporter.from_notebook_node(page, resources={"metadata": {"name": module}})
        (out / f"{module}.html").write_text(html, encoding="utf-8")
    results_file = root / "solutions" / "results.json"
    results = json.loads(results_file.read_text(encoding="utf-8")) if results_file.is_file() else {}
    html, _ = exporter.from_notebook_node(_index(modules, intros, results))
    index = out / "index.html"
    index.write_text(html, encoding="utf-8")
    return index
