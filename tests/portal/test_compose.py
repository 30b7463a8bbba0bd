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
    assert {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "SECRET_KEY", "SECRET_KEY_FILE", "FIELD_ENCRYPTION_KEY",
            "FIELD_ENCRYPTION_KEY_FILE", "ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS", "EMAIL_HOST", "EMAIL_HOST_PASSWORD",
            "DEBUG"} <= documented


SECRET_NAMES = ("SECRET_KEY", "SECRET_KEY_FILE", "FIELD_ENCRYPTION_KEY", "FIELD_ENCRYPTION_KEY_FILE")


def production_env(tmp_path, **values):
    env = {k: v for k, v in os.environ.items() if k not in SECRET_NAMES}
    return {**env, "DEBUG": "0", "ALLOWED_HOSTS": "portal.example", "VAR_DIR": str(tmp_path), **values}


def deploy_check(env):
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )


def test_production_settings_pass_the_deploy_check(tmp_path):
    env = production_env(tmp_path, SECRET_KEY=secrets.token_urlsafe(50)[:50], FIELD_ENCRYPTION_KEY=secrets.token_urlsafe(50))
    result = deploy_check(env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
    assert not (tmp_path / "secret_key").exists()


def test_production_secrets_may_come_from_files(tmp_path):
    (tmp_path / "sk").write_text(secrets.token_urlsafe(50) + "\n")
    (tmp_path / "fek").write_text(secrets.token_urlsafe(50) + "\n")
    env = production_env(tmp_path, SECRET_KEY_FILE=str(tmp_path / "sk"), FIELD_ENCRYPTION_KEY_FILE=str(tmp_path / "fek"))
    result = deploy_check(env)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("missing", ["SECRET_KEY", "FIELD_ENCRYPTION_KEY"])
def test_production_refuses_to_start_without_either_secret(tmp_path, missing):
    given = {"SECRET_KEY": secrets.token_urlsafe(50), "FIELD_ENCRYPTION_KEY": secrets.token_urlsafe(50)}
    del given[missing]
    result = deploy_check(production_env(tmp_path, **given))
    assert result.returncode != 0
    assert f"ImproperlyConfigured: {missing} is not set." in result.stderr
    assert f"{missing}_FILE" in result.stderr and "secrets.token_urlsafe" in result.stderr
    # Nothing was invented in its place for the next start to pick up.
    assert not (tmp_path / "secret_key").exists()


def test_the_demo_generates_a_secret_key_only_its_owner_can_read(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in SECRET_NAMES}
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={**env, "DEBUG": "1", "VAR_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_the_demo_script_keeps_its_secrets_to_the_owner():
    script = (ROOT / "scripts" / "demo.sh").read_text()
    # Before the database, the secret key and the simulator's key and token are created.
    assert script.index("umask 077") < script.index("manage.py migrate") < script.index("pvesim/token")
    assert 'chmod 600 "$VAR_DIR/db.sqlite3" "$VAR_DIR/secret_key" "$VAR_DIR/pvesim/token" "$VAR_DIR/pvesim/key.pem"' in script


def test_env_example_sets_both_production_secrets():
    values = dict(line.split("=", 1) for line in (ROOT / ".env.example").read_text().splitlines()
                  if "=" in line and not line.startswith("#"))
    assert values["DEBUG"] == "0"
    assert values["SECRET_KEY"] and values["FIELD_ENCRYPTION_KEY"] and values["SECRET_KEY"] != values["FIELD_ENCRYPTION_KEY"]
