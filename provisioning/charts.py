"""Small inline SVG line charts: no JavaScript library, nothing from a CDN."""


def sparkline(points, index, width=160, height=32):
    """SVG polyline coordinates for one series of [time, value 0..1, ...] points, oldest first."""
    if len(points) < 2:
        return ""
    t0, t1 = points[0][0], points[-1][0]
    span = (t1 - t0) or 1
    return " ".join(
        f"{(p[0] - t0) * width / span:.1f},{height - min(max(p[index], 0), 1) * height:.1f}" for p in points
    )
