"""The `cementseg` command: click commands only -- parse, call the library, print, exit.

Exit codes (for scripts): 0 no finding at or above --fail-on; 1 findings at or above
--fail-on; 2 usage error; 3 input error (unreadable or unusable series); 4 internal error.
"""

import click

from cementseg import __version__




@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cementseg")
def main() -> None:
    """Find bone-cement leakage on CT after vertebroplasty and kyphoplasty."""



