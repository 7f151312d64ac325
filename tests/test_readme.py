"""The README runs as written: every ```python block, in order, in one namespace, and the
``crm-analytics`` lines of "Command line", on the shipped sample (``data/sample/``).

Both run in a fresh temporary folder that has ``data/sample`` at the same relative path
as the repository root, so the README's relative paths work unchanged. A shell line
marked ``# example:`` is a placeholder (paths of the reader's own) and is skipped.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SAMPLE = ROOT / "data" / "sample"
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```[ \t]*$", re.S | re.M)
PLACEHOLDER = "# example:"


def _blocks(text: str, lang: str) -> list[tuple[int, str, str]]:
    """(line number, heading above, code) of every fenced block of language ``lang``."""
    out = []
    for match in FENCE.finditer(text):
        if match.group(1) != lang:
            continue
        before = text[: match.start()]
        headings = re.findall(r"^#{1,6} (.+)$", before, re.M)
        out.append((before.count("\n") + 1, headings[-1] if headings else "(top)", match.group(2)))
    return out


def _section(text: str, heading: str) -> str:
    """The text of a section (``### Command line``) up to the next heading of any level."""
    start = text.index(heading + "\n")
    following = re.search(r"^#{1,6} ", text[start + len(heading) + 1:], re.M)
    return text[start: start + len(heading) + 1 + following.start()] if following else text[start:]


def _workdir(path: Path) -> Path:
    path.mkdir()
    (path / "data").mkdir()
    (path / "data" / "sample").symlink_to(SAMPLE, target_is_directory=True)
    return path


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("CRM_ANALYTICS_")}


def _cli() -> str:
    script = Path(sys.executable).parent / "crm-analytics"
    assert script.exists(), f"{script} is missing; install the package into this venv (pip install -e .)"
    return str(script)


def _shell_commands(text: str) -> list[tuple[int, str]]:
    """(line number, command) of the ``crm-analytics`` lines of "Command line" (continuations joined)."""
    section = _section(text, "### Command line")
    offset = text.index(section)
    commands = []
    for match in FENCE.finditer(section):
        if match.group(1) != "sh":
            continue
        first = text[: offset + match.start(2)].count("\n") + 1
        pending, start = "", 0
        for i, line in enumerate(match.group(2).splitlines()):
            if not pending:
                start = first + i
            if line.rstrip().endswith("\\"):
                pending += line.rstrip()[:-1] + " "
                continue
            command, pending = (pending + line).strip(), ""
            if command.startswith("crm-analytics") and PLACEHOLDER not in command:
                commands.append((start, command))
    return commands


def test_readme_has_the_blocks_this_test_runs():
    text = README.read_text(encoding="utf-8")
    assert _blocks(text, "python"), "no ```python block in the README"
    commands = _shell_commands(text)
    assert any(c.split()[1] == "load" for _, c in commands)
    assert "exports/" not in _section(text, "## Quickstart in Jupyter")
    assert all("exports/" not in c for _, c in commands), "a runnable line uses a path that does not exist"


@pytest.mark.slow
def test_readme_python_blocks_run_in_order(tmp_path, monkeypatch):
    work = _workdir(tmp_path / "notebook")
    monkeypatch.chdir(work)
    for key in [k for k in os.environ if k.startswith("CRM_ANALYTICS_")]:
        monkeypatch.delenv(key)
    namespace: dict[str, object] = {"__name__": "__readme__"}
    blocks = _blocks(README.read_text(encoding="utf-8"), "python")
    assert len(blocks) >= 6, "the README lost its python examples"
    try:
        for line, heading, code in blocks:
            label = f"README.md:{line} (section {heading!r})"
            try:
                exec(compile(code, label, "exec"), namespace)  # noqa: S102 - the README is ours
            except Exception as exc:  # noqa: BLE001 - say which block failed, then fail
                pytest.fail(f"the ```python block at {label} failed: {type(exc).__name__}: {exc}")
        # the quickstart's session really scored the sample
        assert len(namespace["scores"]) >= 300  # type: ignore[arg-type]
    finally:
        store = namespace.get("store")
        close = getattr(store, "close", None)
        if callable(close):
            close()


@pytest.mark.slow
def test_readme_command_line_runs(tmp_path):
    work = _workdir(tmp_path / "shell")
    cli, env = _cli(), _clean_env()
    commands = _shell_commands(README.read_text(encoding="utf-8"))
    for line, command in commands:
        argv = shlex.split(command, comments=True)
        proc = subprocess.run([cli, *argv[1:]], cwd=work, env=env, capture_output=True,
                              text=True, timeout=300)
        assert proc.returncode == 0, (
            f"README.md:{line}: `{command}` exited {proc.returncode}:\n{proc.stderr}{proc.stdout}")
        if argv[1] == "load":  # one report per load: on stdout, not repeated as a log line
            assert proc.stdout.count("LoadReport(") == 1, proc.stdout
            assert "loaded " + argv[2] not in proc.stderr, proc.stderr
