"""What every operation kind is made of: steps, a compensation, labels and follow-ups (a recipe).

A step returns a UPID (the engine waits for that Proxmox task), None (done), or a Yield (run me
again later). Every step looks at Proxmox first, so running it twice (after a worker died before
its UPID was saved) never clones, creates or destroys twice. Steps never enqueue anything and
never import actions or tasks: what comes after an operation is a follow-up the engine schedules.
"""

from dataclasses import dataclass, field
from typing import Callable

from provisioning.models import Operation
from provisioning.proxmox import PVE


@dataclass(frozen=True)
class Yield:
    """A step asks to be run again later (node busy, task still running)."""

    delay: float


@dataclass(frozen=True)
class Step:
    name: str
    run: Callable
    starts_task: bool = True


def sync(name, run):
    """A step that answers at once instead of starting a Proxmox task."""
    return Step(name, run, starts_task=False)


@dataclass(frozen=True)
class FollowUp:
    """Work the engine schedules after an operation ended: a Celery task by name, with its arguments."""

    task: str
    args: tuple = ()
    countdown: float | None = None


def _no_compensation(op):
    return None


def _no_follow_ups(op):
    return []


@dataclass(frozen=True)
class Recipe:
    """One operation kind: its steps for a given operation, what a failure leaves behind, its step
    labels, and what follows it (called once the operation succeeded or failed)."""

    kind: str
    steps: Callable[[Operation], list[Step]]
    on_failure: Callable[[Operation], None] = _no_compensation
    follow_ups: Callable[[Operation], list[FollowUp]] = _no_follow_ups
    labels: dict = field(default_factory=dict)


RECIPES: dict[str, Recipe] = {}
LABELS: dict = {}


def register(*recipes):
    for recipe in recipes:
        if recipe.kind in RECIPES:
            raise ValueError(f"two recipes for operation kind {recipe.kind}")
        RECIPES[recipe.kind] = recipe
        LABELS.update(recipe.labels)


def recipe_for(kind):
    try:
        return RECIPES[kind]
    except KeyError:
        raise ValueError(f"unknown operation kind {kind}") from None


def step_label(op):
    """The operation's current step in the reader's language."""
    return LABELS.get(op.step_name, op.step_name)


class Context:
    """What a step works with: the operation, its server (if any) and the cluster's API."""

    def __init__(self, op):
        self.op = op
        self.server = op.server
        # Backup housekeeping may outlive its server and image downloads have none: then the
        # operation names its cluster.
        self.pve = PVE(op.server.cluster if op.server else op.cluster)

    @property
    def params(self):
        return self.op.params
