"""Settings: one frozen object built once from the environment (``FEDI_`` prefix) and an optional TOML file.

Precedence: environment variables over the TOML file named by ``FEDI_CONFIG`` (or ``--config``,
or else ``<data dir>/fedi.toml`` if present) over defaults. Every value is validated here so that a bad setting stops start-up with a clear
message instead of failing on the first request.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from fedi.errors import SettingsError

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Name in the TOML file -> environment variable.
ENV_NAMES = {
    "domain": "FEDI_DOMAIN",
    "scheme": "FEDI_SCHEME",
    "database_url": "DATABASE_URL",
    "secret_key": "FEDI_SECRET_KEY",
    "host": "FEDI_HOST",
    "port": "FEDI_PORT",
    "data_dir": "FEDI_DATA_DIR",
    "trusted_proxies": "FEDI_TRUSTED_PROXIES",
    "allow_private_networks": "FEDI_ALLOW_PRIVATE_NETWORKS",
    "tls_cert": "FEDI_TLS_CERT",
    "tls_key": "FEDI_TLS_KEY",
    "organisation_name": "FEDI_ORGANISATION_NAME",
    "inbox_rate_limit": "FEDI_INBOX_RATE_LIMIT",
    "log_format": "FEDI_LOG_FORMAT",
    "metrics_allow": "FEDI_METRICS_ALLOW",
}

DOMAIN_RE = re.compile(
    r"^(?=.{1,253}(:|$))([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*(:[0-9]{1,5})?$"
)
SECRET_MIN_LENGTH = 32
SECRET_FILE_NAME = "secret_key"
CONFIG_FILE_NAME = "fedi.toml"


@dataclass(frozen=True)
class Settings:
    """Everything fedi reads from its configuration, validated."""

    domain: str
    secret_key: str
    database_url: str | None = None
    scheme: str = "https"
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path("var")
    trusted_proxies: tuple[IPNetwork, ...] = field(
        default_factory=lambda: (ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("::1/128"))
    )
    allow_private_networks: tuple[IPNetwork, ...] = ()
    tls_cert: Path | None = None
    tls_key: Path | None = None
    organisation_name: str = ""
    inbox_rate_limit: tuple[int, int] | None = (1200, 60)  # requests per seconds from one remote host; None: off
    log_format: str = ""  # "json", "text", or "" (json unless standard error is a terminal)
    metrics_allow: tuple[IPNetwork, ...] = field(
        default_factory=lambda: (ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("::1/128"))
    )

    @property
    def base_url(self) -> str:
        """The public origin every local id starts with, e.g. ``https://city.example``."""
        return f"{self.scheme}://{self.domain}"


def load_settings(
    environ: Mapping[str, str] | None = None, config_file: str | Path | None = None, **overrides: object
) -> Settings:
    """Build Settings from a TOML file, the environment and explicit overrides (highest first: overrides)."""
    environ = os.environ if environ is None else environ
    raw: dict[str, object] = {}
    config_file = config_file or environ.get("FEDI_CONFIG") or _data_dir_config(environ)
    if config_file:
        raw.update(_read_toml(Path(config_file)))
    for name, env_name in ENV_NAMES.items():
        if environ.get(env_name, "") != "":
            raw[name] = environ[env_name]
    raw.update({k: v for k, v in overrides.items() if v is not None})
    return _validate(raw)


def _data_dir_config(environ: Mapping[str, str]) -> Path | None:
    """``<data dir>/fedi.toml`` when it exists (``make run`` keeps its settings there)."""
    path = Path(environ.get("FEDI_DATA_DIR") or "var") / CONFIG_FILE_NAME
    return path if path.is_file() else None


