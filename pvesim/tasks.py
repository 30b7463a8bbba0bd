"""Background tasks with Proxmox UPIDs.

Each task runs in its own daemon thread even at time scale 0, so a client always sees
``running`` before ``stopped`` semantics are possible and no request finishes work inline.
"""

import threading
import time
import traceback

from .errors import ApiError, TaskError
from .state import Task, TaskAborted

# Seconds at time scale 1; README documents the same table.
DURATIONS = {
    "clone_per_gib": 1.0,
    "qmcreate": 2.0,
    "vzcreate": 4.0,
    "start": 2.0,
    "stop": 1.0,
    "shutdown": 3.0,
    "reboot": 4.0,
    "suspend": 1.0,
    "resume": 1.0,
    "snapshot": 1.0,
    "rollback": 2.0,
    "delsnapshot": 1.0,
    "resize": 1.0,
    "template": 2.0,
    "destroy": 1.0,
    "migrate_per_gib": 1.0,
    "vzdump_per_gib": 1.0,
    "restore_per_gib": 1.0,
    "download": 5.0,
    "oci_pull": 8.0,
    "ha_request": 0.5,
    "ha_fence": 60.0,
    "ha_recovery": 5.0,
    "config": 0.5,
    "startall": 3.0,        # from recover_node until pve-guests.service runs startall
    "startall_vm_gap": 3.0,  # startall's pause after each VM start without startup up=
}


def scaled_wait(core, state, seconds, interrupted=None):
    """Wait ``seconds`` of simulated time; re-reads the time scale so that changing it
    speeds up or slows down waits already in progress. Returns True when aborted."""
    remaining = max(0.0, float(seconds))
    while remaining > 0:
        scale = core.time_scale
        if scale <= 0:
            break
        chunk = min(remaining * scale, 0.05)
        if state.aborted.wait(chunk):
            return True
        if interrupted is not None and interrupted():
            return False
        remaining -= chunk / scale
    return state.aborted.is_set()


def make_upid(node, pid, pstart, starttime, ttype, tid, user):
    return f"UPID:{node}:{pid:08X}:{pstart:08X}:{starttime:08X}:{ttype}:{tid}:{user}:"


class TaskContext:
    def __init__(self, core, state, task):
        self.core = core
        self.state = state
        self.task = task

    def sleep(self, seconds):
        if scaled_wait(self.core, self.state, seconds, lambda: self.task.stop_requested):
            raise TaskAborted()
        self.state.assert_not_aborted()
        if self.task.stop_requested:
            raise TaskError(self.task.stop_requested)

    def wait_task(self, upid):
        """Wait in real time until another task has stopped and return its exit status, as a
        worker that forked child tasks polls them."""
        other = self.state.tasks[upid]
        while True:
            with self.state.lock:
                if other.status == "stopped":
                    return other.exitstatus
            if self.state.aborted.wait(0.01):
                raise TaskAborted()
            if self.task.stop_requested:
                raise TaskError(self.task.stop_requested)

    def log(self, line):
        with self.state.lock:
            self.task.lines.append(line)

    @property
    def lock(self):
        return self.state.lock


def start_task(core, req, node, ttype, tid, body, on_error=None):
    """Register a task, start its worker thread and return the UPID.

    ``body(ctx)`` does the work (raise TaskError to fail); ``on_error()`` undoes the
    synchronous effects (locks, placeholder configs) and runs under the state lock.
    """
    state = core.state
    with state.lock:
        pid = state.next_pid()
        now = int(time.time())
        node_obj = state.nodes.get(node)
        pstart = int((time.time() - node_obj.boot_time) * 100) if node_obj else 0
        user_field = req.auth_user + (f"!{req.auth_token}" if req.auth_token else "")
        upid = make_upid(node, pid, pstart, now, ttype, str(tid), user_field)
        task = Task(upid, node, ttype, str(tid), req.auth_user, req.auth_token, pid, pstart, now)
        task.forced_error = core.faults.task_error_for(req.method, req.path)
        state.tasks[upid] = task
        state.running_tasks += 1
    ctx = TaskContext(core, state, task)
    thread = threading.Thread(target=_run, args=(ctx, body, on_error), name=f"task-{ttype}-{tid}", daemon=True)
    thread.start()
    return upid


def _run(ctx, body, on_error):
    state, task = ctx.state, ctx.task
    error = None
    try:
        if task.forced_error:
            ctx.sleep(0.2)
            raise TaskError(task.forced_error)
        body(ctx)
    except TaskAborted:
        error = "task aborted"
    except TaskError as exc:
        error = str(exc)
    except ApiError as exc:
        error = exc.message
    except Exception as exc:  # a bug in the simulator must still end the task visibly
        traceback.print_exc()
        error = f"internal simulator error: {exc}"
    with state.lock:
        if error is not None and on_error is not None:
            try:
                on_error()
            except Exception:
                traceback.print_exc()
        task.status = "stopped"
        task.endtime = int(time.time())
        if error is None:
            task.exitstatus = "OK"
            task.lines.append("TASK OK")
        else:
            task.exitstatus = error.splitlines()[0] if error else "unexpected status"
            task.lines.append(f"TASK ERROR: {error}")
        state.running_tasks -= 1


def schedule(core, delay, fn, name="timer"):
    """Run ``fn()`` under the state lock after ``delay`` scaled seconds, unless reset meanwhile."""
    state = core.state
    with state.lock:
        state.pending_timers += 1

    def run():
        try:
            if scaled_wait(core, state, delay):
                return
            with state.lock:
                if not state.aborted.is_set():
                    fn()
        except Exception:
            traceback.print_exc()
        finally:
            with state.lock:
                state.pending_timers -= 1

    threading.Thread(target=run, name=name, daemon=True).start()
