"""What every command shares: one-line errors with documented exit codes."""

from __future__ import annotations

import functools
import sys

import click

from cementseg.errors import CementsegError

EXIT_FINDINGS = 1
EXIT_INPUT_ERROR = 3
EXIT_INTERNAL_ERROR = 4


def one_line_errors(command):
    """Turn a CementsegError into ``cementseg: error: <message>`` and exit 3, no traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except CementsegError as error:
            click.echo(f"cementseg: error: {error}", err=True)
            sys.exit(error.exit_code)

    return wrapper
