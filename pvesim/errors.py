"""Exceptions that map onto Proxmox's HTTP error forms."""


class ApiError(Exception):
    """An HTTP error answered the way pve-http-server answers it.

    The first line of ``message`` becomes the reason phrase because proxmoxer reads
    the error text from there, not from the body.
    """

    def __init__(self, status, message, errors=None, body=True):
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors
        self.body = body


def param_error(errors):
    return ApiError(400, "Parameter verification failed.", errors=errors)


def die(message):
    return ApiError(500, message)


class TaskError(Exception):
    """Raised inside a task worker; becomes ``TASK ERROR: <msg>``."""
