"""Secret files (passwords, keys): read only when no one but the owner can read them.

Like ssh with a private key, a secret file readable by group or others is refused, and
the error says the one command that fixes it. A secret's text never reaches a log line
or an error message.
"""

from __future__ import annotations

import stat
from pathlib import Path


class SecretFileError(ValueError):
    """A secret file that cannot be used; ``str()`` says why and how to fix it."""


def read_private_text(path: Path, what: str) -> str:
    """The whole text of the secret file ``path`` (``what`` names it in errors)."""
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SecretFileError(f"{path}: cannot read the {what} ({exc.strerror}); fix its "
                              "path or its owner") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretFileError(f"{path}: the {what} must not be readable by group or others "
                              f"(mode {stat.filemode(mode)}); run: chmod 600 {path}")
    return text


def read_secret_line(path: Path, what: str) -> str:
    """The first line of the secret file ``path``, stripped; it must not be empty."""
    text = read_private_text(path, what)
    secret = text.splitlines()[0].strip() if text.strip() else ""
    if not secret:
        raise SecretFileError(f"{path}: the {what} is empty; write it on the first line")
    return secret
