"""The shape STYLE.md asks for, and the static checks: ruff, mypy and import-linter run with the tests."""

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    assert found, f"{name} is part of the test extra"
    return found


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["lint-imports"], id="import-linter"),
        pytest.param(["ruff", "check", "tui", "tests", "bench", "screenshots"], id="ruff-check"),
        pytest.param(["ruff", "format", "--check", "tui", "tests", "bench", "screenshots"], id="ruff-format"),
        pytest.param(["mypy"], id="mypy"),
    ],
)
def test_static_check_passes(argv):
    result = subprocess.run([_tool(argv[0]), *argv[1:]], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_headless_side_imports_without_textual():
    code = (
        "import sys, pkgutil, importlib, tui.core, tui.probes, tui.downloads, tui.monitor, tui.actions, tui.doctor\n"
        "for pkg in (tui.core, tui.probes, tui.downloads, tui.monitor, tui.actions):\n"
        "    for m in pkgutil.iter_modules(pkg.__path__):\n"
        "        importlib.import_module(pkg.__name__ + '.' + m.name)\n"
        "print('textual' in sys.modules, 'rich' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_the_app_is_a_thin_shell():
    source = (ROOT / "tui" / "app.py").read_text()
    assert len(source.splitlines()) < 150
    app = next(n for n in ast.parse(source).body if isinstance(n, ast.ClassDef) and n.name == "HfTopApp")
    assert [ast.unparse(base) for base in app.bases] == ["App[None]"], "no mixins"


def test_no_widget_shadows_textuals_help():
    """Textual renders `HELP` as Markdown in its keys panel; a list there crashed it."""
    from textual.dom import DOMNode

    import tui.widgets.cache.pane
    import tui.widgets.downloads.pane
    import tui.widgets.network_pane
    import tui.widgets.status_line

    modules = [tui.widgets.cache.pane, tui.widgets.downloads.pane, tui.widgets.network_pane, tui.widgets.status_line]
    for module in modules:
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, DOMNode):
                assert value.HELP is None or isinstance(value.HELP, str), value
