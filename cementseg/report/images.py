"""Key images of a scan (matplotlib, Agg, no display needed).

* `finding_figure`: axial, coronal and sagittal slices through one finding, cement outlined
  and coloured by location, in a bone window and in a window that shows detail inside cement.
* `mip_figure`: coronal and sagittal maximum-intensity projections of the whole scan with
  every finding numbered.
* `render_3d_figure`: marching-cubes surfaces of the spine (bone threshold, coarse voxels)
  and of the cement, coloured by location.

Views are drawn in the radiological convention whatever the array order: the volume is put
in the nearest (S, P, L) axis order (`canonical_view`), so axial images have the patient's
right on the image's left and anterior up, coronal and sagittal images have cranial up and
sagittal images have anterior on the left. Oblique series are shown along their nearest
patient axes (the labels say so); measurements never come from these pictures.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ..findings import Component, Findings
from ..settings import Settings
from ..vocabulary import LOCATIONS, severity_rank
from ..volume import CTVolume

#: outline and marker colour of cement per location (the fill in a calm blue, leaks warmer)
LOCATION_COLOURS: dict[str, str] = {
    "vertebral_body": "#4f9dff",
    "intradiscal": "#7fdc5a",
    "spinal_canal": "#ff2d2d",
    "neural_foramen": "#ff9a1f",
    "paravertebral_venous": "#ffd21f",
    "paravertebral_soft_tissue": "#c6e85a",
    "inferior_vena_cava": "#ff3fd2",
    "azygos_system": "#ffb0e6",
    "right_heart": "#d21fff",
    "pulmonary_artery": "#a46bff",
    "needle_tract": "#3fe0d0",
    "other": "#ffffff",
}
PNG_DPI = 80


def location_colour(location: str | None) -> str:
    """The outline colour of a location (white for an unknown one)."""
    return LOCATION_COLOURS.get(location or "other", "#ffffff")


def reported_findings(findings: Findings) -> list[Component]:
    """Cement components in reading order: leaks (most severe, then largest, first), then fills."""
    cement = [c for c in findings.components if c.material == "cement"]
    return sorted(cement, key=lambda c: (not c.is_leak, -severity_rank(c.severity), -c.volume_ml, c.id))


@dataclass
class CanonicalView:
    """An array (and its labels) in (S, P, L) axis order, index increasing towards S, P and L.

    ``hu[s]`` is an axial image (rows anterior -> posterior, columns right -> left),
    ``hu[:, p]`` a coronal and ``hu[:, :, l]`` a sagittal one. Arrays are views, not copies.
    """

    hu: np.ndarray
    labels: np.ndarray
    spacing_mm: tuple[float, float, float]
    axes: tuple[int, int, int]
    flips: tuple[bool, bool, bool]
    shape_zyx: tuple[int, int, int]
    oblique: bool

    def index_of(self, zyx: np.ndarray) -> np.ndarray:
        """(n, 3) original (z, y, x) indices -> (n, 3) canonical (S, P, L) indices."""
        zyx = np.atleast_2d(zyx)
        out = zyx[:, list(self.axes)].astype(float)
        for k, flip in enumerate(self.flips):
            if flip:
                out[:, k] = self.shape_zyx[self.axes[k]] - 1 - out[:, k]
        return out


def canonical_view(volume: CTVolume, labels: np.ndarray) -> CanonicalView:
    """Put ``volume.hu`` and the (z, y, x) ``labels`` in (S, P, L) order (see `CanonicalView`)."""
    axes, flips = [], []
    for lps_axis in (2, 1, 0):  # S, P, L
        array_axis, sign = volume.axis_of(lps_axis)
        axes.append(array_axis)
        flips.append(sign < 0)
    if len(set(axes)) != 3:  # a 45-degree obliquity maps two axes to one: keep the array order
        axes, flips = [0, 1, 2], [False, False, False]
    oblique = not np.allclose(np.abs(volume.direction), np.round(np.abs(volume.direction)), atol=1e-3)

    def orient(array: np.ndarray) -> np.ndarray:
        array = array.transpose(axes)
        index = tuple(slice(None, None, -1) if f else slice(None) for f in flips)
        return array[index]

    spacing = tuple(volume.spacing_mm[a] for a in axes)
    return CanonicalView(
        orient(volume.hu), orient(labels), spacing, tuple(axes), tuple(flips), volume.shape, oblique
    )


def _window(centre_width: tuple[float, float]) -> tuple[float, float]:
    centre, width = centre_width
    return centre - width / 2, centre + width / 2


def _focus_voxel(view: CanonicalView, component: Component) -> np.ndarray:
    """Canonical index of the finding's voxel nearest to its centroid (the slices pass through it)."""
    zyx = np.stack(np.unravel_index(component.flat_index, view.shape_zyx), axis=1)
    canonical = view.index_of(zyx)
    centre = canonical.mean(axis=0)
    return canonical[np.argmin(((canonical - centre) ** 2).sum(axis=1))].astype(int)


