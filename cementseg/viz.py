"""Pictures of a scan for Python and Jupyter: matplotlib figures, and a slice browser.

`show` returns the report's figures (key views per finding, MIP, 3D) as matplotlib `Figure`
objects, which Jupyter displays inline; `browse` is an ipywidgets slice browser (install the
``[notebooks]`` extra).
"""

from __future__ import annotations

from matplotlib.figure import Figure

from .findings import Findings
from .report.images import (
    canonical_view,
    finding_figure,
    location_colour,
    mip_figure,
    render_3d_figure,
    reported_findings,
)
from .volume import CTVolume


def show(volume: CTVolume, findings: Findings, *, finding_ids: list[int] | None = None, mip: bool = True,
         render_3d: bool = False, max_findings: int = 6) -> list[Figure]:
    """Figures of a scan: the MIP overview, then slices through each finding, then (optionally) 3D.

    Args:
        volume: the scanned CT.
        findings: `cementseg.scan` result for it.
        finding_ids: which findings to show (default: the first ``max_findings`` in reading order,
            leaks first).
        mip: include the coronal/sagittal MIP with every finding numbered.
        render_3d: include the marching-cubes view of spine and cement (slower).
    """
    view = canonical_view(volume, findings.label_volume())
    cement = reported_findings(findings)
    if finding_ids is not None:
        wanted = set(finding_ids)
        unknown = wanted - {c.id for c in cement}
        if unknown:
            raise ValueError(f"no cement finding with id(s) {sorted(unknown)}")
        chosen = [c for c in cement if c.id in wanted]
    else:
        chosen = cement[:max_findings]
    figures = [mip_figure(volume, findings, view=view)] if mip else []
    figures += [finding_figure(volume, findings, c, view=view) for c in chosen]
    if render_3d:
        figures.append(render_3d_figure(volume, findings, view=view))
    return figures


def browse(volume: CTVolume, findings: Findings, *, window_hu: tuple[float, float] | None = None):
    """An axial slice browser (ipywidgets slider) with the cement outlined by location.

    Returns the widget; display it in Jupyter. Raises ImportError without ipywidgets.
    """
    try:
        import ipywidgets as widgets
    except ImportError as error:
        raise ImportError("cementseg.viz.browse needs ipywidgets: pip install 'cementseg[notebooks]'") from error
    view = canonical_view(volume, findings.label_volume())
    centre, width = window_hu or findings.settings.report_bone_window_hu
    by_id = {c.id: c for c in reported_findings(findings)}
    output = widgets.Output()
    first = int(view.index_of(_first_voxel(findings, view))[0][0]) if by_id else view.hu.shape[0] // 2
    slider = widgets.IntSlider(value=first, min=0, max=view.hu.shape[0] - 1, description="axial",
                               continuous_update=False)

    def draw(change=None) -> None:
        s = slider.value
        fig = Figure(figsize=(6, 6))
        ax = fig.subplots()
        ax.imshow(view.hu[s], cmap="gray", vmin=centre - width / 2, vmax=centre + width / 2,
                  aspect=view.spacing_mm[1] / view.spacing_mm[2], interpolation="nearest")
        for value in set(view.labels[s].ravel().tolist()) & set(by_id):
            component = by_id[value]
            ax.contour(view.labels[s] == value, levels=[0.5], colors=[location_colour(component.location)])
        ax.set_title(f"axial slice {s} (patient right on the left)")
        ax.set_axis_off()
        output.clear_output(wait=True)
        with output:
            from IPython.display import display

            display(fig)

    slider.observe(draw, names="value")
    draw()
    return widgets.VBox([slider, output])


def _first_voxel(findings: Findings, view):
    import numpy as np

    component = reported_findings(findings)[0]
    return np.array(np.unravel_index(component.flat_index[:1], view.shape_zyx)).T
