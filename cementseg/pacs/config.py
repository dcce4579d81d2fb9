"""Where the PACS is and how to log in: a config file and the environment, never the command line.

Config file (``~/.config/cementseg/pacs.toml`` or ``--config``)::

    [pacs]
    url = "https://pacs.example.org/dicom-web"
    username = "cementseg-qa"
    password = "..."            # or CEMENTSEG_PACS_PASSWORD in the environment
    ca_bundle = "/etc/ssl/certs/hospital-ca.pem"   # optional; system CAs otherwise
    timeout_s = 60                                  # optional, per request
    max_attempts = 5                                # optional, retries with back-off

``CEMENTSEG_PACS_USER`` / ``CEMENTSEG_PACS_PASSWORD`` override the file.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import stat
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from ..errors import SettingsError

log = logging.getLogger(__name__)

DEFAULT_CONFIG = Path("~/.config/cementseg/pacs.toml")
USER_VARIABLE = "CEMENTSEG_PACS_USER"
PASSWORD_VARIABLE = "CEMENTSEG_PACS_PASSWORD"


@dataclass(frozen=True)
class PacsConfig:
    """A DICOMweb endpoint: base URL, optional basic-auth login, CA bundle, timeout (s)."""

    url: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_bundle: str | None = None
    timeout_s: float = 60.0
    #: attempts per request on connection errors and HTTP 408/429/503/504 (exponential back-off)
    max_attempts: int = 5
    allow_plain_http: bool = False

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SettingsError(f"PACS URL must be http(s)://HOST[:PORT]/PATH, got {self.url!r}")
        if parts.username or parts.password:
            raise SettingsError("PACS URL must not hold credentials; use the config file or "
                                f"{USER_VARIABLE}/{PASSWORD_VARIABLE}")
        if parts.scheme == "http" and not _is_loopback(parts.hostname) and not self.allow_plain_http:
            raise SettingsError(f"refusing plain HTTP to {parts.hostname}: use https (or --allow-plain-http "
                                f"on a network you trust)")
        if (self.username is None) != (self.password is None):
            raise SettingsError(f"PACS login needs both a user and a password ({USER_VARIABLE}/{PASSWORD_VARIABLE} "
                                f"or the config file)")
        if self.max_attempts < 1 or self.timeout_s <= 0:
            raise SettingsError("PACS max_attempts must be >= 1 and timeout_s > 0")
        if self.ca_bundle is not None and not Path(self.ca_bundle).is_file():
            raise SettingsError(f"CA bundle {self.ca_bundle} does not exist")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_config(url: str | None = None, config_path: str | os.PathLike | None = None,
                ca_bundle: str | None = None, allow_plain_http: bool = False,
                environ: dict[str, str] | None = None) -> PacsConfig:
    """The PACS settings: ``url``/``ca_bundle`` arguments over the config file; login from the
    environment over the file. ``config_path`` None reads the default file when it exists."""
    environ = os.environ if environ is None else environ
    section = _read_section(config_path)
    url = url or section.get("url")
    if not url:
        raise SettingsError("no PACS URL: give --url or set url in the [pacs] section of the config file")
    return PacsConfig(
        url=str(url).rstrip("/"),
        username=environ.get(USER_VARIABLE) or section.get("username"),
        password=environ.get(PASSWORD_VARIABLE) or section.get("password"),
        ca_bundle=ca_bundle or section.get("ca_bundle"),
        timeout_s=float(section.get("timeout_s", 60.0)),
        max_attempts=int(section.get("max_attempts", 5)),
        allow_plain_http=allow_plain_http,
    )


def _read_section(config_path) -> dict:
    path = Path(config_path) if config_path is not None else DEFAULT_CONFIG.expanduser()
    if not path.is_file():
        if config_path is not None:
            raise SettingsError(f"PACS config file {path} does not exist")
        return {}
    try:
        document = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise SettingsError(f"PACS config file {path}: {error}") from error
    section = document.get("pacs", {})
    if "password" in section and path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("PACS config file %s holds a password and is readable by others: chmod 600 it", path)
    return section
