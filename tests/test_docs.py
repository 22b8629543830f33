"""The documentation that ships with the project: README.md and docs/*.md.

* No file of the repository points to the old internal brief (its name is built below, so this
  file does not match itself).
* Every relative Markdown link and every backticked ``docs/...`` path in README.md and docs/*.md
  names a file that exists; so does every docs page that code comments and help strings
  point to.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BRIEF = "STUDY" + ".md"

# Not part of the repository's content: VCS data, the venv, run outputs, build metadata, caches.
SKIP_DIRS = {".git", ".venv", ".venv-deepinv", "runs", "results", "test-artifacts", "__pycache__", ".pytest_cache"}

LINK = re.compile(r"!?\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
DOCS_PATH = re.compile(r"`(docs/[^`\s]*)`")
DOCS_FILE = re.compile(r"\bdocs/[A-Za-z0-9_.-]+\.md\b")
FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.S | re.M)


def repository_files():
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.endswith(".egg-info")]
        for name in files:
            yield Path(folder) / name


def doc_pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def without_code_blocks(text: str) -> str:
    return FENCE.sub("", text)


def test_the_docs_exist():
    pages = doc_pages()
    assert len(pages) > 1, "docs/*.md is missing"
    for page in pages:
        assert page.is_file(), page


def test_no_file_names_the_old_brief():
    found = []
    for path in repository_files():
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if BRIEF.encode() in data:
            found.append(str(path.relative_to(ROOT)))
    assert not found, f"{BRIEF} is still named in: {', '.join(sorted(found))}"


def _relative_links(page: Path) -> list[str]:
    links = []
    for target in LINK.findall(without_code_blocks(page.read_text(encoding="utf-8"))):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # http:, https:, mailto:, ...
            continue
        path = target.split("#", 1)[0]
        if path:  # a link to an anchor of the same page has no path
            links.append(path)
    return links


@pytest.mark.parametrize("page", doc_pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page: Path):
    broken = [link for link in _relative_links(page) if not (page.parent / link).exists()]
    assert not broken, f"{page.relative_to(ROOT)} links to missing files: {', '.join(broken)}"


@pytest.mark.parametrize("page", doc_pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_backticked_docs_paths_resolve(page: Path):
    paths = [p.split("#", 1)[0] for p in DOCS_PATH.findall(page.read_text(encoding="utf-8"))]
    broken = [p for p in paths if not (ROOT / p).exists()]
    assert not broken, f"{page.relative_to(ROOT)} names missing docs paths: {', '.join(broken)}"


def _anchors(page: Path) -> set[str]:
    """GitHub's anchors for the headings of ``page``: lower case, punctuation dropped, spaces to
    hyphens, a repeated heading numbered ``-1``, ``-2``, ..."""
    seen: dict[str, int] = {}
    anchors = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*\s*$", without_code_blocks(page.read_text(encoding="utf-8")), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


@pytest.mark.parametrize("page", doc_pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_anchors_of_links_to_pages_exist(page: Path):
    broken = []
    for target in LINK.findall(without_code_blocks(page.read_text(encoding="utf-8"))):
        if "#" not in target or re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):
            continue
        path, anchor = target.split("#", 1)
        linked = page.parent / path if path else page
        if linked.suffix == ".md" and linked.is_file() and anchor not in _anchors(linked):
            broken.append(target)
    assert not broken, f"{page.relative_to(ROOT)} links to missing headings: {', '.join(broken)}"


def test_the_readme_links_into_every_docs_page():
    links = {Path(link).as_posix() for link in _relative_links(ROOT / "README.md")}
    pages = {f"docs/{page.name}" for page in (ROOT / "docs").glob("*.md")}
    assert pages <= links, f"README.md does not link to {', '.join(sorted(pages - links))}"


def test_docs_pages_named_in_code_exist():
    broken = []
    for path in repository_files():
        if path.suffix not in {".py", ".js", ".toml", ".yml", ".sh"}:
            continue
        for name in DOCS_FILE.findall(path.read_text(encoding="utf-8", errors="replace")):
            if not (ROOT / name).is_file():
                broken.append(f"{path.relative_to(ROOT)}: {name}")
    assert not broken, "code points to missing docs pages: " + "; ".join(broken)


def test_the_package_layout_names_every_module_and_only_existing_ones():
    """docs/cli.md's layout table: every module of the package in a row, and every
    ``nni_lista/...`` path the docs and README name is a file."""
    layout = (ROOT / "docs" / "cli.md").read_text()
    modules = sorted(
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / "nni_lista").rglob("*.py")
        if p.name not in ("__init__.py", "__main__.py") and "__pycache__" not in p.parts
    )
    rows = [line for line in layout.splitlines() if line.startswith("| `nni_lista/")]
    missing = [
        m
        for m in modules
        if not any(
            f"`{m}`" in row or (f"`{Path(m).name}`" in row and f"`{Path(m).parent.as_posix()}/" in row) for row in rows
        )
    ]
    assert not missing, f"docs/cli.md's package layout does not list {missing}"
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for path in re.findall(r"\bnni_lista/[A-Za-z0-9_/]+\.(?:py|js)\b", page.read_text()):
            assert (ROOT / path).is_file(), f"{page.name} names {path}, which does not exist"


def test_the_claim_1_table_of_the_results_page_quotes_only_what_the_study_wrote():
    """Every number of docs/results.md's claim-1 table (means +- sd, gains with their intervals) is
    in results/study-full/claims.md, as written there."""
    page = (ROOT / "docs" / "results.md").read_text()
    start = page.index("**Claim 1: searched networks beat LISTA.**")
    table = page[start : page.index("\n\n", page.index("| setting", start))]
    numbers = re.findall(r"[-+]\d+\.\d\d(?: \+- \d+\.\d\d| \[[-+]\d+\.\d\d, [-+]\d+\.\d\d\])?", table)
    claims = (ROOT / "results" / "study-full" / "claims.md").read_text()
    assert len(numbers) == 6 * 5 + 2  # six settings: LISTA, the best member, searched, two gains; two over `dense`
    missing = [number for number in numbers if number not in claims]
    assert not missing, f"docs/results.md quotes numbers claims.md does not hold: {missing}"
