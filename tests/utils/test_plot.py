import struct
import zlib

import numpy as np
import pytest

from kerasnlp_lite.utils.plot import save_bar_chart, save_line_plot


def _decode(path):
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height, depth, color = struct.unpack(">IIBB", data[16:26])
    assert (depth, color) == (8, 2)
    start = data.index(b"IDAT") + 4
    length = struct.unpack(">I", data[start - 8 : start - 4])[0]
    raw = zlib.decompress(data[start : start + length])
    rows = np.frombuffer(raw, np.uint8).reshape(height, 1 + 3 * width)
    assert np.all(rows[:, 0] == 0)
    return rows[:, 1:].reshape(height, width, 3)


def test_line_plot_png_draws_a_falling_curve(tmp_path):
    path = save_line_plot(np.linspace(5.0, 1.0, 50), str(tmp_path / "loss.png"), width=320, height=200)
    image = _decode(path)
    assert image.shape == (200, 320, 3)
    blue = np.all(image == (31, 119, 180), axis=-1)
    columns = np.flatnonzero(blue.any(axis=0))
    assert columns.min() < 80 and columns.max() > 290  # the curve spans the plot
    first_row = np.flatnonzero(blue[:, columns.min() + 2]).mean()
    last_row = np.flatnonzero(blue[:, columns.max() - 2]).mean()
    assert first_row < last_row  # falling values: the curve goes down (rows grow downwards)


def test_line_plot_bad_input(tmp_path):
    with pytest.raises(ValueError, match="at least two finite"):
        save_line_plot([1.0], str(tmp_path / "x.png"))
    with pytest.raises(ValueError, match="at least two finite"):
        save_line_plot([1.0, float("nan")], str(tmp_path / "x.png"))
    with pytest.raises(ValueError, match="200 x 120"):
        save_line_plot([1.0, 2.0], str(tmp_path / "x.png"), width=10)


def test_bar_chart_bar_heights_follow_the_values(tmp_path):
    path = save_bar_chart([0.5, 2.0], str(tmp_path / "bars.png"), goals=[0.8, None], width=320, height=200)
    image = _decode(path)
    blue = np.all(image == (31, 119, 180), axis=-1)
    columns = np.flatnonzero(blue.any(axis=0))
    left, right = columns[columns < 195], columns[columns >= 195]
    assert len(left) and len(right)  # two bars, one per half of the plot
    height_left = blue[:, left[len(left) // 2]].sum()
    height_right = blue[:, right[len(right) // 2]].sum()
    assert 3.5 < height_right / height_left < 4.5  # 2.0 / 0.5, up to pixel rounding
    assert np.all(image == (214, 39, 40), axis=-1).any()  # the goal mark


def test_bar_chart_bad_input(tmp_path):
    with pytest.raises(ValueError, match="finite number >= 0"):
        save_bar_chart([], str(tmp_path / "x.png"))
    with pytest.raises(ValueError, match="finite number >= 0"):
        save_bar_chart([1.0, -1.0], str(tmp_path / "x.png"))
    with pytest.raises(ValueError, match="one entry per value"):
        save_bar_chart([1.0, 2.0], str(tmp_path / "x.png"), goals=[1.0])
