"""Injected failures: HTTP errors for matching requests, or errors for the next matching tasks."""

import re
import threading


class Faults:
    def __init__(self):
        self._lock = threading.Lock()
        self._faults = []

    def add(self, method="POST", path=".*", count=1, status=500, reason=None, task_error=None):
        """Register a fault; ``count`` < 0 means until cleared. ``path`` is a regex searched
        in the request path with and without the ``/api2/json`` prefix."""
        if task_error is None and not reason:
            reason = "simulated failure"
        fault = {"method": (method or "*").upper(), "path": path or ".*", "regex": re.compile(path or ".*"),
                 "count": int(count if count is not None else 1), "status": int(status or 500),
                 "reason": reason, "task_error": task_error, "hits": 0}
        with self._lock:
            self._faults.append(fault)
        return self.public(fault)

    @staticmethod
    def public(fault):
        return {k: v for k, v in fault.items() if k != "regex"}

    def clear(self):
        with self._lock:
            self._faults.clear()

    def list(self):
        with self._lock:
            return [self.public(f) for f in self._faults]

    def _take(self, method, path, want_task):
        with self._lock:
            for fault in self._faults:
                if (fault["task_error"] is not None) != want_task:
                    continue
                if fault["method"] not in ("*", method.upper()):
                    continue
                if not (fault["regex"].search(path) or fault["regex"].search("/api2/json" + path)):
                    continue
                if fault["count"] == 0:
                    continue
                if fault["count"] > 0:
                    fault["count"] -= 1
                fault["hits"] += 1
                return fault
        return None

    def http_fault_for(self, method, path):
        fault = self._take(method, path, want_task=False)
        return (fault["status"], fault["reason"]) if fault else None

    def task_error_for(self, method, path):
        fault = self._take(method, path, want_task=True)
        return fault["task_error"] if fault else None
