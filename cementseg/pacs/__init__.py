"""Batch QA straight from a PACS over DICOMweb (QIDO-RS, WADO-RS, STOW-RS).

* `load_config(url, config_path, ca_bundle)` -> `PacsConfig` (login from the environment or a
  config file, never from the command line).
* `run_pacs(config, out, since=..., until=..., study_uid=..., description=..., store_results=...)`.

Usage: docs/batch.md.
"""

from .config import PacsConfig, load_config
from .remote import PacsError, RemoteSeries, connect, find_ct_series
from .run import PacsResult, run_pacs

__all__ = ["PacsConfig", "PacsError", "PacsResult", "RemoteSeries", "connect", "find_ct_series", "load_config",
           "run_pacs"]
