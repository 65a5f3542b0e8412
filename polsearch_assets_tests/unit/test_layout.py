"""The tree keeps its shape: which layer may import which, and the docs describe the code as it is (the README's
map of the tree, the configuration table)."""

from __future__ import annotations

import ast
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


def _imports(folder: str) -> list[tuple[str, str]]:
    """(file, imported module) for every import in ``polsearch_assets/<folder>``, at any depth of the code."""
    found = []
    for path in (REPO / "polsearch_assets" / folder).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found += [(path.relative_to(REPO).as_posix(), alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.append((path.relative_to(REPO).as_posix(), node.module))
    return found


def _offenders(folder: str, forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{path}: {module}"
        for path, module in _imports(folder)
        if any(module == name or module.startswith(f"{name}.") for name in forbidden)
    ]


def test_core_imports_no_dagster_backend_or_wiring() -> None:
    """core/ is the domain logic: no Dagster, no model backends, no settings, no wiring, no app."""
    forbidden = (
        "dagster",
        "polsearch_assets.defs",
        "polsearch_assets.definitions",
        "polsearch_assets.backends",
        "polsearch_assets.config",
        "polsearch_assets.local",
    )
    assert _offenders("core", forbidden) == []


def test_backends_import_no_dagster() -> None:
    """backends/ holds the model engines: plain Python, wired to Dagster only by defs/hearing/engines.py."""
    forbidden = ("dagster", "polsearch_assets.defs", "polsearch_assets.definitions", "polsearch_assets.local")
    assert _offenders("backends", forbidden) == []


def test_defs_never_import_the_local_app_layer() -> None:
    """defs/ are the definitions a code server loads; what a user's process does with them (local/, cli/) sits
    above them and is never imported back."""
    forbidden = ("polsearch_assets.local", "polsearch_assets.cli")
    assert _offenders("defs", forbidden) == []


def test_the_cli_reaches_dagster_only_through_the_local_app_layer() -> None:
    """The command line prints what local/ (this process) or client/ (a deployment) does: no definitions, no
    Dagster of its own."""
    forbidden = ("dagster", "polsearch_assets.defs", "polsearch_assets.definitions")
    assert _offenders("cli", forbidden) == []
