"""Dependency-free line and bar plots written as PNG (the demo's training-loss curve, the benchmark chart).

matplotlib is not a dependency of the library, so this draws on a small RGB
canvas (axes, tick labels in a 3x5 pixel font, the curve) and encodes it with
`zlib` as a standard 8-bit RGB PNG.
"""

import struct
import zlib

import numpy as np

# 3x5 glyphs, rows top to bottom, 3 bits per row (MSB = left column).
_GLYPHS = {
    "0": (7, 5, 5, 5, 7), "1": (2, 6, 2, 2, 7), "2": (7, 1, 7, 4, 7), "3": (7, 1, 7, 1, 7),
    "4": (5, 5, 7, 1, 1), "5": (7, 4, 7, 1, 7), "6": (7, 4, 7, 5, 7), "7": (7, 1, 1, 2, 2),
    "8": (7, 5, 7, 5, 7), "9": (7, 5, 7, 1, 7), ".": (0, 0, 0, 0, 2), "-": (0, 0, 7, 0, 0),
    " ": (0, 0, 0, 0, 0), "s": (3, 4, 2, 1, 6), "t": (2, 7, 2, 2, 3), "e": (7, 5, 7, 4, 7),
    "p": (7, 5, 7, 4, 4), "l": (4, 4, 4, 4, 3), "o": (0, 7, 5, 5, 7),
}


def _text(canvas, x, y, text, scale=2, color=(0, 0, 0)):
    for char in text:
        for row, bits in enumerate(_GLYPHS.get(char, _GLYPHS[" "])):
            for col in range(3):
                if bits >> (2 - col) & 1:
                    canvas[y + row * scale : y + (row + 1) * scale, x + col * scale : x + (col + 1) * scale] = color
        x += 4 * scale


def _line(canvas, x0, y0, x1, y1, color, width=2):
    steps = int(max(abs(x1 - x0), abs(y1 - y0), 1))
    for t in np.linspace(0.0, 1.0, steps + 1):
        x, y = int(round(x0 + t * (x1 - x0))), int(round(y0 + t * (y1 - y0)))
        canvas[max(y - width // 2, 0) : y + width - width // 2, max(x - width // 2, 0) : x + width - width // 2] = color


def _png(canvas):
    height, width, _ = canvas.shape
    raw = b"".join(b"\x00" + canvas[row].tobytes() for row in range(height))  # filter type 0 per row

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def save_line_plot(values, path, width=640, height=360, x_label="step", y_label="loss"):
    """Draws `values` (y at x = 0..n-1) as a line plot and writes it to `path` as PNG.

    Args:
        values: a sequence of finite numbers, at least two.
        path: output file.
        width, height: image size in pixels (at least 200 x 120).
        x_label, y_label: axis names (letters of "steplo", digits, ".", "-").

    Returns:
        `path`.
    """
    values = np.asarray(values, "float64").reshape(-1)
    if values.size < 2 or not np.all(np.isfinite(values)):
        raise ValueError(f"`values` must hold at least two finite numbers, got {values.size} values.")
    if width < 200 or height < 120:
        raise ValueError(f"`width` x `height` must be at least 200 x 120, got {width} x {height}.")
    canvas = np.full((height, width, 3), 255, np.uint8)
    left, right, top, bottom = 70, width - 20, 30, height - 40
    low, high = float(values.min()), float(values.max())
    if high - low < 1e-12:
        low, high = low - 0.5, high + 0.5
    black, grey, blue = (0, 0, 0), (220, 220, 220), (31, 119, 180)
    for k in range(5):  # horizontal grid lines and y tick labels
        y = bottom - k * (bottom - top) // 4
        _line(canvas, left, y, right, y, grey, width=1)
        _text(canvas, 4, y - 5, f"{low + k * (high - low) / 4:.2f}"[:7])
    _line(canvas, left, bottom, right, bottom, black)
    _line(canvas, left, top, left, bottom, black)
    for k in range(5):  # x tick labels
        x = left + k * (right - left) // 4
        _text(canvas, x - 6, bottom + 8, str(int(round(k * (values.size - 1) / 4))))
    _text(canvas, (left + right) // 2 - 16, height - 14, x_label)
    _text(canvas, 4, 4, y_label)
    xs = left + np.arange(values.size) * (right - left) / (values.size - 1)
    ys = bottom - (values - low) / (high - low) * (bottom - top)
    for i in range(values.size - 1):
        _line(canvas, xs[i], ys[i], xs[i + 1], ys[i + 1], blue)
    with open(path, "wb") as f:
        f.write(_png(canvas))
    return path


def save_bar_chart(values, path, goals=None, width=640, height=360):
    """Draws one bar per value (bar k is `values[k]`) with a line at 1 and writes `path` as PNG.

    The benchmark collector's chart when matplotlib is absent: bars are
    numbered by position (the JSON beside the chart names them), the y axis
    starts at 0, a grey line marks 1.0 and a red mark over a bar its goal.

    Args:
        values: a sequence of finite numbers >= 0, at least one.
        path: output file.
        goals: optional sequence of the same length, a number or None per bar.
        width, height: image size in pixels (at least 200 x 120).

    Returns:
        `path`.
    """
    values = np.asarray(values, "float64").reshape(-1)
    if values.size < 1 or not np.all(np.isfinite(values)) or np.any(values < 0):
        raise ValueError(f"`values` must hold at least one finite number >= 0, got {values.tolist()}.")
    goals = [None] * values.size if goals is None else list(goals)
    if len(goals) != values.size:
        raise ValueError(f"`goals` must have one entry per value ({values.size}), got {len(goals)}.")
    if width < 200 or height < 120:
        raise ValueError(f"`width` x `height` must be at least 200 x 120, got {width} x {height}.")
    canvas = np.full((height, width, 3), 255, np.uint8)
    left, right, top, bottom = 70, width - 20, 30, height - 40
    finite_goals = [float(g) for g in goals if g is not None]
    high = max([1.0, float(values.max())] + finite_goals) * 1.1
    black, grey, blue, red = (0, 0, 0), (160, 160, 160), (31, 119, 180), (214, 39, 40)

    def y_of(value):
        return int(round(bottom - value / high * (bottom - top)))

    for k in range(5):  # y tick labels
        _text(canvas, 4, y_of(k * high / 4) - 5, f"{k * high / 4:.2f}"[:7])
    _line(canvas, left, bottom, right, bottom, black)
    _line(canvas, left, top, left, bottom, black)
    _line(canvas, left, y_of(1.0), right, y_of(1.0), grey, width=1)
    slot = (right - left) / values.size
    for k, (value, goal) in enumerate(zip(values, goals)):
        x0, x1 = int(left + k * slot + 0.15 * slot), int(left + (k + 1) * slot - 0.15 * slot)
        canvas[y_of(value) : bottom, x0 : max(x1, x0 + 1)] = blue
        if goal is not None:
            _line(canvas, x0 - 2, y_of(float(goal)), x1 + 2, y_of(float(goal)), red)
        _text(canvas, (x0 + x1) // 2 - 4, bottom + 8, str(k))
    with open(path, "wb") as f:
        f.write(_png(canvas))
    return path
