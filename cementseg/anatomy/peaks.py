"""Prominent peaks of a 1-D profile: `scipy.signal.find_peaks` with ``prominence``, and its
``distance`` criterion on its own (`peak_spacing`).

The disc finder needs only these two criteria. Importing scipy.signal pulls in scipy.stats and
costs about half a second at start-up (more than the whole anatomy of a small scan), so the
same algorithm is kept here; tests/test_anatomy_peaks.py checks it against scipy sample for
sample.
"""

from __future__ import annotations

import numpy as np


def find_peaks(x: np.ndarray, prominence: float = 0.0) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(peak indices, {"prominences": ...}) as ``scipy.signal.find_peaks(x, prominence=)``.

    Peaks are local maxima (the middle of a flat top, never the first or last sample) whose
    prominence (height above the higher of the lowest points on either side before a higher
    sample) reaches ``prominence``.
    """
    x = np.asarray(x, dtype=float)
    peaks = _local_maxima(x)
    prominences = np.array([_prominence(x, p) for p in peaks], dtype=float)
    keep = prominences >= prominence
    return peaks[keep], {"prominences": prominences[keep]}


def _local_maxima(x: np.ndarray) -> np.ndarray:
    peaks = []
    i, last = 1, len(x) - 1
    while i < last:
        if x[i - 1] < x[i]:
            ahead = i + 1
            while ahead < last and x[ahead] == x[i]:
                ahead += 1
            if x[ahead] < x[i]:
                peaks.append((i + ahead - 1) // 2)
                i = ahead
        i += 1
    return np.array(peaks, dtype=np.intp)


def peak_spacing(peaks: np.ndarray, heights: np.ndarray, distance: int) -> np.ndarray:
    """Keep-mask of ``peaks`` (sorted indices) at least ``distance`` samples apart: from the
    highest down, each kept peak removes lower ones closer than that (scipy's ``distance``)."""
    keep = np.ones(len(peaks), dtype=bool)
    for j in np.argsort(heights)[::-1]:
        if not keep[j]:
            continue
        k = j - 1
        while k >= 0 and peaks[j] - peaks[k] < distance:
            keep[k] = False
            k -= 1
        k = j + 1
        while k < len(peaks) and peaks[k] - peaks[j] < distance:
            keep[k] = False
            k += 1
    return keep


def _prominence(x: np.ndarray, peak: int) -> float:
    top = x[peak]
    left = right = top
    i = peak
    while i >= 0 and x[i] <= top:
        left = min(left, x[i])
        i -= 1
    i = peak
    while i < len(x) and x[i] <= top:
        right = min(right, x[i])
        i += 1
    return float(top - max(left, right))
