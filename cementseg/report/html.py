"""One self-contained HTML report: verdict, findings table, key images (base64 PNG), warnings,
tool version and settings. It needs no network and no other file to open."""

from __future__ import annotations

import base64
import datetime as dt
import json
from html import escape
from pathlib import Path

from ..findings import Component, Findings
from ..volume import CTVolume
from .images import key_images, location_colour, reported_findings

NOTICE = "Not for diagnostic use without physician review."

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:1.5em;color:#111;max-width:1100px}
h1{font-size:1.4em;margin-bottom:.2em} h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ccc}
.notice{background:#fff3cd;border:1px solid #e0b400;padding:.5em .8em;font-weight:bold}
.verdict{font-size:1.15em;padding:.6em .8em;border-left:6px solid #888;background:#f4f4f4;margin:1em 0}
.sev-critical{border-color:#c00000}.sev-warning{border-color:#e07000}.sev-info{border-color:#2a7ab0}
.sev-none{border-color:#2e8b57}
table{border-collapse:collapse;font-size:.9em;margin:.5em 0} th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left}
th{background:#eee} td.num{text-align:right;font-variant-numeric:tabular-nums}
.swatch{display:inline-block;width:.8em;height:.8em;border:1px solid #555;margin-right:.3em;vertical-align:middle}
figure{margin:1em 0;page-break-inside:avoid} figure img{max-width:100%;border:1px solid #444}
figcaption{font-size:.9em;color:#333} .muted{color:#666;font-size:.85em} pre{font-size:.8em;overflow:auto}
"""


def _png_tag(png: bytes, alt: str, **attributes: str) -> str:
    extra = "".join(f' {name}="{escape(value)}"' for name, value in attributes.items())
    data = base64.b64encode(png).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{escape(alt)}"{extra}>'


def _finding_row(component: Component, has_image: bool) -> str:
    image_link = f'<a href="#key-{component.id}">image</a>' if has_image else "-"
    level = component.vertebral_level or "unknown"
    if component.source_vertebra and component.source_vertebra != component.vertebral_level:
        level += f" (from {component.source_vertebra})"
    cells = [
        f'<td class="num">{component.id}</td>',
        f'<td><span class="swatch" style="background:{location_colour(component.location)}"></span>'
        f"{escape(component.location or '-')}</td>",
        f"<td>{escape(component.severity)}</td>",
        f"<td>{escape(level)}</td>",
        f'<td class="num">{component.volume_ml:.3f}</td>',
        f'<td class="num">{component.length_mm:.1f}</td>',
        f'<td class="num">{component.distance_to_vertebral_body_mm:.1f}</td>',
        f'<td class="num">{component.confidence:.2f}</td>',
        f"<td>{escape(component.reason)}</td>",
        f"<td>{image_link}</td>",
    ]
    return f'<tr id="finding-{component.id}" data-finding-id="{component.id}">{"".join(cells)}</tr>'


def _other_rows(findings: Findings) -> str:
    rows = []
    for c in findings.components:
        if c.material == "cement":
            continue
        rows.append(
            f"<tr><td class='num'>{c.id}</td><td>{escape(c.material)}</td><td class='num'>{c.volume_ml:.3f}</td>"
            f"<td class='num'>{c.hu_max:.0f}</td><td>{escape(c.vertebral_level or 'unknown')}</td>"
            f"<td>{escape(c.reason)}</td></tr>"
        )
    return "".join(rows)


def render_html(
    volume: CTVolume,
    findings: Findings,
    *,
    images: dict[str, bytes] | None = None,
    title: str = "cementseg report",
) -> str:
    """The report as one HTML string (images embedded as base64 PNG).

    Args:
        volume: the scanned CT (for the key images).
        findings: what `cementseg.scan` found on it.
        images: PNGs from `images.key_images` when already made; made here otherwise.
        title: page title.
    """
    from .. import __version__

    images = images if images is not None else key_images(volume, findings)
    summary = findings.summary
    cement = reported_findings(findings)
    rows = "".join(_finding_row(c, f"finding_{c.id}" in images) for c in cement)
    figures = []
    for c in cement:
        png = images.get(f"finding_{c.id}")
        if png is None:
            continue
        figures.append(
            f'<figure id="key-{c.id}">'
            + _png_tag(
                png, f"finding {c.id}: {c.location}", **{"data-finding-id": str(c.id), "class": "key-image"}
            )
            + f"<figcaption>Finding {c.id}: {escape(c.location or '-')} ({escape(c.severity)}), "
            f"{c.volume_ml:.3f} mL, {c.length_mm:.1f} mm long, "
            f"{c.distance_to_vertebral_body_mm:.1f} mm from the vertebral body. Top row bone window, "
            f"bottom row cement window.</figcaption></figure>"
        )
    missing = len([c for c in cement if f"finding_{c.id}" not in images])
    if missing:
        figures.append(
            f"<p class='muted'>{missing} further finding(s) without a key image "
            f"(report_max_key_images = {findings.settings.report_max_key_images}).</p>"
        )
    overview = "".join(
        f"<figure id='{name}'>{_png_tag(images[name], caption, **{'class': 'overview-image'})}"
        f"<figcaption>{escape(caption)}</figcaption></figure>"
        for name, caption in (
            ("mip", "Coronal and sagittal MIP, every finding numbered"),
            ("spine_3d", "3D view of the spine and the cement"),
        )
        if name in images
    )
    warnings = findings.input.get("loader_warnings", []) + list(findings.warnings)
    warning_items = "".join(f"<li>{escape(w)}</li>" for w in warnings) or "<li>none</li>"
    other = _other_rows(findings)
    other_table = (
        "<table id='other-candidates'><tr><th>#</th><th>material</th><th>mL</th><th>HU max</th>"
        f"<th>level</th><th>reason</th></tr>{other}</table>"
        if other
        else "<p>none</p>"
    )
    series = findings.input.get("series_uid") or "unknown"
    levels = ", ".join(summary["cemented_levels"]) or "none"
    settings_json = json.dumps(findings.to_dict()["settings"], indent=1, sort_keys=True)
    created = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_STYLE}</style></head>
<body>
<h1>{escape(title)}</h1>
<p class="notice" id="notice">{escape(NOTICE)}</p>
<p class="muted">Series {escape(series)} - cementseg {escape(__version__)} - created {created}</p>
<div class="verdict sev-{escape(summary["highest_severity"])}" id="verdict">{escape(findings.verdict())}</div>
<table id="summary">
<tr><th>cemented levels</th><td>{escape(levels)}</td></tr>
<tr><th>intended fill</th><td>{summary["fill_volume_ml"]:.3f} mL</td></tr>
<tr><th>leaks</th><td>{summary["leak_count"]} ({summary["leak_volume_ml"]:.3f} mL)</td></tr>
<tr><th>highest severity</th><td>{escape(summary["highest_severity"])}</td></tr>
</table>
<h2>Findings</h2>
<table id="findings"><thead><tr><th>#</th><th>location</th><th>severity</th><th>level</th><th>volume mL</th>
<th>length mm</th><th>distance mm</th><th>confidence</th><th>reason</th><th>key image</th></tr></thead>
<tbody>{rows}</tbody></table>
<p class="muted">Distance: from the nearest vertebral body surface (0 = touching). Level: the nearest vertebral body.</p>
<h2>Overview</h2>{overview}
<h2>Key images</h2>{"".join(figures) or "<p>No cement found.</p>"}
<h2>Other dense objects (not cement)</h2>{other_table}
<h2>Warnings</h2><ul id="warnings">{warning_items}</ul>
<h2>Tool and settings</h2>
<p>cementseg {escape(__version__)}; anatomy: {escape(json.dumps(findings.anatomy_source))}</p>
<details><summary>settings used</summary><pre id="settings">{escape(settings_json)}</pre></details>
<p class="notice">{escape(NOTICE)}</p>
</body></html>
"""


def write_html(
    volume: CTVolume, findings: Findings, path: str | Path, *, images: dict[str, bytes] | None = None
) -> Path:
    """Write `render_html` to ``path`` (UTF-8)."""
    path = Path(path)
    path.write_text(render_html(volume, findings, images=images), encoding="utf-8")
    return path
