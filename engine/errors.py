"""The one error root. Every error a user may read subclasses `ApportionError`; its message is written for that user
(it names the file, row, column, value or setting and what was expected), so a page or the CLI shows `str(exc)` and
nothing else is caught to make a message.

The second bases keep the builtin contracts callers relied on before the root existed: an `InputError` is still a
`ValueError`, a `NotFound` a `LookupError` (and `KeyError`), `AccessDenied` a `PermissionError`.
"""

from __future__ import annotations

from pydantic import ValidationError


class ApportionError(Exception):
    """Root of every user-facing error in the engine and the connectors."""


class InputError(ApportionError, ValueError):
    """A value, file, rule or setting given by a user cannot be used as it is."""


class NotFound(ApportionError, KeyError):
    """A named thing (run, batch, rate card, profile, cost centre, source kind…) does not exist."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class AccessDenied(ApportionError, PermissionError):
    """The user's role or scope does not allow this; raised by the engine, whatever the page showed."""


class ConfigError(ApportionError, RuntimeError):
    """The installation is not set up to do this (a missing key, an unreadable settings file)."""


class AllocationError(ApportionError, RuntimeError):
    """A run that did not post: bad rules for this data, a conservation failure, a write error. The CLI maps every
    AllocationError to a non-zero exit."""


class IntegrityError(ApportionError, RuntimeError):
    """Stored or produced data fails its own check: a run that breaks conservation, a backup whose tables do not
    match their checksums. The CLI exits 3 for it (docs/cli.md), 1 for every other ApportionError."""


def invalid(what: str, exc: ValidationError) -> InputError:
    """A pydantic validation failure as one readable `InputError`: what was being read, then each field and why."""
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "value"
        parts.append(f"{where}: {err['msg']}")
    return InputError(f"{what}: not valid — " + "; ".join(parts))