def _read_toml(path: Path) -> dict[str, object]:
    """Read the optional TOML configuration file, refusing unknown keys."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SettingsError(f"configuration file {path} does not exist") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SettingsError(f"configuration file {path} is not valid TOML: {exc}") from None
    unknown = sorted(set(data) - set(ENV_NAMES))
    if unknown:
        raise SettingsError(f"configuration file {path}: unknown setting(s) {', '.join(unknown)}")
    return data


def _validate(raw: dict[str, object]) -> Settings:
    """Check each raw value and convert it to its type."""
    data_dir = Path(str(raw.get("data_dir") or "var"))
    domain = str(raw.get("domain") or "").strip().lower()
    if not domain:
        raise SettingsError("FEDI_DOMAIN is not set: give the public domain, e.g. FEDI_DOMAIN=city.example")
    if not DOMAIN_RE.match(domain):
        raise SettingsError(f"FEDI_DOMAIN={domain!r} is not a domain name (e.g. city.example or localhost:8000)")
    scheme = str(raw.get("scheme") or "https")
    if scheme not in ("https", "http"):
        raise SettingsError(f"FEDI_SCHEME={scheme!r} must be https (or http for local development)")
    secret = str(raw.get("secret_key") or "") or _read_secret_file(data_dir)
    if not secret:
        raise SettingsError(
            f"FEDI_SECRET_KEY is not set (nor {data_dir / SECRET_FILE_NAME}): "
            "set it to a random string of at least 32 characters, e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`"
        )
    if len(secret) < SECRET_MIN_LENGTH:
        raise SettingsError(f"FEDI_SECRET_KEY is too short: use at least {SECRET_MIN_LENGTH} characters")
    database_url = str(raw["database_url"]) if raw.get("database_url") else None
    if database_url and not database_url.startswith(("postgres://", "postgresql://")):
        raise SettingsError("DATABASE_URL must be a postgresql:// URL")
    tls_cert = Path(str(raw["tls_cert"])) if raw.get("tls_cert") else None
    tls_key = Path(str(raw["tls_key"])) if raw.get("tls_key") else None
    if bool(tls_cert) != bool(tls_key):
        raise SettingsError("give both --tls-cert and --tls-key (FEDI_TLS_CERT and FEDI_TLS_KEY), or neither")
    for path in (tls_cert, tls_key):
        if path is not None and not path.is_file():
            raise SettingsError(f"TLS file {path} does not exist")
    log_format = str(raw.get("log_format") or "")
    if log_format not in ("", "json", "text"):
        raise SettingsError(f"FEDI_LOG_FORMAT={log_format!r} must be json or text")
    return Settings(
        domain=domain,
        secret_key=secret,
        database_url=database_url,
        scheme=scheme,
        host=str(raw.get("host") or "127.0.0.1"),
        port=_port(raw.get("port", 8000)),
        data_dir=data_dir,
        trusted_proxies=_networks("FEDI_TRUSTED_PROXIES", raw.get("trusted_proxies", "127.0.0.1/32,::1/128")),
        allow_private_networks=_networks("FEDI_ALLOW_PRIVATE_NETWORKS", raw.get("allow_private_networks", "")),
        tls_cert=tls_cert,
        tls_key=tls_key,
        organisation_name=str(raw.get("organisation_name") or ""),
        inbox_rate_limit=_rate_limit(raw.get("inbox_rate_limit", "1200/60")),
        log_format=log_format,
        metrics_allow=_networks("FEDI_METRICS_ALLOW", raw.get("metrics_allow", "127.0.0.1/32,::1/128")),
    )


def _read_secret_file(data_dir: Path) -> str:
    """The secret kept in the data directory by ``make run``, or an empty string."""
    try:
        return (data_dir / SECRET_FILE_NAME).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return ""


def _port(value: object) -> int:
    """A TCP port number."""
    try:
        port = int(str(value))
    except ValueError:
        raise SettingsError(f"FEDI_PORT={value!r} is not a number") from None
    if not 0 <= port <= 65535:
        raise SettingsError(f"FEDI_PORT={port} is out of range (0-65535)")
    return port


def _rate_limit(value: object) -> tuple[int, int] | None:
    """``REQUESTS/SECONDS`` (e.g. ``300/60``), or ``off``."""
    text = str(value).strip().lower()
    if text in ("off", "0"):
        return None
    requests, _, seconds = text.partition("/")
    seconds = seconds.removesuffix("s")
    if not (requests.isdigit() and seconds.isdigit() and int(requests) > 0 and int(seconds) > 0):
        raise SettingsError(f"FEDI_INBOX_RATE_LIMIT={value!r} must be REQUESTS/SECONDS (e.g. 300/60) or off")
    return int(requests), int(seconds)


def _networks(name: str, value: object) -> tuple[IPNetwork, ...]:
    """A comma-separated list (or TOML array) of CIDRs."""
    items = value if isinstance(value, list) else str(value or "").split(",")
    networks = []
    for item in (str(i).strip() for i in items):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise SettingsError(f"{name}: {item!r} is not an IP address or CIDR network") from None
    return tuple(networks)
