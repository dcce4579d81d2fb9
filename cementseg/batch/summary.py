"""summary.csv, summary.parquet and index.html: one row per series, written atomically."""

from __future__ import annotations

import html
import io
from pathlib import Path

from .. import __version__
from .rows import SUMMARY_COLUMNS, SeriesRow
from .store import write_atomic


def summary_frame(rows: list[SeriesRow]):
    """pandas DataFrame of the rows, sorted by study and series UID, columns `SUMMARY_COLUMNS`."""
    import pandas as pd

    frame = pd.DataFrame([r.to_dict() for r in rows], columns=list(SUMMARY_COLUMNS))
    frame["leak_count"] = frame["leak_count"].astype("Int64")
    frame["leak_volume_ml"] = frame["leak_volume_ml"].astype("Float64")
    return frame.sort_values(["study_uid", "series_uid"], na_position="last").reset_index(drop=True)


def write_summaries(
    out: Path, rows: list[SeriesRow], *, skipped_files: int, settings_digest: str
) -> dict[str, Path]:
    """Write summary.csv, summary.parquet and index.html into ``out``."""
    frame = summary_frame(rows)
    written = {"csv": write_atomic(out / "summary.csv", frame.to_csv(index=False).encode())}
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False, engine="pyarrow")
    written["parquet"] = write_atomic(out / "summary.parquet", buffer.getvalue())
    page = index_html(rows, skipped_files=skipped_files, settings_digest=settings_digest)
    written["html"] = write_atomic(out / "index.html", page.encode())
    return written


_COUNT_STATUSES = ("ok", "failed", "error", "not_scanned")


def index_html(rows: list[SeriesRow], *, skipped_files: int, settings_digest: str) -> str:
    """A self-contained page: counts per status, then one table row per series linking its outputs."""
    counts = {s: sum(r.status == s for r in rows) for s in _COUNT_STATUSES}
    lines = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><title>cementseg batch</title>',
        "<style>body{font-family:sans-serif}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:2px 6px;font-size:13px}"
        ".critical{background:#f8d0d0}.warning{background:#fbe8c8}.failed,.error{color:#a00}</style>",
        "</head><body>",
        "<h1>cementseg batch QA</h1>",
        f"<p>cementseg {html.escape(__version__)}, settings {html.escape(settings_digest)}: "
        + ", ".join(f"{n} {s}" for s, n in counts.items())
        + f"; {skipped_files} file(s) skipped (not image series).</p>",
        "<p>Not for diagnostic use without physician review.</p>",
        "<table><tr><th>study UID</th><th>series UID</th><th>status</th><th>cemented levels</th>"
        "<th>leaks</th><th>highest severity</th><th>leak mL</th><th>runtime s</th><th>outputs</th>"
        "<th>message</th></tr>",
    ]
    for r in sorted(rows, key=lambda row: (row.study_uid is None, row.study_uid or "", row.series_uid)):
        links = " ".join(
            f'<a href="{html.escape(r.result_dir)}/{html.escape(name)}">{html.escape(name)}</a>'
            for name in filter(None, r.outputs.split(";"))
        )
        severity = r.highest_severity or ""
        cells = [
            r.study_uid or "",
            r.series_uid,
            r.status,
            r.cemented_levels.replace(";", ", "),
            "" if r.leak_count is None else str(r.leak_count),
            severity,
            "" if r.leak_volume_ml is None else f"{r.leak_volume_ml:.3f}",
            f"{r.runtime_s:.1f}",
        ]
        row_class = severity if severity in ("critical", "warning") else r.status
        lines.append(
            f'<tr class="{html.escape(row_class)}">'
            + "".join(f"<td>{html.escape(c)}</td>" for c in cells)
            + f"<td>{links}</td><td>{html.escape(r.error)}</td></tr>"
        )
    lines += ["</table>", "</body></html>", ""]
    return "\n".join(lines)

