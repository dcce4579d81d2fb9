"""`scan`: the whole detector as one call -- load, candidates, anatomy, materials, locate.

Each stage is a plain function of the previous stages' outputs; this module only composes
them, times them and packs the result into `Findings`.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .anatomy.anatomy_map import AnatomyMap
from .errors import SettingsError
from .findings import Findings
from .settings import Settings
from .volume import CTVolume

log = logging.getLogger(__name__)


def scan(
    path_or_volume: str | Path | CTVolume,
    *,
    series: str | None = None,
    anatomy: str | Path | AnatomyMap | None = None,
    settings: Settings | None = None,
    anatomy_engine: str = "builtin",
    anatomy_cache_dir: str | Path | None = None,
    **setting_overrides,
) -> Findings:
    """Find bone cement on a CT and say, for every part outside a vertebral body, where it went.

    Args:
        path_or_volume: a DICOM folder/file/zip, a NIfTI/NRRD/MHA file, or a loaded `CTVolume`.
        series: SeriesInstanceUID to load when the path holds several series.
        anatomy: an external anatomy map (TotalSegmentator-layout path, or an `AnatomyMap`);
            None builds the anatomy from the CT itself.
        anatomy_engine: with no ``anatomy``: "builtin" (default) or "totalsegmentator" (run it
            when installed with its weights, else AnatomyEngineUnavailable; docs/totalsegmentator.md).
        anatomy_cache_dir: where TotalSegmentator's output is cached (keyed by series UID).
        settings: tunables; ``setting_overrides`` change single values (``seed_hu=1500``).

    Returns:
        `Findings` with every component, a summary and per-stage timings (s).

    Raises:
        InputError (and subclasses) for unreadable input, AnatomyError for an unusable anatomy map,
        SettingsError for bad settings.
    """
    settings = settings or Settings()
    if setting_overrides:
        settings = settings.replace(**setting_overrides)
    timing: dict[str, float] = {}
    started = time.perf_counter()

    def timed(stage: str, function, *args):
        t0 = time.perf_counter()
        result = function(*args)
        timing[stage] = time.perf_counter() - t0
        return result

    if isinstance(path_or_volume, CTVolume):
        volume = path_or_volume
        timing["load"] = 0.0
    else:
        from .io import load

        # the detector's modules are imported while forked processes read the headers
        volume = timed("load", lambda: load(path_or_volume, series, settings, meanwhile=_import_stages))

    from .anatomy.totalseg_checks import record_anatomy_sources
    from .locate import locate_findings
    from .material import classify_materials
    from .segment import find_candidates

    candidates = timed("candidates", find_candidates, volume, settings)
    anatomy_map = timed(
        "anatomy", _anatomy_for, volume, anatomy, settings, anatomy_engine, anatomy_cache_dir, candidates
    )
    with ThreadPoolExecutor(max_workers=1) as beside:
        spine = _spine_beside(beside, anatomy_map, volume, settings)
        timed("materials", classify_materials, candidates, volume, anatomy_map, settings)
        components = timed("locate", lambda: locate_findings(candidates, volume, anatomy_map, settings, spine()))
    source_warnings = record_anatomy_sources(components, volume, anatomy_map, settings)  # issue 5
    timing["total"] = time.perf_counter() - started
    log.info(
        "scan of %s: %d components in %.2f s",
        volume.meta.get("series_uid", "volume"),
        len(components),
        timing["total"],
    )
    return Findings(
        components=components,
        input=_input_block(volume, path_or_volume),
        settings=settings,
        timing_s=timing,
        anatomy_source=dict(anatomy_map.source),
        warnings=list(anatomy_map.warnings)
        + ([anatomy_map.level_note] if anatomy_map.level_note else [])
        + source_warnings,
    )


def _import_stages() -> None:
    """Import the stages after loading (scipy and the like: about 0.4 s of a scan)."""
    from . import locate, material, segment  # noqa: F401
    from .anatomy import builtin, totalseg_checks, totalsegmentator  # noqa: F401
    from .material import hardware  # noqa: F401


def _spine_beside(pool: ThreadPoolExecutor, anatomy_map: AnatomyMap, volume: CTVolume, settings: Settings):
    """A call giving the locate stage's `SpineContext`, started in ``pool`` now when
    `Settings.scan_threads` allows (its distance transforms run while the materials are classified);
    the call gives None when it was not started (`locate_findings` then builds it)."""
    if settings.scan_threads < 2:
        return lambda: None
    from .spine_context import SpineContext

    return pool.submit(SpineContext, anatomy_map, volume, settings).result


def _anatomy_for(
    volume: CTVolume, anatomy, settings: Settings, engine: str = "builtin", cache_dir=None, candidates=None
) -> AnatomyMap:
    from .anatomy.totalsegmentator import ENGINES, engine_anatomy

    if engine not in ENGINES:
        raise SettingsError(f"unknown anatomy engine {engine!r}; choose {' or '.join(ENGINES)}")
    if anatomy is not None and engine != "builtin":
        raise SettingsError("give either an anatomy map or --anatomy-engine totalsegmentator, not both")
    if isinstance(anatomy, AnatomyMap):
        return anatomy
    from . import anatomy as anatomy_providers

    if anatomy is not None:
        return anatomy_providers.load_external(anatomy, volume, settings)
    if engine == "totalsegmentator":
        return engine_anatomy(volume, settings, cache_dir)
    if candidates is None:
        return anatomy_providers.build(volume, settings)
    from .material.hardware import hardware_voxels

    return anatomy_providers.build(volume, settings, hardware_voxels(candidates, volume, settings))


def _input_block(volume: CTVolume, source) -> dict:
    meta = volume.meta
    return {
        "path": None if isinstance(source, CTVolume) else str(source),
        "series_uid": meta.get("series_uid"),
        "study_uid": meta.get("study_uid"),
        "shape_zyx": list(volume.shape),
        "spacing_mm_zyx": list(volume.spacing_mm),
        "origin_lps_mm": list(volume.origin_lps_mm),
        "direction": volume.direction.tolist(),
        "loader_warnings": list(volume.warnings),
    }
