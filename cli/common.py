"""What every command shares: one-line errors with documented exit codes."""

from __future__ import annotations

import functools
import logging
import sys

import click

from cementseg.errors import CementsegError

EXIT_FINDINGS = 1
EXIT_INPUT_ERROR = 3
EXIT_INTERNAL_ERROR = 4

#: click's own ways out (usage errors, --help, aborts) keep their exit codes
_CLICK_EXITS = (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort)


def one_line_errors(command):
    """One line on stderr instead of a traceback.

    A CementsegError (bad input) prints ``cementseg: error: <message>`` and exits with its code
    (3); any other exception is a bug: ``cementseg: internal error: <type>: <message>``, exit 4,
    the traceback only in the debug log.
    """

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except CementsegError as error:
            click.echo(f"cementseg: error: {error}", err=True)
            sys.exit(error.exit_code)
        except _CLICK_EXITS:
            raise
        except Exception as error:  # a bug, not a bad input
            logging.getLogger("cementseg").debug("internal error", exc_info=True)
            click.echo(f"cementseg: internal error: {type(error).__name__}: {error}", err=True)
            sys.exit(EXIT_INTERNAL_ERROR)

    return wrapper
