"""PACS login and transport: credentials from the environment or a config file only, HTTPS by
default, plain HTTP only to loopback (or when explicitly allowed), dates as DICOM ranges."""

from __future__ import annotations

import os

import pytest
from cementseg.cli import main
from click.testing import CliRunner

from cementseg.errors import SettingsError
from cementseg.pacs import PacsConfig, PacsError, connect, load_config
from cementseg.pacs.remote import dicom_date_range


def _write_config(path, text: str, mode: int = 0o600):
    path.write_text(text)
    os.chmod(path, mode)
    return path


def test_pacs_config_file_and_environment(tmp_path):
    config = _write_config(tmp_path / "pacs.toml", '[pacs]\nurl = "https://pacs.example.org/dicom-web/"\n'
                                                   'username = "file-user"\npassword = "file-pass"\n')
    from_file = load_config(config_path=config, environ={})
    assert (from_file.url, from_file.username, from_file.password) == (
        "https://pacs.example.org/dicom-web", "file-user", "file-pass")
    from_env = load_config(config_path=config, environ={"CEMENTSEG_PACS_USER": "env-user",
                                                        "CEMENTSEG_PACS_PASSWORD": "env-pass"})
    assert (from_env.username, from_env.password) == ("env-user", "env-pass")
    assert "env-pass" not in repr(from_env)
    overridden = load_config("https://other.example.org/wado", config_path=config, environ={})
    assert overridden.url == "https://other.example.org/wado"


def test_pacs_config_warns_about_a_readable_password_file(tmp_path, caplog):
    config = _write_config(tmp_path / "pacs.toml", '[pacs]\nurl = "https://h.example/dw"\nusername = "u"\n'
                                                   'password = "p"\n', mode=0o644)
    load_config(config_path=config, environ={})
    assert "chmod 600" in caplog.text


@pytest.mark.parametrize(("url", "message"), [
    ("http://pacs.example.org/dicom-web", "refusing plain HTTP to pacs.example.org"),
    ("https://user:pw@pacs.example.org/dicom-web", "must not hold credentials"),
    ("ftp://pacs.example.org", "must be http"),
])
def test_pacs_config_refuses_unsafe_urls(url, message):
    with pytest.raises(SettingsError, match=message):
        PacsConfig(url)


def test_pacs_plain_http_only_to_loopback_or_when_asked():
    assert PacsConfig("http://127.0.0.1:8042/dicom-web").url.startswith("http://127.0.0.1")
    assert PacsConfig("http://localhost/dicom-web").url.startswith("http://localhost")
    assert PacsConfig("http://pacs.lan/dw", allow_plain_http=True).allow_plain_http
    with pytest.raises(SettingsError, match="both a user and a password"):
        PacsConfig("https://pacs.example.org", username="u")


def test_pacs_https_is_verified_with_system_cas_or_the_bundle(tmp_path):
    assert connect(PacsConfig("https://pacs.example.org/dw", "u", "p"))._session.verify is True
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    client = connect(PacsConfig("https://pacs.example.org/dw", "u", "p", ca_bundle=str(bundle)))
    assert client._session.verify == str(bundle)
    assert client._session.auth == ("u", "p")
    with pytest.raises(SettingsError, match="does not exist"):
        PacsConfig("https://pacs.example.org/dw", ca_bundle=str(tmp_path / "missing.pem"))


def test_pacs_command_takes_no_password_option():
    help_text = CliRunner().invoke(main, ["pacs", "--help"]).output
    assert "--url" in help_text and "CEMENTSEG_PACS_PASSWORD" in help_text
    assert "--password" not in help_text and "--user" not in help_text
    refused = CliRunner().invoke(main, ["pacs", "--url", "https://h.example/dw", "--password", "x"])
    assert refused.exit_code == 2


def test_pacs_unreachable_server_is_one_line(tmp_path):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    outcome = CliRunner().invoke(main, ["pacs", "--url", f"http://127.0.0.1:{port}/dicom-web",
                                        "--config", str(_write_config(tmp_path / "c.toml", "[pacs]\nmax_attempts = 1\n")),
                                        "--out", str(tmp_path / "out")])
    assert outcome.exit_code == 3
    assert "QIDO-RS series search failed: cannot connect" in outcome.output and "Traceback" not in outcome.output


def test_pacs_date_ranges():
    assert dicom_date_range("2026-01-01", "2026-01-31") == "20260101-20260131"
    assert dicom_date_range("20260101", None) == "20260101-"
    assert dicom_date_range(None, "2026-02-01") == "-20260201"
    assert dicom_date_range(None, None) is None
    with pytest.raises(PacsError, match="not YYYY-MM-DD"):
        dicom_date_range("yesterday", None)
