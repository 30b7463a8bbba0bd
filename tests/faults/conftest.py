from tests.provisioning.conftest import cluster, ct_image, pve, sim, worker  # noqa: F401

OUTCOMES = []


def pytest_terminal_summary(terminalreporter):
    if not OUTCOMES:
        return
    kinds = sorted({k for k, _f, _o in OUTCOMES}, key=lambda k: [k for k, _f, _o in OUTCOMES].index(k))
    faults = sorted({f for _k, f, _o in OUTCOMES}, key=lambda f: [f for _k, f, _o in OUTCOMES].index(f))
    table = {(k, f): o for k, f, o in OUTCOMES}
    terminalreporter.section("fault matrix: how each operation ended (all left a consistent state)")
    terminalreporter.write_line(f"{'operation':<10}" + "".join(f"{f:>16}" for f in faults))
    for kind in kinds:
        terminalreporter.write_line(f"{kind:<10}" + "".join(f"{table.get((kind, f), '-'):>16}" for f in faults))
