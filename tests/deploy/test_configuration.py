"""The shipped deployment files are valid as shipped: nginx -t, systemd-analyze, the settings example."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import trustme

from fedi.settings import ENV_NAMES, load_settings
from tests.deploy.nginx import check_config
from tests.deploy.rendering import DEPLOY, RenderError, Site, render_nginx_site, render_unit, substitute
from tests.processes import FEDI, free_port

SYSTEMD_ANALYZE = "/usr/bin/systemd-analyze"
UNITS = {"fedi-web@.service": "fedi-web@8001.service", "fedi-worker@.service": "fedi-worker@1.service", "fedi.target": "fedi.target"}


def make_site(tmp_path: Path, test_ca: trustme.CA) -> Site:
    """A site under ``tmp_path`` with a certificate for city.example from the test CA."""
    cert = test_ca.issue_cert("city.example")
    chain, key = tmp_path / "fullchain.pem", tmp_path / "privkey.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(chain))
    cert.private_key_pem.write_to_path(str(key))
    return Site(free_port(), free_port(), (free_port(), free_port()), chain, key, tmp_path / "data", tmp_path / "nginx")


def test_nginx_accepts_the_shipped_site(tmp_path: Path, test_ca: trustme.CA) -> None:
    result = check_config(make_site(tmp_path, test_ca))
    assert result.returncode == 0, result.stderr
    assert "syntax is ok" in result.stderr and "test is successful" in result.stderr
    assert "[warn]" not in result.stderr and "[emerg]" not in result.stderr, result.stderr


def test_the_rendered_site_keeps_no_production_path(tmp_path: Path, test_ca: trustme.CA) -> None:
    rendered = render_nginx_site(make_site(tmp_path, test_ca))
    for production in ("/etc/letsencrypt", "/var/cache", "/var/log", "/var/lib", "[::]", "listen 443", "listen 80", ":8001"):
        assert production not in rendered


def test_the_renderer_refuses_a_site_it_no_longer_understands() -> None:
    with pytest.raises(RenderError, match="no longer contains"):
        substitute("listen 8443 ssl;", "/etc/letsencrypt/live/city.example/fullchain.pem", "x")


def test_a_broken_site_fails_nginx_t(tmp_path: Path, test_ca: trustme.CA, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = render_nginx_site(make_site(tmp_path, test_ca)).replace("proxy_cache fedi_pages;", "proxy_cache no_such_zone;")
    monkeypatch.setattr("tests.deploy.nginx.render_nginx_site", lambda site: broken)
    result = check_config(make_site(tmp_path, test_ca))
    assert result.returncode != 0 and "no_such_zone" in result.stderr


def verify_units(directory: Path) -> subprocess.CompletedProcess[str]:
    """``systemd-analyze verify`` on the instantiated units in ``directory``."""
    paths = [str(directory / instance) for instance in UNITS.values()]
    return subprocess.run([SYSTEMD_ANALYZE, "verify", *paths], capture_output=True, text=True, timeout=60)


def write_units(directory: Path, fedi: Path) -> None:
    """The shipped units with ExecStart at ``fedi``, templates under their file names."""
    directory.mkdir(exist_ok=True)
    for name in UNITS:
        (directory / name).write_text(render_unit(name, fedi), encoding="utf-8")


def test_systemd_accepts_the_units_without_a_warning(tmp_path: Path) -> None:
    write_units(tmp_path / "units", Path(FEDI))
    result = verify_units(tmp_path / "units")
    assert result.returncode == 0, result.stderr
    assert result.stdout + result.stderr == ""  # unknown keys and bad values are only warned about


def test_systemd_analyze_sees_a_bad_unit(tmp_path: Path) -> None:
    write_units(tmp_path / "units", Path(FEDI))
    unit = tmp_path / "units" / "fedi-worker@.service"
    unit.write_text(unit.read_text().replace("ProtectSystem=strict", "ProtectSystem=sideways"))
    result = verify_units(tmp_path / "units")
    assert "fedi-worker@.service:" in result.stderr and "sideways" in result.stderr


@pytest.mark.parametrize("instance", ["fedi-web@8001.service", "fedi-worker@1.service"])
def test_the_services_are_confined(tmp_path: Path, instance: str) -> None:
    write_units(tmp_path / "units", Path(FEDI))
    result = subprocess.run(
        [SYSTEMD_ANALYZE, "security", "--offline=true", "--threshold=20", str(tmp_path / "units" / instance)],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    level = re.search(r"Overall exposure level for \S+: ([0-9.]+) (\w+)", result.stdout)
    assert level is not None and float(level.group(1)) <= 2.0 and level.group(2) == "OK", result.stdout


def test_the_services_run_the_commands_as_documented() -> None:
    web = (DEPLOY / "systemd" / "fedi-web@.service").read_text()
    worker = (DEPLOY / "systemd" / "fedi-worker@.service").read_text()
    assert "ExecStart=/opt/fedi/venv/bin/fedi serve --no-worker --host 127.0.0.1 --port %i" in web
    assert "ExecStart=/opt/fedi/venv/bin/fedi worker\n" in worker
    for unit in (web, worker):
        for directive in ("User=fedi", "EnvironmentFile=/etc/fedi/fedi.env", "NoNewPrivileges=yes", "ProtectSystem=strict",
                          "PrivateTmp=yes", "Restart=on-failure", "KillSignal=SIGTERM"):
            assert directive in unit
        assert re.search(r"^TimeoutStopSec=\d+s$", unit, re.MULTILINE)
    assert "ReadWritePaths=/var/lib/fedi/media" in web


def example_environment() -> dict[str, str]:
    """The assignments deploy/fedi.env.example makes (quotes removed, as systemd does), and those commented out."""
    values: dict[str, str] = {}
    for line in (DEPLOY / "fedi.env.example").read_text(encoding="utf-8").splitlines():
        match = re.match(r"^(#\s*)?([A-Z_]+)=(.*)$", line)
        if match:
            value = match.group(3)
            quoted = len(value) >= 2 and value[0] == value[-1] == '"'
            values[("#" if match.group(1) else "") + match.group(2)] = value[1:-1] if quoted else value
    return values


def test_the_settings_example_names_every_setting() -> None:
    named = {name.lstrip("#") for name in example_environment()}
    missing = sorted(set(ENV_NAMES.values()) - named)
    assert missing == [], f"deploy/fedi.env.example does not describe {missing}"


def test_the_settings_example_loads_once_the_secret_is_set() -> None:
    environ = {name: value for name, value in example_environment().items() if not name.startswith("#")}
    environ["FEDI_SECRET_KEY"] = "s" * 48
    settings = load_settings(environ=environ)
    assert settings.domain == "city.example" and settings.scheme == "https"
    assert settings.database_url == "postgresql://fedi@/fedi?host=/run/postgresql"
    assert settings.data_dir == Path("/var/lib/fedi") and settings.allow_private_networks == ()
    assert settings.organisation_name == "City of Example"


def test_the_container_image_gets_every_package_and_checks_health() -> None:
    containerfile = (DEPLOY / "Containerfile").read_text(encoding="utf-8")
    root = DEPLOY.parent
    copied = [source for line in containerfile.splitlines() if line.startswith("COPY ") for source in line.split()[1:-1]]
    assert copied and all((root / source).exists() for source in copied)
    packages = re.search(r"\[options\.packages\.find\]\ninclude =\n((?:    .*\n)+)", (root / "setup.cfg").read_text())
    assert packages is not None
    top_level = {name.strip() for name in packages.group(1).splitlines() if "." not in name}
    assert top_level <= set(copied)
    assert re.search(r"^USER fedi$", containerfile, re.MULTILINE)
    assert re.search(r"^HEALTHCHECK .*\n.*/healthz", containerfile, re.MULTILINE)
    assert 'ENTRYPOINT ["fedi"]' in containerfile and 'CMD ["serve"]' in containerfile
