"""pvesim: a stateful Proxmox VE 9 API simulator (standalone; no Django)."""

from .simulator import Simulator

__all__ = ["Simulator"]
