"""course site: the executed solutions as offline pages, checked as files and in a real browser."""
import json
from html import escape as html_escape
import re
import shutil
import subprocess

import nbformat
import pytest

from conftest import ROOT
from course import site

MODULE = "01-regression"
WITH_MATH_INTRO = "05-lrp"  # Module 1's introduction has no formula, Module 5's has
MATH = re.compile(r"\$\$.+?\$\$|\$[^$]+?\$", re.DOTALL)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    index = site.build([MODULE, WITH_MATH_INTRO], out, ROOT)
    return out, index


def _solution(module=MODULE):
    return nbformat.read(ROOT / "solutions" / module / f"{module}.ipynb", as_version=4)


def _hidden_test_lines(source):
    lines, inside = set(), False
    for cell in source.cells:
        for line in cell.source.splitlines():
            if "BEGIN HIDDEN TESTS" in line:
                inside = True
            elif "END HIDDEN TESTS" in line:
                inside = False
            elif inside and len(line.strip()) >= 16:
                lines.add(line.strip())
    return lines


def test_pages_keep_solutions_and_drop_hidden_tests_and_markers(built):
    out, _ = built
    page = site.student_page(_solution())
    code = "\n".join(c.source for c in page.cells if c.cell_type == "code")
    hidden = _hidden_test_lines(_solution())
    assert hidden, "the solution should hold hidden tests"
    assert not {line for line in code.splitlines() if line.strip() in hidden}
    assert "return float(np.mean((y - y_pred) ** 2))" in code, "the solution itself belongs on the page"
    html = (out / f"{MODULE}.html").read_text()
    assert "BEGIN SOLUTION" not in html and "HIDDEN TESTS" not in html


def test_pages_need_no_network_and_keep_every_figure(built):
    out, index = built
    for page in (index, out / f"{MODULE}.html"):
        html = page.read_text()
        assert not re.findall(r'<(?:script|link)[^>]+(?:src|href)="https?://', html), page.name
    assert (out / "mathjax" / "MathJax.js").is_file() and (out / "mathjax" / "config" / "local" / "course.js").is_file()
    figures = sum("image/png" in o.get("data", {}) for c in _solution().cells if c.cell_type == "code" for o in c.outputs)
    assert figures >= 5 and (out / f"{MODULE}.html").read_text().count("data:image/png") >= figures


def test_index_lists_the_module_with_its_results(built):
    out, index = built
    html = index.read_text()
    assert f'href="{MODULE}.html"' in html and "Module 1" in html
    rows = json.loads((ROOT / "solutions" / "results.json").read_text())["modules"][MODULE]["rows"]
    assert rows
    for row in rows:
        assert html_escape(row["metric"], quote=False) in html, row["metric"]


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's chromium (apt-get install chromium)")
@pytest.mark.parametrize("page", [MODULE, "index"])
def test_mathematics_renders_offline_in_chromium(built, page, tmp_path):
    out, _ = built
    dom = subprocess.run(["chromium", "--headless=new", "--no-sandbox", "--disable-gpu",
                          f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=30000",
                          "--dump-dom", (out / f"{page}.html").as_uri()],
                         capture_output=True, text=True, timeout=180).stdout
    typeset = len(re.findall(r'<script type="math/tex', dom))
    rendered = len(re.findall(r'class="MathJax(?:_Display)?"', dom))
    errors = len(re.findall(r'class="(?:merror|MathJax_Error)"', dom))
    if page == MODULE:
        markdown = [c.source for c in _solution().cells if c.cell_type == "markdown"]
    else:
        markdown = [site._introduction(_solution(m)) for m in (MODULE, WITH_MATH_INTRO)]
    expected = sum(len(MATH.findall(re.sub(r"`[^`]*`", "", text))) for text in markdown)
    assert typeset >= expected > 0, f"{page}.html: MathJax found {typeset} formulas of {expected}"
    assert rendered >= typeset and errors == 0, f"{page}.html: {rendered} typeset of {typeset}, {errors} errors"