def _extent_box(view: CanonicalView, component: Component, margin_mm: float) -> list[tuple[int, int]]:
    """(low, high) canonical index range per axis: the finding plus ``margin_mm`` around it."""
    zyx = np.stack(np.unravel_index(component.flat_index, view.shape_zyx), axis=1)
    canonical = view.index_of(zyx)
    box = []
    for k in range(3):
        pad = int(np.ceil(margin_mm / view.spacing_mm[k]))
        low = max(0, int(canonical[:, k].min()) - pad)
        high = min(view.hu.shape[k], int(canonical[:, k].max()) + pad + 1)
        box.append((low, high))
    return box


def _outline(ax, label_slice: np.ndarray, findings_by_id: dict[int, Component], focus_id: int) -> None:
    """Outline every cement component cut by this slice in its location colour (focus drawn thicker)."""
    for value in np.unique(label_slice):
        component = findings_by_id.get(int(value))
        if component is None:
            continue
        mask = (label_slice == value).astype(float)
        if mask.shape[0] < 2 or mask.shape[1] < 2:
            continue
        width = 1.6 if component.id == focus_id else 0.7
        ax.contour(mask, levels=[0.5], colors=[location_colour(component.location)], linewidths=width)


def finding_figure(
    volume: CTVolume,
    findings: Findings,
    component: Component,
    *,
    view: CanonicalView | None = None,
    settings: Settings | None = None,
) -> Figure:
    """Axial, coronal and sagittal slices through ``component`` in a bone and a cement window.

    Args:
        volume: the scanned CT.
        findings: the scan's findings (all cement in the slices is outlined).
        component: the finding to centre on.
        view: a prepared `canonical_view` (saves rebuilding the label volume per finding).
        settings: windows and margin; default ``findings.settings``.
    """
    settings = settings or findings.settings
    if view is None:
        view = canonical_view(volume, findings.label_volume())
    by_id = {c.id: c for c in reported_findings(findings)}
    s, p, lr = _focus_voxel(view, component)
    (s0, s1), (p0, p1), (l0, l1) = _extent_box(view, component, settings.report_view_margin_mm)
    ss, sp, sl = view.spacing_mm
    planes = (
        ("axial", view.hu[s, p0:p1, l0:l1], view.labels[s, p0:p1, l0:l1], sp / sl, "upper", ("R", "L")),
        ("coronal", view.hu[s0:s1, p, l0:l1], view.labels[s0:s1, p, l0:l1], ss / sl, "lower", ("R", "L")),
        ("sagittal", view.hu[s0:s1, p0:p1, lr], view.labels[s0:s1, p0:p1, lr], ss / sp, "lower", ("A", "P")),
    )
    windows = (("bone", settings.report_bone_window_hu), ("cement", settings.report_cement_window_hu))
    fig = Figure(figsize=(9.6, 6.6), facecolor="black")
    axes = fig.subplots(2, 3)
    for row, (window_name, centre_width) in enumerate(windows):
        vmin, vmax = _window(centre_width)
        for col, (plane, image, labels, aspect, origin, (left, right)) in enumerate(planes):
            ax = axes[row, col]
            ax.imshow(
                image,
                cmap="gray",
                vmin=vmin,
                vmax=vmax,
                aspect=aspect,
                origin=origin,
                interpolation="nearest",
            )
            _outline(ax, labels, by_id, component.id)  # contour and imshow share pixel coordinates
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_facecolor("black")
            ax.set_title(
                f"{plane} - {window_name} W{centre_width[1]:.0f}/L{centre_width[0]:.0f}",
                color="white",
                fontsize=8,
            )
            ax.text(0.01, 0.5, left, color="yellow", fontsize=8, transform=ax.transAxes, va="center")
            ax.text(
                0.99, 0.5, right, color="yellow", fontsize=8, transform=ax.transAxes, va="center", ha="right"
            )
    fig.suptitle(
        _caption(component) + ("  (oblique series: nearest axes)" if view.oblique else ""),
        color=location_colour(component.location),
        fontsize=10,
    )
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=0.9, wspace=0.03, hspace=0.12)
    return fig


