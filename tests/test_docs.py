"""The README and the documentation pages point at what exists. The site itself is built with
`mkdocs build --strict` by `make docs` (CI runs it), which fails on a broken link, anchor or a
page left out of the navigation; these checks need no MkDocs, so `make test` runs them too."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
# [text](target) with a relative target: no scheme, no in-page anchor alone.
RELATIVE_LINK = re.compile(r"\]\((?!https?://|mailto:|#)([^)\s#]+)(?:#[^)]*)?\)")


def _test_names() -> set[str]:
    names = set()
    for path in (ROOT / "tests").rglob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                names.add(node.name)
    return names


def test_the_readme_keeps_the_two_command_quick_start():
    # given the README's quick start section
    section = README.read_text().split("\n## Quick start\n", 1)[1].split("\n## ", 1)[0]
    # when its command block is read
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    # then it is the two commands a fresh clone needs
    assert block and block.group(1).split("\n")[:-1] == ["make run", "make test"]


def test_the_readme_links_only_to_files_that_exist():
    # given every relative link of the README
    targets = RELATIVE_LINK.findall(README.read_text())
    # when / then: each names a file of the repository (a docs page, mostly)
    assert targets, "the README links into docs/"
    missing = [target for target in targets if not (ROOT / target).is_file()]
    assert not missing, f"README links to missing files: {missing}"


def test_every_test_a_docs_page_names_exists():
    # given the test functions the documentation cites as checking a figure or a formula
    cited = {
        name
        for page in DOCS.rglob("*.md")
        for name in re.findall(r"`(test_\w+)`", page.read_text())
    }
    # when / then: each is a test function of the suite (a renamed test updates its page)
    assert cited, "the statistics page names its tests"
    assert not cited - _test_names(), f"docs cite tests that do not exist: {cited - _test_names()}"
