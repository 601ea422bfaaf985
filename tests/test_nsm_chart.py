"""The weekly chart renders a real, non-blank, phone-sized PNG from any reasonable data."""

from __future__ import annotations

import io
import subprocess
import sys
import threading
from datetime import date, timedelta

import matplotlib.image as mpimg
import numpy as np
import pytest

from bot.nsm.chart import (
    HEIGHT_PX,
    WIDTH_PX,
    ChartData,
    ChartError,
    demo_data,
    render_weekly_chart,
)
from bot.nsm.numbers import format_value

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def pixels(png: bytes) -> np.ndarray:
    return mpimg.imread(io.BytesIO(png), format="png")


@pytest.fixture(scope="module")
def demo_png() -> bytes:
    return render_weekly_chart(demo_data())


def test_png_signature_size_and_dimensions(demo_png: bytes) -> None:
    assert demo_png.startswith(PNG_SIGNATURE)
    assert 20_000 < len(demo_png) < 2_000_000
    img = pixels(demo_png)
    assert img.shape[:2] == (HEIGHT_PX, WIDTH_PX)


def test_chart_is_not_blank(demo_png: bytes) -> None:
    img = pixels(demo_png)[:, :, :3]
    assert img.var() > 0.005
    # the north star blue is actually drawn, and so are the alert red and ship green
    colours = img.reshape(-1, 3)
    for rgb in ((0x25, 0x63, 0xEB), (0xDC, 0x26, 0x26), (0x16, 0xA3, 0x4A)):
        target = np.array(rgb) / 255
        assert (np.abs(colours - target).max(axis=1) < 0.04).sum() > 50, rgb


def test_each_half_of_the_image_has_content(demo_png: bytes) -> None:
    img = pixels(demo_png)[:, :, :3]
    top, bottom = img[: HEIGHT_PX // 2], img[HEIGHT_PX // 2 :]
    assert top.var() > 0.003 and bottom.var() > 0.003


def test_minimal_data_renders() -> None:
    one = render_weekly_chart(ChartData(north_star=[(date(2026, 10, 5), 42.0)], title="X"))
    assert one.startswith(PNG_SIGNATURE)
    assert pixels(one).shape[:2] == (HEIGHT_PX, WIDTH_PX)


def test_flat_series_short_range_and_many_inputs_render() -> None:
    weeks = [date(2026, 8, 3) + timedelta(weeks=i) for i in range(5)]
    flat = [(d, 7.0) for d in weeks]
    data = ChartData(
        north_star=flat,
        inputs={f"Input {i} with a rather long name": flat for i in range(8)},
        alerts=[(weeks[1], "a" * 80), (weeks[2], "b"), (date(2020, 1, 6), "out of range")],
        ships=[(weeks[1], "x"), (weeks[1], "y"), (weeks[1], "z"), (weeks[1], "w")],
    )
    img = pixels(render_weekly_chart(data))
    assert img[:, :, :3].var() > 0.003


def test_no_north_star_values_is_a_clear_error() -> None:
    with pytest.raises(ChartError, match="There are no values for Weekly active teams"):
        render_weekly_chart(ChartData(north_star=[], title="Weekly active teams"))


def test_an_input_without_values_is_drawn_as_missing() -> None:
    weeks = [date(2026, 8, 3) + timedelta(weeks=i) for i in range(6)]
    rising = [(d, 100.0 + i) for i, d in enumerate(weeks)]
    full = ChartData(north_star=rising, inputs={"Accounts": rising, "Activation": rising})
    gap = ChartData(
        north_star=rising,
        inputs={"Accounts": rising, "Activation": [(weeks[0], float("nan"))]},
    )
    empty = ChartData(north_star=rising, inputs={"Accounts": [], "Activation": []})
    drawn = pixels(render_weekly_chart(gap))
    assert drawn.shape[:2] == (HEIGHT_PX, WIDTH_PX)
    # the missing input's cell is drawn, but differs from one with a line in it
    assert not np.array_equal(drawn, pixels(render_weekly_chart(full)))
    assert pixels(render_weekly_chart(empty)).shape[:2] == (HEIGHT_PX, WIDTH_PX)


def test_renders_in_parallel_threads_are_identical() -> None:
    data = demo_data()
    out: list[bytes] = []
    threads = [
        threading.Thread(target=lambda: out.append(render_weekly_chart(data))) for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(out) == 3 and out[0] == out[1] == out[2]


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (1522, "teams", "1,522 teams"),
        (2.66, "", "2.66"),
        (42.71, "%", "42.7%"),
        (12_345, "", "12.3k"),
        (4_560_000, "", "4.56M"),
        (0, "", "0"),
        (999_950, "", "1M"),
        (7_100_000_000, "", "7.1B"),
        (1e15, "", "1,000T"),
        (float("inf"), "teams", "—"),
    ],
)
def test_format_value(value: float, unit: str, text: str) -> None:
    assert format_value(value, unit) == text


def test_starting_the_bot_does_not_import_matplotlib() -> None:
    # matplotlib takes most of a second to import; only drawing a chart needs it.
    code = "import bot.app, sys; print('matplotlib' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "False"
