"""Every package the service imports is declared, not merely brought in by another."""

import ast
import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _imported(paths) -> set[str]:
    names = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


def test_every_imported_package_is_in_requirements_txt():
    sources = [*ROOT.glob("app/**/*.py"), ROOT / "config.py", ROOT / "config_parsers.py"]
    sources += [ROOT / "wsgi.py", ROOT / "gunicorn.conf.py"]
    local = {"app", "config", "config_parsers"}
    third_party = _imported(sources) - set(sys.stdlib_module_names) - local
    declared = {
        re.split(r"[<>=!~\[; ]", line.strip())[0].lower().replace("_", "-")
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    owners = packages_distributions()
    missing = {
        name
        for name in third_party
        if not {d.lower().replace("_", "-") for d in owners.get(name, [name])} & declared
    }
    assert not missing, f"imported but not in requirements.txt: {sorted(missing)}"
