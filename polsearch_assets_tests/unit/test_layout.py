"""The docs describe the code as it is: the README's map of the tree, the configuration table."""

from __future__ import annotations

import re

from polsearch_assets.config import settings_table
from polsearch_assets_tests.fixtures.media import REPO


def _map_block() -> str:
    readme = (REPO / "README.md").read_text()
    return readme[readme.index("<!-- layout:begin") : readme.index("<!-- layout:end -->")]


def _mapped_paths() -> set[str]:
    """Paths named in the map, rebuilt from its indentation (two spaces a level)."""
    paths, stack = set(), []
    for line in _map_block().splitlines():
        match = re.match(r"^( *)(\S+)\s", line + " ")
        if not match or line.startswith(("```", "<!--")):
            continue
        depth = len(match.group(1)) // 2
        stack[depth:] = [match.group(2)]
        paths.add("".join(stack).rstrip("/"))
    return paths


def test_the_readme_map_names_every_package_folder_and_nothing_else() -> None:
    packages = {
        path.parent.relative_to(REPO).as_posix()
        for root in ("polsearch_assets", "polsearch_assets_tests")
        for path in (REPO / root).rglob("__init__.py")
    }
    mapped = _mapped_paths()
    assert packages - mapped == set(), "folders missing from the README's map"
    assert {p for p in mapped if not (REPO / p).exists()} == set(), "the map names paths that do not exist"


def test_the_configuration_page_is_the_generated_table() -> None:
    page = (REPO / "docs" / "configuration.md").read_text()
    block = page[page.index("<!-- settings:begin -->") : page.index("<!-- settings:end -->")]
    assert block.removeprefix("<!-- settings:begin -->\n") == settings_table(), (
        "regenerate the table: python -m polsearch_assets.config"
    )
