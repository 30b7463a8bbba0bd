"""Production readiness: the compose file is valid and DEBUG=0 settings pass Django's deploy checks."""

import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def compose_command():
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    return None


@pytest.fixture
def compose_dir(tmp_path):
    # The documented setup: the compose file with a .env made from .env.example beside it.
    shutil.copy(ROOT / "docker-compose.yml", tmp_path / "docker-compose.yml")
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")
    return tmp_path


def test_the_compose_file_is_valid(compose_dir):
    command = compose_command()
    if command is None:
        pytest.skip("neither docker-compose nor the docker compose plugin is installed")
    result = subprocess.run([*command, "--profile", "sim", "config", "-q"], cwd=compose_dir,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_every_service_has_a_health_check_and_the_simulator_is_optional():
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    assert set(services) == {"postgres", "redis", "web", "worker", "beat", "pvesim"}
    assert all("healthcheck" in service for service in services.values())
    assert services["pvesim"]["profiles"] == ["sim"]
    assert "/healthz" in " ".join(services["web"]["healthcheck"]["test"])


def test_env_example_documents_what_settings_read():
    documented = {line.split("=", 1)[0].lstrip("# ") for line in (ROOT / ".env.example").read_text().splitlines()
                  if "=" in line}
    assert {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "SECRET_KEY", "SECRET_KEY_FILE", "ALLOWED_HOSTS",
            "CSRF_TRUSTED_ORIGINS", "EMAIL_HOST", "EMAIL_HOST_PASSWORD", "DEBUG"} <= documented


def test_production_settings_pass_the_deploy_check(tmp_path):
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50)[:50],
        "ALLOWED_HOSTS": "portal.example",
        "VAR_DIR": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
