import numpy as np

from pconv_cli.imaging.raster import ellipses, polyline


def _paint(piece, size):
    out = np.zeros(size, bool)
    for y, a, b in zip(*piece):
        out[y, a : b + 1] = True
    return out


def test_ellipse_and_brush_spans_match_the_pointwise_definition():
    size = (40, 50)
    yy, xx = np.mgrid[0 : size[0], 0 : size[1]].astype(float)
    c, s = 0.6, 0.8
    u, v = (xx - 20.3) * c + (yy - 18.7) * s, -(xx - 20.3) * s + (yy - 18.7) * c
    expected = (u / 15.0) ** 2 + (v / 6.5) ** 2 <= 1.0
    got = _paint(ellipses(*(np.array([v]) for v in (20.3, 18.7, 15.0, 6.5, c, s)), size), size)
    assert (got != expected).sum() <= 2  # only pixels on the boundary may round differently
    # a capsule is every point within r of the segment
    px, py = xx - 5.0, yy - 30.0
    dx, dy = 40.0, -22.0
    t = np.clip((px * dx + py * dy) / (dx * dx + dy * dy), 0, 1)
    expected = (px - t * dx) ** 2 + (py - t * dy) ** 2 <= 4.2**2
    got = _paint(polyline(np.array([5.0, 45.0]), np.array([30.0, 8.0]), 4.2, size), size)
    assert (got != expected).sum() <= 3 and got.sum() > 300
