"""Which backups a keep-last/daily/weekly/monthly policy removes, the way Proxmox prunes."""

from zoneinfo import ZoneInfo


def backups_to_prune(backups, policy, tz="Europe/Berlin"):
    """Newest first, each rule keeps the newest backup of each of its last N periods.

    A backup kept by any rule stays; protected backups are never pruned.
    """
    zone = ZoneInfo(tz)
    ordered = sorted(backups, key=lambda b: b.created_at, reverse=True)
    keep = set()
    keep.update(b.pk for b in ordered[: policy.keep_last])
    rules = [
        (policy.keep_daily, lambda t: t.date()),
        (policy.keep_weekly, lambda t: tuple(t.isocalendar())[:2]),
        (policy.keep_monthly, lambda t: (t.year, t.month)),
    ]
    for count, period_of in rules:
        seen = []
        for backup in ordered:
            period = period_of(backup.created_at.astimezone(zone))
            if period in seen:
                continue
            if len(seen) >= count:
                break
            seen.append(period)
            keep.add(backup.pk)
    return [b for b in ordered if b.pk not in keep and not b.protected]
