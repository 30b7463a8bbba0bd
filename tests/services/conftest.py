from tests.provisioning.conftest import cluster, ct_image, pve, sim, vm_image, worker  # noqa: F401