def _caption(component: Component) -> str:
    where = component.location or component.material
    level = component.vertebral_level or "level ?"
    return (
        f"#{component.id} {where} ({component.severity}) - {level} - {component.volume_ml:.2f} mL, "
        f"{component.length_mm:.0f} mm long, {component.distance_to_vertebral_body_mm:.0f} mm from body"
    )


def mip_figure(
    volume: CTVolume,
    findings: Findings,
    *,
    view: CanonicalView | None = None,
    settings: Settings | None = None,
) -> Figure:
    """Coronal and sagittal maximum-intensity projections of the whole scan, findings numbered."""
    settings = settings or findings.settings
    if view is None:
        view = canonical_view(volume, findings.label_volume())
    vmin, vmax = _window(settings.report_bone_window_hu)
    ss, sp, sl = view.spacing_mm
    coronal = view.hu.max(axis=1)  # (S, L)
    sagittal = view.hu.max(axis=2)  # (S, P)
    width_mm = coronal.shape[1] * sl + sagittal.shape[1] * sp
    height_in = float(np.clip(9.6 * coronal.shape[0] * ss / width_mm, 2.5, 10.0)) + 0.8  # + titles, legend
    fig = Figure(figsize=(9.6, height_in), facecolor="black")
    axes = fig.subplots(1, 2, width_ratios=[coronal.shape[1] * sl, sagittal.shape[1] * sp])
    for ax, image, aspect, title, (left, right) in (
        (axes[0], coronal, ss / sl, "coronal MIP", ("R", "L")),
        (axes[1], sagittal, ss / sp, "sagittal MIP", ("A", "P")),
    ):
        ax.imshow(
            image, cmap="gray", vmin=vmin, vmax=vmax, aspect=aspect, origin="lower", interpolation="nearest"
        )
        ax.set_title(title, color="white", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.text(0.01, 0.98, left, color="yellow", fontsize=8, transform=ax.transAxes, va="top")
        ax.text(0.99, 0.98, right, color="yellow", fontsize=8, transform=ax.transAxes, va="top", ha="right")
    present = set()
    for component in reported_findings(findings):
        if not len(component.flat_index):
            continue
        zyx = np.stack(np.unravel_index(component.flat_index, view.shape_zyx), axis=1)
        s, p, lr = view.index_of(zyx).mean(axis=0)
        colour = location_colour(component.location)
        present.add(component.location)
        for ax, (x, y) in ((axes[0], (lr, s)), (axes[1], (p, s))):
            ax.plot([x], [y], marker="o", markersize=9, markerfacecolor="none", markeredgecolor=colour)
            ax.annotate(
                str(component.id),
                (x, y),
                xytext=(6, 4),
                textcoords="offset points",
                color=colour,
                fontsize=8,
                fontweight="bold",
            )
    _legend(fig, present)
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.6 / height_in, top=1 - 0.3 / height_in, wspace=0.03)
    return fig


def _legend(fig: Figure, locations: set[str | None]) -> None:
    ordered = [name for name in LOCATIONS.values() if name in locations]
    if not ordered:
        return
    handles = [
        Line2D([], [], color=location_colour(n), marker="o", linestyle="none", markerfacecolor="none")
        for n in ordered
    ]
    legend = fig.legend(
        handles, ordered, loc="lower center", ncol=min(len(ordered), 6), fontsize=7, frameon=False
    )
    for text in legend.get_texts():
        text.set_color("white")


