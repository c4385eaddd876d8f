"""Why a run did not post. The CLI maps every AllocationError to a non-zero exit."""

from __future__ import annotations


class AllocationError(RuntimeError):
    """A run that did not post: bad rules for this data, a conservation failure, a write error."""
