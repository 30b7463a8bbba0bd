"""How each kind of operation runs: one recipe per kind, registered by its family's module.

build (create, reinstall, delete), power (start, stop, shutdown, reboot, rename, resize),
snapshots, backups (backups and restores), moves (HA, migrate), staging (copies, promote),
images (marketplace downloads, own templates), firewall (rules, address sets, security
groups). The engine looks a kind's recipe up here.
"""

from . import backups, build, firewall, images, moves, power, snapshots, staging  # noqa: F401 - they register their recipes
from .base import RECIPES, Context, FollowUp, Recipe, Step, Yield, recipe_for, step_label  # noqa: F401
