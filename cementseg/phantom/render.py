"""From painted anatomy and inclusions to CT numbers: partial volume, blur, noise, streaks.

Order matters and follows the physics loosely: the object (tissue HU plus sub-voxel
averaged inclusions) is blurred by the scanner's point-spread function, metal adds streaks,
then correlated quantum noise is added and the result is stored on the 12-bit HU scale.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft
from scipy import ndimage

from .geometry import Grid, fraction
from .inclusions import Inclusion
from .materials import CONTRAST_TRUTH_MIN_HU, HU_CEILING, HU_FLOOR, TISSUE_HU, tissue_hu
from .parts import Part

#: sub-voxel samples per axis used for inclusions (4 -> 64 points per voxel)
SUBVOXEL_SAMPLES = 4
#: noise standard deviation (HU) at the reference voxel volume below
NOISE_SD_HU = 22.0
NOISE_REFERENCE_VOXEL_MM3 = 1.5 * 0.8 * 0.8
#: in-plane point-spread (Gaussian sigma, mm) of a standard body kernel
PSF_SIGMA_MM = 0.45
#: amplitude (HU) of the faint low-frequency heterogeneity of soft tissues
TISSUE_GRAIN_HU = {"soft_tissue": 10.0, "fat": 6.0, "muscle": 5.0, "liver": 5.0, "spleen": 5.0, "kidney": 6.0}
#: which inclusion keeps a voxel two of them claim (higher wins), and the order of blending
KIND_RANK = {"contrast": 0, "calcification": 2, "cement": 4, "metal": 6}


@dataclass
class InclusionMaps:
    """``owner``: the inclusion (index + 1, 0 = none) whose truth each voxel is (uint16);
    ``geometric_mm3``: exact volume of each inclusion inside the grid (sum of its fractions)."""

    owner: np.ndarray
    geometric_mm3: list[float]


def smooth_noise(shape, rng: np.random.Generator, sigma_voxels) -> np.ndarray:
    """Zero-mean, unit-SD Gaussian noise smoothed with ``sigma_voxels`` (a texture field)."""
    field = ndimage.gaussian_filter(rng.standard_normal(shape).astype(np.float32), sigma_voxels)
    return field / max(float(field.std()), 1e-6)


def subvoxel_factors(spacing_mm, target_mm: float = 0.75, max_samples: int = 8) -> tuple[int, int, int]:
    """Sub-samples per axis (z, y, x) so that anatomy is sampled about every ``target_mm``,
    at most ``max_samples`` per voxel (the coarsest axis gives up samples first)."""
    factors = [max(1, int(round(s / target_mm))) for s in spacing_mm]
    while np.prod(factors) > max_samples:
        sub_mm = [s / f if f > 1 else np.inf for s, f in zip(spacing_mm, factors, strict=True)]
        factors[int(np.argmin(sub_mm))] -= 1
    return tuple(factors)


def anatomy_hu(
    part_volume: np.ndarray, parts: list[Part], phase: str, grid: Grid, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """HU of the painted anatomy (float32) and the mask of lumens with dense contrast.

    Partial volume: the anatomy is painted again on sub-voxel shifted grids (`subvoxel_factors`)
    and the tissue HU averaged, so every edge -- cortex, vessel wall, lung surface -- is
    partial-volumed like the cement. Each vertebra's cancellous core gets its own osteoporotic
    density (80-150 HU) and a trabecular texture (about 25 HU, 1 mm grain); soft tissues get
    a faint low-frequency heterogeneity (5-10 HU, about 6 mm grain).
    """
    hu_of = tissue_hu(phase)
    lut = np.full(len(parts) + 1, TISSUE_HU["air"], np.float32)
    grain_hu = np.zeros(len(parts) + 1, np.float32)
    dense = np.zeros(len(parts) + 1, bool)
    for index, part in enumerate(parts, start=1):
        value = hu_of[part.tissue]
        if part.tissue == "cancellous_bone":
            value = rng.uniform(80.0, 150.0)
        lut[index] = value
        grain_hu[index] = TISSUE_GRAIN_HU.get(part.tissue, 0.0)
        dense[index] = value >= CONTRAST_TRUTH_MIN_HU and part.tissue.endswith("blood")
    hu = _supersampled(lut, parts, grid) if np.prod(subvoxel_factors(grid.spacing_mm)) > 1 else lut[part_volume]
    hu += grain_hu[part_volume] * _coarse_texture(grid, rng, 6.0)
    cancellous = np.isin(
        part_volume, [i for i, p in enumerate(parts, start=1) if p.tissue == "cancellous_bone"]
    )
    if cancellous.any():
        zyx = np.nonzero(cancellous)
        box = tuple(slice(int(a.min()), int(a.max()) + 1) for a in zyx)
        grain = smooth_noise(hu[box].shape, rng, np.array([1.0, 1.0, 1.0]) / np.asarray(grid.spacing_mm))
        hu[box] += np.where(cancellous[box], 25.0 * grain, 0.0).astype(np.float32)
    return hu, dense[part_volume]


def _supersampled(lut: np.ndarray, parts: list[Part], grid: Grid) -> np.ndarray:
    """Mean tissue HU over sub-voxel shifted paintings of the anatomy."""
    from .anatomy import paint_anatomy  # the painter lives with the anatomy

    factors = subvoxel_factors(grid.spacing_mm)
    offsets = [((np.arange(n) + 0.5) / n - 0.5) * s for n, s in zip(factors, grid.spacing_mm, strict=True)]
    total = np.zeros(grid.shape, np.float32)
    for dz in offsets[0]:
        for dy in offsets[1]:
            for dx in offsets[2]:
                origin = np.asarray(grid.origin_lps_mm) + (dx, dy, dz)
                shifted, _ = paint_anatomy(Grid(grid.shape, grid.spacing_mm, tuple(origin)), parts)
                total += lut[shifted]
    return total / np.prod(factors)


def _coarse_texture(grid: Grid, rng: np.random.Generator, grain_mm: float) -> np.ndarray:
    """Unit-SD smooth texture with a ``grain_mm`` grain, drawn on a coarse grid and interpolated."""
    step = np.maximum(np.asarray(grid.spacing_mm), grain_mm / 2)
    coarse_shape = tuple(int(np.ceil(n * s / c)) + 2 for n, s, c in zip(grid.shape, grid.spacing_mm, step, strict=True))
    coarse = smooth_noise(coarse_shape, rng, grain_mm / 2 / step)
    zoom = [n / c for n, c in zip(grid.shape, coarse_shape, strict=True)]
    field = ndimage.zoom(coarse, zoom, order=1, mode="nearest")
    return field[: grid.shape[0], : grid.shape[1], : grid.shape[2]].astype(np.float32)


def add_inclusions(
    hu: np.ndarray,
    grid: Grid,
    inclusions: list[Inclusion],
    rng: np.random.Generator,
    samples: int = SUBVOXEL_SAMPLES,
) -> InclusionMaps:
    """Blend every inclusion into ``hu`` by its sub-voxel fraction, and choose its truth voxels.

    An inclusion's truth is the N voxels it fills most, N = round(its volume / voxel volume),
    with the voxels its centre lines pass through ranked first (so a thin leak stays connected
    on coarse voxels, and N grows to hold them). Truth volume then equals the geometric volume
    to within half a voxel unless the object is thinner than a voxel. Where two inclusions
    claim a voxel, metal beats cement beats calcification beats contrast, and between equals
    the one filling more of the voxel wins; inclusions are blended into ``hu`` in that order.
    """
    owner = np.zeros(grid.shape, np.uint16)
    strength = np.zeros(grid.shape, np.float32)
    geometric_mm3 = [0.0] * len(inclusions)
    for index, inclusion in sorted(enumerate(inclusions, start=1), key=lambda item: KIND_RANK[item[1].kind]):
        result = fraction(grid, inclusion.solid, samples)
        if result is None:
            continue
        box, f = result
        geometric_mm3[index - 1] = float(f.sum(dtype=np.float64)) * grid.voxel_volume_mm3
        value = np.float32(inclusion.hu)
        if inclusion.texture_hu:
            value = value + inclusion.texture_hu * smooth_noise(
                f.shape, rng, 1.2 / np.asarray(grid.spacing_mm)
            )
        hu[box] = hu[box] * (1.0 - f) + value * f
        priority = f.copy()
        for line in inclusion.centrelines:
            mark_centreline(priority, grid, line, 2.0, box)
        priority[f == 0] = 0.0  # a centre line only counts where the object is
        chosen = _largest(
            priority, max(int(round(float(f.sum(dtype=np.float64)))), int((priority >= 2.0).sum()))
        )
        claim = KIND_RANK[inclusion.kind] + np.minimum(priority, 1.0)
        wins = chosen & (claim > strength[box])
        owner[box][wins] = index
        strength[box][wins] = claim[wins]
    return InclusionMaps(owner, geometric_mm3)


def _largest(values: np.ndarray, n: int) -> np.ndarray:
    """Mask of the ``n`` largest positive values (ties broken by position, deterministically)."""
    chosen = np.zeros(values.shape, bool)
    flat = values.ravel()
    n = min(n, int((flat > 0).sum()))
    if n > 0:
        order = np.argsort(-flat, kind="stable")[:n]
        chosen.ravel()[order] = True
    return chosen


def mark_centreline(
    volume: np.ndarray,
    grid: Grid,
    points: np.ndarray,
    value: float,
    box: tuple[slice, slice, slice] | None = None,
) -> None:
    """Set ``value`` in every voxel a polyline through LPS mm ``points`` passes through.

    ``volume`` covers the whole grid, or only ``box`` (z, y, x slices) of it.
    """
    points = np.asarray(points, float)
    step = 0.25 * min(grid.spacing_mm)
    samples = [points[:1]]
    for a, b in zip(points[:-1], points[1:], strict=True):
        n = max(int(np.ceil(np.linalg.norm(b - a) / step)), 1)
        samples.append(a + (b - a) * (np.arange(1, n + 1) / n)[:, None])
    lps = np.concatenate(samples)
    origin = np.asarray(grid.origin_lps_mm)
    spacing_xyz = np.asarray(grid.spacing_mm)[::-1]
    zyx = np.rint((lps - origin) / spacing_xyz).astype(int)[:, ::-1]
    if box is not None:
        zyx -= np.array([s.start for s in box])
    inside = np.all((zyx >= 0) & (zyx < np.asarray(volume.shape)), axis=1)
    volume[tuple(zyx[inside].T)] = value


def blur(hu: np.ndarray, grid: Grid, sigma_mm: float = PSF_SIGMA_MM) -> np.ndarray:
    """Scanner point-spread: Gaussian in-plane ``sigma_mm`` and a slice profile of about a third of a slice."""
    sigma = (0.3, sigma_mm / grid.spacing_mm[1], sigma_mm / grid.spacing_mm[2])
    return ndimage.gaussian_filter(hu, sigma, mode="nearest")


def noise_sd_hu(grid: Grid) -> float:
    """Noise SD (HU) for this voxel size: quantum noise falls with the square root of voxel volume."""
    return float(max(NOISE_SD_HU * np.sqrt(NOISE_REFERENCE_VOXEL_MM3 / grid.voxel_volume_mm3), 5.0))


def correlated_noise(grid: Grid, rng: np.random.Generator, sd_hu: float) -> np.ndarray:
    """CT-like noise: white noise shaped in-plane by a ramp-times-Gaussian noise power spectrum
    peaking at 40% of the Nyquist frequency (a standard body kernel reconstructed on a matched
    matrix: blotchy grain a few pixels wide), slightly correlated along z."""
    white = rng.standard_normal(grid.shape, dtype=np.float32)
    fy = np.fft.fftfreq(grid.shape[1], grid.spacing_mm[1])
    fx = np.fft.rfftfreq(grid.shape[2], grid.spacing_mm[2])
    f = np.hypot(fy[:, None], fx[None, :])
    cutoff = 0.4 * np.sqrt(2.0) * 0.5 / max(grid.spacing_mm[1], grid.spacing_mm[2])
    shaping = (f * np.exp(-((f / cutoff) ** 2))).astype(np.float32)
    spectrum = scipy.fft.rfft2(white, axes=(1, 2), workers=2)
    spectrum *= shaping[None]
    noise = scipy.fft.irfft2(spectrum, s=grid.shape[1:], axes=(1, 2), workers=2)
    noise = ndimage.gaussian_filter1d(noise, 0.5, axis=0)
    return (noise * (sd_hu / max(float(noise.std()), 1e-6))).astype(np.float32)


def metal_streaks(metal: np.ndarray, grid: Grid, rng: np.random.Generator, strength_hu: float = 180.0) -> np.ndarray:
    """Bright and dark streaks radiating from metal in each slice, and dark bands between metal objects.

    ``metal`` is a boolean (z, y, x) mask of metal (or very dense) voxels. Streak directions are
    drawn once, so neighbouring slices through the same implant streak alike; strength grows
    with the amount of metal in the slice and fades with distance (about 60 mm).
    """
    streaks = np.zeros(grid.shape, np.float32)
    y = (np.arange(grid.shape[1]) * grid.spacing_mm[1])[:, None]
    x = (np.arange(grid.shape[2]) * grid.spacing_mm[2])[None, :]
    angles = rng.uniform(0, np.pi, 6)
    pixel_mm2 = grid.spacing_mm[1] * grid.spacing_mm[2]
    for z in np.flatnonzero(metal.any(axis=(1, 2))):
        blobs, n = ndimage.label(metal[z])
        sizes = ndimage.sum_labels(np.ones_like(blobs), blobs, range(1, n + 1))
        keep = np.argsort(sizes)[::-1][:4]
        centres = [np.asarray(c) * (grid.spacing_mm[1], grid.spacing_mm[2]) for c in ndimage.center_of_mass(metal[z], blobs, keep + 1)]
        for c, size in zip(centres, sizes[keep], strict=True):
            amplitude = strength_hu * min(np.sqrt(size * pixel_mm2 / 30.0), 2.0)
            fade = np.exp(-np.hypot(y - c[0], x - c[1]) / 60.0)
            for k, angle in enumerate(angles):
                d = np.abs((x - c[1]) * np.sin(angle) - (y - c[0]) * np.cos(angle))
                streaks[z] += (1.0 if k % 2 else -1.0) * amplitude * np.exp(-((d / 1.5) ** 2)) * fade
        for i in range(len(centres)):
            for j in range(i + 1, len(centres)):
                a, b = centres[i], centres[j]
                span = max(float(np.linalg.norm(b - a)), 1e-6)
                direction = (b - a) / span
                d = np.abs((x - a[1]) * direction[0] - (y - a[0]) * direction[1])
                t = ((y - a[0]) * direction[0] + (x - a[1]) * direction[1]) / span
                streaks[z] -= 0.8 * strength_hu * np.exp(-((d / 3.0) ** 2)) * ((t > 0) & (t < 1))
    return streaks


def to_stored_hu(hu: np.ndarray) -> np.ndarray:
    """Round and clip to the 12-bit CT scale (-1024..3071 HU), int16."""
    return np.clip(np.rint(hu), HU_FLOOR, HU_CEILING).astype(np.int16)
