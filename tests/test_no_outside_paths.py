"""No tracked file points outside the repository or at a development machine.

Every file git tracks, except those under ``tests/`` and binaries (source, docs, README,
configs, scripts, systemd units), is searched for ``../shared`` (the steering folder
beside a checkout, which users never have) and for absolute paths that only exist on a
developer's machine: the workplace (``/work/``), home directories, pytest's and Python's
temporary directories, and this project's own temporary-directory prefixes. A hit fails
with ``file:line: text``.

Placeholders stay allowed: ``/home/$USER/``, ``/media/$USER/bootfs``, ``/tmp/ttyPANEL``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: (pattern, why it is wrong in a shipped or published file)
FORBIDDEN: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\.\./shared\b"), "the steering folder beside the checkout"),
    (re.compile(r"(?<![\w.-])/work/"), "the development workplace"),
    (re.compile(r"(?<![\w.-])/home/(?![$<{])[\w.-]+/"), "a user's home directory"),
    (re.compile(r"(?<![\w.-])/Users/(?![$<{])[\w.-]+"), "a macOS home directory"),
    (re.compile(r"(?<![\w.-])/root/"), "root's home directory"),
    (re.compile(r"[A-Za-z]:\\+Users\\+"), "a Windows home directory"),
    (re.compile(r"(?<![\w.-])/tmp/pytest-"), "a pytest temporary directory"),
    (re.compile(r"(?<![\w.-])/tmp/tmp[\w]{4,}"), "a Python tempfile directory"),
    (re.compile(r"(?<![\w.-])/tmp/alarmlink-(?:demo|mosq|pw)-"),
     "a temporary directory made by alarmlink itself"),
    (re.compile(r"(?<![\w.-])/opt/(?:wheels|pypi)"), "the workplace's package mirrors"),
    (re.compile(r"(?<![\w.-])/private/var/folders/"), "a macOS temporary directory"),
]

SKIP_DIRS = ("tests/",)


def tracked_files() -> list[str]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: no list of tracked files")
    out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                         check=True).stdout
    return [name for name in out.decode().split("\0") if name]


def text_of(path: Path) -> str | None:
    """The file's text, or None for a binary (NUL bytes or not UTF-8) or a missing file."""
    try:
        data = path.read_bytes()
    except (FileNotFoundError, IsADirectoryError):  # deleted in the work tree, or a submodule
        return None
    if b"\0" in data[:8192]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def offending_lines(text: str) -> list[tuple[int, str, str]]:
    hits = []
    for number, line in enumerate(text.splitlines(), start=1):
        for pattern, why in FORBIDDEN:
            if pattern.search(line):
                hits.append((number, line.strip()[:160], why))
    return hits


def test_no_tracked_file_points_outside_the_repository() -> None:
    files = [f for f in tracked_files() if not f.startswith(SKIP_DIRS)]
    assert files, "git lists no files"
    problems = []
    for name in files:
        text = text_of(ROOT / name)
        if text is None:
            continue
        problems += [f"{name}:{n}: {line}   <- {why}" for n, line, why in offending_lines(text)]
    assert not problems, "paths that exist only on a development machine:\n" + "\n".join(
        problems)


@pytest.mark.parametrize("line", [
    "see ../shared/STANDARDS.md", "cd /work/wt/docs && make", "/home/alice/alarmlink/x.py",
    "C:\\Users\\li\\alarmlink", "/Users/li/src", "/tmp/pytest-of-root/pytest-2/x",
    "/tmp/tmpab12cd34/central.db", "/root/.pyenv/versions/3.11.7/bin/python",
    "demo data in /tmp/alarmlink-demo-x1y2/", "--find-links /opt/wheels",
])
def test_the_patterns_catch_development_paths(line: str) -> None:
    assert offending_lines(line)


@pytest.mark.parametrize("line", [
    "--out /media/$USER/bootfs", "/home/$USER/alarmlink",
    "alarmlink sim panel --link /tmp/ttyPANEL",
    "/var/lib/alarmlink/outbox-school-01.sqlite3", "/opt/alarmlink/venv/bin/alarmlink",
    "https://example.org/work/", "StateDirectory=alarmlink", "shared/ is not shipped",
])
def test_the_patterns_allow_deployment_paths(line: str) -> None:
    assert not offending_lines(line)


MD_REFERENCE = re.compile(r"(?<![\w/.-])((?:[\w-]+/)*[\w-]+\.md)\b")


def test_every_markdown_document_named_is_in_the_repository() -> None:
    """A comment or doc naming ``SOMETHING.md`` names a document the repository has."""
    files = tracked_files()
    shipped = {Path(f).name for f in files if f.endswith(".md")}
    problems = []
    for name in files:
        text = text_of(ROOT / name)
        if text is None or name == "tests/test_no_outside_paths.py":
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            for ref in MD_REFERENCE.findall(line):
                if Path(ref).name not in shipped and "example" not in ref.lower():
                    problems.append(f"{name}:{number}: {ref}")
    assert not problems, "documents named but not in the repository:\n" + "\n".join(problems)


def test_the_markdown_check_catches_a_missing_document() -> None:
    assert MD_REFERENCE.findall("Frame formats: STANDARDS.md, section 3") == ["STANDARDS.md"]
