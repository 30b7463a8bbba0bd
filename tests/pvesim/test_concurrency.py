"""50 concurrent clients: no duplicate VMIDs, no lost updates, locks respected."""

import threading
from concurrent.futures import ThreadPoolExecutor

from proxmoxer import ResourceException

from tests.pvesim.helpers import make_prox, wait, wait_ok


def test_fifty_concurrent_clients(sim):
    prox = make_prox(sim)
    # ten base VMs to snapshot and back up while other clients clone
    for i in range(10):
        wait_ok(prox, prox.nodes("pve").qemu(9000).clone.post(newid=200 + i, full=1, storage="local-lvm"))
    sim.set_time_scale(0.02)
    errors, created, lock = [], [], threading.Lock()

    def cloner(n):
        p = make_prox(sim)
        for _ in range(3):
            while True:
                vmid = int(p.cluster.nextid.get())
                try:
                    upid = p.nodes("pve").qemu(9001).clone.post(newid=vmid, full=1, name=f"c{n}",
                                                               storage="local-lvm")
                    break
                except ResourceException as exc:
                    # the loser of a nextid race gets PVE's "already exists" and retries
                    assert "already exists" in exc.content, exc
            status = wait(p, upid, timeout=60)
            with lock:
                (created if status["exitstatus"] == "OK" else errors).append((vmid, status["exitstatus"]))

    def snapshotter(n):
        p = make_prox(sim)
        vmid = 200 + n % 10
        status = wait(p, p.nodes("pve").qemu(vmid).snapshot.post(snapname=f"s{n}"), timeout=60)
        with lock:
            if status["exitstatus"] != "OK":
                # only a lock conflict is acceptable
                assert status["exitstatus"].startswith("VM is locked ("), status
                errors.append(("snap", status["exitstatus"]))

    def backup(n):
        p = make_prox(sim)
        vmid = 200 + n % 10
        status = wait(p, p.nodes("pve").vzdump.post(vmid=str(vmid), storage="backup"), timeout=60)
        with lock:
            if status["exitstatus"] != "OK":
                assert status["exitstatus"] == "job errors", status
                errors.append(("backup", status["exitstatus"]))

    def config_writer(n):
        p = make_prox(sim)
        vm = p.nodes("pve").qemu(200 + n % 10)
        for _ in range(5):
            try:
                vm.config.put(**{"tags": f"w{n}"})
            except ResourceException as exc:
                assert exc.content.startswith("VM is locked ("), exc

    jobs = [(cloner, i) for i in range(20)] + [(snapshotter, i) for i in range(10)] + \
        [(backup, i) for i in range(10)] + [(config_writer, i) for i in range(10)]
    with ThreadPoolExecutor(max_workers=50) as pool:
        for fut in [pool.submit(fn, i) for fn, i in jobs]:
            fut.result()
    sim.set_time_scale(0)
    sim.wait_idle(timeout=30)
    vmids = [v for v, _ in created]
    assert len(vmids) == 60 and len(set(vmids)) == 60
    assert not [e for e in errors if isinstance(e[0], int)]
    state = sim.state()
    guests = {g["vmid"]: g for g in state["guests"]}
    assert all(v in guests and guests[v]["lock"] is None for v in vmids)
    # each snapshot that succeeded is present exactly once on its VM; no lock left behind
    snaps = sum(len(guests[200 + i]["snapshots"]) for i in range(10))
    assert snaps == 10 - len([e for e in errors if e[0] == "snap"])
    backups = [c for c in state["storage"]["backup"]["content"] if c["content"] == "backup"]
    assert len(backups) == 10 - len([e for e in errors if e[0] == "backup"])
    assert len({b["volid"] for b in backups}) == len(backups)
    # every clone has its own disk volume
    lvm = state["storage"]["pve/local-lvm"]["content"]
    assert len({v["volid"] for v in lvm}) == len(lvm)
    assert sum(1 for v in lvm if v["volid"].endswith("-disk-0")) == 70
