"""DICOMweb calls (dicomweb-client): QIDO-RS to find CT series, WADO-RS to fetch, STOW-RS to store.

Every network failure becomes one `PacsError` line naming the server and what failed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from pydicom.dataset import Dataset

from ..errors import InputError
from .config import PacsConfig

#: the series attributes asked for in QIDO-RS
QIDO_FIELDS = ("StudyDate", "SeriesDescription", "BodyPartExamined", "NumberOfSeriesRelatedInstances")


class PacsError(InputError):
    """The PACS could not be reached, refused the login, or failed a request."""


@dataclass(frozen=True)
class RemoteSeries:
    """A CT series found on the PACS (from QIDO-RS)."""

    study_uid: str
    series_uid: str
    study_date: str | None
    description: str
    body_part: str | None
    n_instances: int | None


def connect(config: PacsConfig):
    """A `dicomweb_client.DICOMwebClient` with basic auth and TLS verification (system CAs or the bundle)."""
    try:
        import requests
        from dicomweb_client.api import DICOMwebClient
    except ImportError as error:
        raise PacsError("the PACS commands need dicomweb-client: pip install 'cementseg[pacs]'") from error
    session = requests.Session()
    if config.username is not None:
        session.auth = (config.username, config.password)
    session.verify = config.ca_bundle or True
    client = DICOMwebClient(url=config.url, session=session, timeout=config.timeout_s)
    client.set_http_retry_params(retry=config.max_attempts > 1, max_attempts=config.max_attempts)
    return client


def dicom_date_range(since: str | None, until: str | None) -> str | None:
    """``YYYY-MM-DD``/``YYYYMMDD`` bounds as a DICOM date range (``since-until``, open ends allowed)."""
    if since is None and until is None:
        return None
    bounds = []
    for value in (since, until):
        text = (value or "").replace("-", "")
        if text and not re.fullmatch(r"\d{8}", text):
            raise PacsError(f"date {value!r} is not YYYY-MM-DD")
        bounds.append(text)
    return "-".join(bounds)


def find_ct_series(client, *, since: str | None = None, until: str | None = None, study_uid: str | None = None,
                   description: str | None = None, body_part: str | None = None) -> list[RemoteSeries]:
    """CT series on the PACS (QIDO-RS, modality CT, date range on StudyDate, optional study), then
    filtered here by ``description`` (regular expression, case-insensitive) and ``body_part``."""
    filters = {"Modality": "CT"}
    dates = dicom_date_range(since, until)
    if dates:
        filters["StudyDate"] = dates
    if study_uid:
        filters["StudyInstanceUID"] = study_uid
    try:
        pattern = re.compile(description, re.IGNORECASE) if description else None
    except re.error as error:
        raise PacsError(f"--description {description!r} is not a regular expression ({error})") from error
    answers = _call(client, "QIDO-RS series search", client.search_for_series, fields=list(QIDO_FIELDS),
                    search_filters=filters, get_remaining=True)
    found = []
    for answer in answers:
        ds = Dataset.from_json(answer)
        if str(ds.get("Modality", "CT")) != "CT":
            continue
        series = RemoteSeries(
            study_uid=str(ds.StudyInstanceUID), series_uid=str(ds.SeriesInstanceUID),
            study_date=str(ds.get("StudyDate", "")) or None, description=str(ds.get("SeriesDescription", "") or ""),
            body_part=str(ds.get("BodyPartExamined", "") or "") or None,
            n_instances=int(ds.NumberOfSeriesRelatedInstances) if ds.get("NumberOfSeriesRelatedInstances") else None)
        if pattern is not None and not pattern.search(series.description):
            continue
        if body_part and (series.body_part or "").upper() != body_part.upper():
            continue
        found.append(series)
    return sorted(found, key=lambda s: (s.study_date or "", s.study_uid, s.series_uid))


def fetch_series(client, series: RemoteSeries, folder: Path) -> list[Path]:
    """WADO-RS: every instance of ``series`` as ``folder/<n>.dcm`` (names from counters, not tags)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    datasets = _call(client, f"WADO-RS retrieve of series {series.series_uid}", client.iter_series,
                     series.study_uid, series.series_uid)
    for n, ds in enumerate(_iterate(client, datasets, series), start=1):
        path = folder / f"{n:05d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    if not paths:
        raise PacsError(f"{client.base_url}: series {series.series_uid} has no instances")
    return paths


def _iterate(client, datasets, series: RemoteSeries):
    import requests

    try:
        yield from datasets
    except requests.RequestException as error:
        raise PacsError(f"{client.base_url}: WADO-RS retrieve of series {series.series_uid} failed: "
                        f"{_reason(error)}") from error


def store(client, datasets: list[Dataset]) -> list[str]:
    """STOW-RS the datasets; returns their SOPInstanceUIDs (a PacsError when any was refused)."""
    response = _call(client, "STOW-RS store", client.store_instances, datasets)
    failed = response.get("FailedSOPSequence") if response is not None else None
    if failed:
        reasons = ", ".join(f"{item.get('ReferencedSOPInstanceUID', '?')} ({item.get('FailureReason', '?')})"
                            for item in failed)
        raise PacsError(f"{client.base_url}: STOW-RS refused {reasons}")
    return [str(ds.SOPInstanceUID) for ds in datasets]


def _call(client, what: str, function, *args, **kwargs):
    import requests

    try:
        return function(*args, **kwargs)
    except requests.RequestException as error:
        raise PacsError(f"{client.base_url}: {what} failed: {_reason(error)}") from error


def _reason(error) -> str:
    import requests

    response = getattr(error, "response", None)
    if response is not None:
        hint = " (check CEMENTSEG_PACS_USER/CEMENTSEG_PACS_PASSWORD)" if response.status_code in (401, 403) else ""
        return f"HTTP {response.status_code} {response.reason}{hint}"
    if isinstance(error, requests.exceptions.SSLError):
        return "TLS certificate not trusted (give the site CA with --ca-bundle)"
    if isinstance(error, requests.ConnectionError):
        return "cannot connect"
    return type(error).__name__
