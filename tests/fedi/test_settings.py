"""Settings: environment over TOML file over defaults; every bad value stops start-up clearly."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from fedi.errors import SettingsError
from fedi.settings import load_settings

SECRET = "s" * 40


def test_environment_gives_everything() -> None:
    settings = load_settings(
        {
            "FEDI_DOMAIN": "City.Example",
            "FEDI_SECRET_KEY": SECRET,
            "DATABASE_URL": "postgresql://fedi@db/fedi",
            "FEDI_HOST": "0.0.0.0",
            "FEDI_PORT": "9000",
            "FEDI_TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.1",
            "FEDI_ALLOW_PRIVATE_NETWORKS": "127.0.0.0/8",
        }
    )
    assert settings.domain == "city.example"
    assert settings.base_url == "https://city.example"
    assert settings.database_url == "postgresql://fedi@db/fedi"
    assert (settings.host, settings.port) == ("0.0.0.0", 9000)
    assert settings.trusted_proxies == (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("192.168.1.1/32"))
    assert settings.allow_private_networks == (ipaddress.ip_network("127.0.0.0/8"),)


def test_toml_file_with_environment_winning(tmp_path: Path) -> None:
    config = tmp_path / "fedi.toml"
    config.write_text(f'domain = "city.example"\nsecret_key = "{SECRET}"\nport = 7000\ntrusted_proxies = ["10.1.0.0/16"]\n')
    settings = load_settings({"FEDI_PORT": "7100"}, config_file=config)
    assert settings.domain == "city.example" and settings.port == 7100
    assert settings.trusted_proxies == (ipaddress.ip_network("10.1.0.0/16"),)


def test_secret_kept_in_data_dir_is_used(tmp_path: Path) -> None:
    (tmp_path / "secret_key").write_text(SECRET + "\n")
    settings = load_settings({"FEDI_DOMAIN": "city.example", "FEDI_DATA_DIR": str(tmp_path)})
    assert settings.secret_key == SECRET


def test_settings_file_in_data_dir_is_read(tmp_path: Path) -> None:
    (tmp_path / "fedi.toml").write_text(f'domain = "localhost:8000"\nscheme = "http"\nsecret_key = "{SECRET}"\n')
    settings = load_settings({"FEDI_DATA_DIR": str(tmp_path)})
    assert settings.base_url == "http://localhost:8000"
    assert load_settings({"FEDI_DATA_DIR": str(tmp_path), "FEDI_DOMAIN": "city.example"}).domain == "city.example"


def test_defaults() -> None:
    settings = load_settings({"FEDI_DOMAIN": "city.example", "FEDI_SECRET_KEY": SECRET})
    assert (settings.host, settings.port, settings.scheme) == ("127.0.0.1", 8000, "https")
    assert settings.database_url is None
    assert [str(n) for n in settings.trusted_proxies] == ["127.0.0.1/32", "::1/128"]
    assert settings.allow_private_networks == ()


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"FEDI_SECRET_KEY": SECRET}, "FEDI_DOMAIN is not set"),
        ({"FEDI_DOMAIN": "city example", "FEDI_SECRET_KEY": SECRET}, "is not a domain name"),
        ({"FEDI_DOMAIN": "https://city.example", "FEDI_SECRET_KEY": SECRET}, "is not a domain name"),
        ({"FEDI_DOMAIN": "city.example"}, "FEDI_SECRET_KEY is not set"),
        ({"FEDI_DOMAIN": "city.example", "FEDI_SECRET_KEY": "short"}, "too short"),
        ({"FEDI_DOMAIN": "city.example", "FEDI_SECRET_KEY": SECRET, "FEDI_PORT": "http"}, "not a number"),
        ({"FEDI_DOMAIN": "city.example", "FEDI_SECRET_KEY": SECRET, "FEDI_PORT": "70000"}, "out of range"),
        ({"FEDI_DOMAIN": "city.example", "FEDI_SECRET_KEY": SECRET, "DATABASE_URL": "mysql://x"}, "postgresql://"),
        ({"FEDI_DOMAIN": "city.example", "FEDI_SECRET_KEY": SECRET, "FEDI_SCHEME": "ftp"}, "FEDI_SCHEME"),
        ({"FEDI_DOMAIN": "city.example", "FEDI_SECRET_KEY": SECRET, "FEDI_TRUSTED_PROXIES": "nginx"}, "FEDI_TRUSTED_PROXIES"),
        ({"FEDI_DOMAIN": "city.example", "FEDI_SECRET_KEY": SECRET, "FEDI_TLS_CERT": "/x.pem"}, "both --tls-cert and --tls-key"),
        (
            {"FEDI_DOMAIN": "city.example", "FEDI_SECRET_KEY": SECRET, "FEDI_TLS_CERT": "/no/cert.pem", "FEDI_TLS_KEY": "/no/key.pem"},
            "does not exist",
        ),
    ],
)
def test_bad_settings_are_refused_with_a_clear_message(environ: dict[str, str], message: str, tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings({"FEDI_DATA_DIR": str(tmp_path), **environ})


def test_bad_toml_file(tmp_path: Path) -> None:
    config = tmp_path / "fedi.toml"
    config.write_text("domain = \n")
    with pytest.raises(SettingsError, match="not valid TOML"):
        load_settings({}, config_file=config)
    config.write_text('domian = "city.example"\n')
    with pytest.raises(SettingsError, match="unknown setting"):
        load_settings({}, config_file=config)
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings({}, config_file=tmp_path / "missing.toml")
