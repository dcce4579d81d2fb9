"""`cementseg pacs --url URL`: scan CT series from a PACS over DICOMweb, optionally store SEG + SR back."""

from __future__ import annotations

from pathlib import Path

import click

from .batch import _progress, exit_for
from .common import one_line_errors
from .scan import FAIL_ON


@click.command("pacs")
@click.option("--url", metavar="URL", help="DICOMweb base URL (default: url in the config file).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              help="PACS config file (default ~/.config/cementseg/pacs.toml).")
@click.option("--ca-bundle", type=click.Path(exists=True, dir_okay=False), help="CA certificates to trust (PEM).")
@click.option("--allow-plain-http", is_flag=True,
              help="Allow http:// to a host other than localhost (credentials travel in clear).")
@click.option("--since", metavar="YYYY-MM-DD", help="Studies on or after this date.")
@click.option("--until", metavar="YYYY-MM-DD", help="Studies on or before this date.")
@click.option("--study", "study_uid", metavar="UID", help="Only this StudyInstanceUID.")
@click.option("--description", metavar="REGEX", help="Only series whose description matches (case-insensitive).")
@click.option("--body-part", metavar="NAME", help="Only series with this BodyPartExamined (e.g. SPINE).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("cementseg-pacs"),
              show_default=True, help="Results folder (same layout as `cementseg batch`).")
@click.option("--store-results", is_flag=True, help="Send the DICOM SEG and SR back to the PACS (STOW-RS).")
@click.option("--report", "html_report", is_flag=True, help="Also write report.html per series in --out.")
@click.option("--resume", is_flag=True, help="Skip series already finished in --out with the same settings.")
@click.option("--fail-on", type=click.Choice(FAIL_ON), default="critical", show_default=True,
              help="Exit 1 when any series has a leak at or above this severity.")
@click.option("--quiet", is_flag=True, help="No progress output (for cron).")
@one_line_errors
def pacs_command(url, config_path, ca_bundle, allow_plain_http, since, until, study_uid, description, body_part,
                 out_dir, store_results, html_report, resume, fail_on, quiet) -> None:
    """Find CT series on a PACS (QIDO-RS), fetch (WADO-RS), scan, and optionally store SEG + SR (STOW-RS).

    Login: CEMENTSEG_PACS_USER / CEMENTSEG_PACS_PASSWORD or the config file, never options.
    Exit codes as `cementseg batch`: 0, 1 (leak at or above --fail-on), 3 (PACS or series error).
    """
    from cementseg.batch import runner
    from cementseg.pacs import load_config, run_pacs

    config = load_config(url, config_path, ca_bundle, allow_plain_http)
    with _progress(quiet) as progress:
        result = run_pacs(config, out_dir, since=since, until=until, study_uid=study_uid, description=description,
                          body_part=body_part, store_results=store_results, html_report=html_report,
                          resume=resume, on_result=progress.tick)
    batch = runner.BatchResult(rows=result.rows, out=result.out, resumed=result.resumed)
    flagged = batch.at_or_above(fail_on)
    unscanned = batch.count("failed") + batch.count("error")
    stored = sum(len(uids) for uids in result.stored.values())
    if not quiet or flagged or unscanned:  # --quiet: silent when there is nothing to look at
        click.echo(f"cementseg pacs: {result.found} CT series found, {batch.count('ok')} scanned, {unscanned} failed "
                   f"({result.resumed} done by an earlier run); {stored} object(s) stored back; {len(flagged)} with a "
                   f"leak at or above {fail_on}; summary in {result.summary_files['csv']}", err=quiet)
    exit_for(flagged, unscanned)
