"""What the console tests share: the portal under a real ASGI server, and running guests.

The ASGI app runs under uvicorn in a thread of the test process (so it sees the test database),
with Django's static files handler in front, as `runserver` would have.
"""

import socket
import threading
import time

import pytest
import uvicorn
from channels.layers import channel_layers
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

from provisioning.models import Node, Server
from provisioning.proxmox import PVE

DEBIAN_CT = "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"


class AsgiServer:
    def __init__(self):
        from portal.asgi import application

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(ASGIStaticFilesHandler(application), ws="websockets-sansio", lifespan="off",
                                log_level="info", access_log=True, log_config=None)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True,
                                       name="asgi-live-server")

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(15)
        self.sock.close()
        # The channel layer belongs to this server's event loop; the next server makes its own.
        channel_layers.backends.clear()


@pytest.fixture(scope="module")
def asgi_server(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), AsgiServer() as server:
        yield server


def wait_task(pve, node, upid, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = pve.task_status(node, upid)
        if status["status"] == "stopped":
            assert status["exitstatus"] == "OK", status
            return
        time.sleep(0.02)
    raise AssertionError(f"task {upid} did not finish")


def running_server(cluster, tenant, *, kind, hostname, vmid, ipv4):
    """A guest built and started in the simulator, and its Server row, without the engine."""
    pve = PVE(cluster)
    if kind == Server.Kind.QEMU:
        wait_task(pve, "pve", pve.clone_vm(node="pve", template_vmid=9000, newid=vmid, name=hostname, target="pve",
                                            storage="local-lvm"))
        pve.configure_vm(node="pve", vmid=vmid, ipconfig0=f"ip={ipv4}/24,gw=192.0.2.1")
    else:
        wait_task(pve, "pve", pve.create_ct(
            node="pve", vmid=vmid, ostemplate=DEBIAN_CT, hostname=hostname, cores=1, memory=512,
            rootfs="local-lvm:4", net0=f"name=eth0,bridge=vmbr0,ip={ipv4}/24,gw=192.0.2.1", password=None,
            ssh_keys=None))
    wait_task(pve, "pve", pve.power(node="pve", kind=kind, vmid=vmid, action="start"))
    return Server.objects.create(
        tenant=tenant, cluster=cluster, node=Node.objects.get(cluster=cluster, name="pve"), kind=kind,
        hostname=hostname, vmid=vmid, cores=1, memory_mb=512, disk_gb=4, status=Server.Status.RUNNING, ipv4=ipv4)
