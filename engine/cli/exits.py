"""The exit codes every `python -m engine` command uses (docs/cli.md), and the one place an error becomes a code."""

from __future__ import annotations

from engine.errors import ApportionError, ConfigError, IntegrityError

OK = 0          # done (a repeat that changed nothing is done too)
REFUSED = 1     # refused input: a file, value, rule or state the command will not act on; nothing was changed
USAGE = 2       # usage: arguments argparse rejects, a store that cannot be opened at --db, or an installation not
                # set up for the command (a ConfigError: no audit key, the store in use during a restore)
INTEGRITY = 3   # conservation or integrity failure: a run that does not conserve, a broken audit trail, a backup
                # whose checksums differ

EPILOG = ("exit codes (every command): 0 ok; 1 refused input (nothing changed); 2 usage (bad arguments, no "
          "store that can be opened at --db, a missing setting such as the audit key); 3 conservation or integrity "
          "failure (allocation conservation, audit verify, restore checksums). provision check/request: 4 needs "
          "approval. See docs/cli.md.")


def code_for(exc: ApportionError) -> int:
    """3 for an IntegrityError (the error class says the data failed its own check), 2 for a ConfigError (the
    installation cannot run it), else 1."""
    if isinstance(exc, IntegrityError):
        return INTEGRITY
    return USAGE if isinstance(exc, ConfigError) else REFUSED
