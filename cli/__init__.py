"""The `cementseg` command: click commands only -- parse, call the library, print, exit.

Exit codes (for scripts): 0 no finding at or above --fail-on; 1 findings at or above
--fail-on; 2 usage error; 3 input error (unreadable or unusable series); 4 internal error.
"""

import atexit
import gc
from importlib import import_module

import click

from cementseg import __version__

#: command name -> (module of this package, attribute): imported when the command is used, so
#: that `cementseg scan` does not load the phantom, batch or PACS code
COMMANDS = {
    "scan": ("scan", "scan_command"),
    "evaluate": ("evaluate", "evaluate_command"),
    "info": ("info", "info"),
    "phantom": ("phantom", "phantom_command"),
    "batch": ("batch", "batch_command"),
    "pacs": ("pacs", "pacs_command"),
}


class _LazyGroup(click.Group):
    """A group whose subcommands are imported on first use (click's lazy-loading pattern)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module, attribute = COMMANDS[cmd_name]
        return getattr(import_module(f".{module}", __name__), attribute)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cementseg")
def main() -> None:
    """Find bone-cement leakage on CT after vertebroplasty and kyphoplasty."""
    # The process ends once the command has written its outputs: at exit, skip the interpreter's
    # garbage collections over every object while it unloads the modules (0.1-0.2 s with SciPy
    # and pydicom loaded); objects are still freed by reference counting, the rest by the OS.
    atexit.register(gc.freeze)
