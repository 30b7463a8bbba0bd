"""The README's "Automating with the API" script, run as a customer would: over HTTP against a
live portal, with pvesim behind it and a real Celery worker doing the work."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from provisioning.models import Server
from tenants.actions import api_token_create

SCRIPT = Path(settings.BASE_DIR) / "docs" / "api_example.py"


@pytest.fixture
def customer_env(live_server, worker, alice, tenant_a, ct_plan, ct_image):
    _token, text = api_token_create(tenant=tenant_a, user=alice, name="readme")
    return {**os.environ, "JIKU_API": f"{live_server.url}/api/v1", "JIKU_TOKEN": text, "JIKU_POLL": "0.2"}


def run_script(env, *code):
    return subprocess.run([sys.executable, *code], env=env, capture_output=True, text=True, timeout=180,
                          cwd=SCRIPT.parent)


def test_the_example_builds_and_deletes_a_container(customer_env):
    result = run_script(customer_env, "-c", "import api_example; api_example.main('readme-ct', snapshot=False)")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "readme-ct is running at 192.0.2." in result.stdout
    assert "readme-ct deleted" in result.stdout
    assert Server.objects.get(hostname="readme-ct").status == Server.Status.DELETED


def test_the_whole_example_runs(customer_env):
    result = run_script(customer_env, str(SCRIPT), "readme-full")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Snapshot before-update taken" in result.stdout
