"""The size filters of the templates; the formatting itself is provisioning.units."""

from django import template

from provisioning import units

register = template.Library()
register.filter("memory", units.memory)
register.filter("disk", units.disk)
register.filter("percent", units.percent)
