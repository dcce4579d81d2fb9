"""The `cementseg` command: click commands only -- parse, call the library, print, exit.

Exit codes (for scripts): 0 no finding at or above --fail-on; 1 findings at or above
--fail-on; 2 usage error; 3 input error (unreadable or unusable series); 4 internal error.
"""

import click

from cementseg import __version__

from .batch import batch_command
from .evaluate import evaluate_command
from .info import info
from .pacs import pacs_command
from .phantom import phantom_command
from .scan import scan_command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cementseg")
def main() -> None:
    """Find bone-cement leakage on CT after vertebroplasty and kyphoplasty."""



main.add_command(scan_command)
main.add_command(evaluate_command)
main.add_command(info)
main.add_command(phantom_command)
main.add_command(batch_command)
main.add_command(pacs_command)