def render_3d_figure(volume: CTVolume, findings: Findings, *, view: CanonicalView | None = None,
                     settings: Settings | None = None) -> Figure:
    """Marching-cubes surfaces of the spine (HU above ``report_3d_bone_hu``) and the cement.

    Drawn on ``report_3d_voxel_mm`` voxels (block maximum, so thin leaks survive), cropped to
    the cement and the spine around it; axes in LPS mm.
    """
    from mpl_toolkits.mplot3d.art3d import Poly3DCollection
    from skimage.measure import block_reduce, marching_cubes

    settings = settings or findings.settings
    if view is None:
        view = canonical_view(volume, findings.label_volume())
    factors = tuple(max(1, int(round(settings.report_3d_voxel_mm / s))) for s in view.spacing_mm)
    spacing = tuple(f * s for f, s in zip(factors, view.spacing_mm, strict=True))
    cement = reported_findings(findings)
    box = _cement_box(view, cement, margin_mm=60.0)
    hu = view.hu[box]
    bone = block_reduce(hu > settings.report_3d_bone_hu, factors, np.max)
    fig = Figure(figsize=(6.4, 6.4))
    ax = fig.add_subplot(projection="3d")
    if bone.any() and min(bone.shape) >= 2:
        verts, faces, _, _ = marching_cubes(
            np.pad(bone, 1).astype(np.uint8), 0.5, spacing=spacing, step_size=1
        )
        ax.add_collection3d(
            Poly3DCollection(
                verts[faces][:, :, ::-1], facecolors="#d8d2c4", alpha=0.3, linewidths=0, shade=True
            )
        )
    labels = view.labels[box]
    present = set()
    for location in LOCATIONS.values():
        ids = [c.id for c in cement if c.location == location]
        if not ids:
            continue
        mask = block_reduce(np.isin(labels, ids), factors, np.max)
        if not mask.any():
            continue
        verts, faces, _, _ = marching_cubes(np.pad(mask, 1).astype(np.uint8), 0.5, spacing=spacing)
        ax.add_collection3d(
            Poly3DCollection(
                verts[faces][:, :, ::-1],
                facecolors=location_colour(location),
                alpha=0.9,
                linewidths=0,
                shade=True,
            )
        )
        present.add(location)
    extent = [(n + 2) * s for n, s in zip(bone.shape, spacing, strict=True)]  # (S, P, L) mm
    ax.set_xlim(0, extent[2])
    ax.set_ylim(extent[1], 0)  # anterior towards the viewer
    ax.set_zlim(0, extent[0])
    ax.set_box_aspect((extent[2], extent[1], extent[0]))
    ax.set_xlabel("to patient left (mm)", fontsize=7)
    ax.set_ylabel("to posterior (mm)", fontsize=7)
    ax.set_zlabel("to cranial (mm)", fontsize=7)
    ax.tick_params(labelsize=6)
    ax.view_init(elev=10, azim=-60)
    ax.set_title("spine and cement (3D)", fontsize=9)
    handles = [
        Line2D([], [], color=location_colour(n), linewidth=6) for n in LOCATIONS.values() if n in present
    ]
    if handles:
        ax.legend(handles, [n for n in LOCATIONS.values() if n in present], fontsize=7, loc="upper left")
    return fig


def _cement_box(view: CanonicalView, cement: list[Component], margin_mm: float) -> tuple[slice, slice, slice]:
    """Full cranio-caudal range; in-plane the cement plus ``margin_mm`` (the whole plane without cement)."""
    flat = np.concatenate([c.flat_index for c in cement]) if cement else np.zeros(0, np.int64)
    if not len(flat):
        return (slice(None),) * 3
    zyx = np.stack(np.unravel_index(flat, view.shape_zyx), axis=1)
    canonical = view.index_of(zyx)
    box = [slice(None)]
    for k in (1, 2):
        pad = int(np.ceil(margin_mm / view.spacing_mm[k]))
        box.append(slice(max(0, int(canonical[:, k].min()) - pad), int(canonical[:, k].max()) + pad + 1))
    return tuple(box)


def figure_png(fig: Figure, dpi: int = PNG_DPI) -> bytes:
    """The figure as PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, facecolor=fig.get_facecolor())
    return buffer.getvalue()


def key_images(volume: CTVolume, findings: Findings, settings: Settings | None = None) -> dict[str, bytes]:
    """PNG bytes by name: ``finding_<id>`` per reported finding (at most ``report_max_key_images``),
    ``mip`` and ``spine_3d``."""
    settings = settings or findings.settings
    view = canonical_view(volume, findings.label_volume())
    images = {}
    drawable = [c for c in reported_findings(findings) if len(c.flat_index)]
    for component in drawable[: settings.report_max_key_images]:
        images[f"finding_{component.id}"] = figure_png(
            finding_figure(volume, findings, component, view=view, settings=settings)
        )
    images["mip"] = figure_png(mip_figure(volume, findings, view=view, settings=settings))
    images["spine_3d"] = figure_png(render_3d_figure(volume, findings, view=view, settings=settings))
    return images


def write_pngs(
    volume: CTVolume, findings: Findings, folder: str | Path, images: dict[str, bytes] | None = None
) -> list[Path]:
    """Write `key_images` (or ``images`` made by it already) as ``<folder>/<name>.png``; returns the paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, png in (images if images is not None else key_images(volume, findings)).items():
        path = folder / f"{name}.png"
        path.write_bytes(png)
        paths.append(path)
    return paths
