import doctest
import threading

import numpy as np
import pytest

from pconv_cli.runtime import patchmatch
from pconv_cli.runtime.patchmatch import patchmatch_fill, take_agreeing


def test_doctests():
    assert doctest.testmod(patchmatch).failed == 0


def _photo() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    photo = rng.integers(0, 256, (96, 128, 3), dtype=np.uint8)
    hole = np.zeros((96, 128), bool)
    hole[30:60, 40:90] = True
    return photo, hole


def test_the_same_input_gives_the_same_bytes_in_any_thread():
    photo, hole = _photo()
    first = patchmatch_fill(photo, hole)
    outs = []
    threads = [threading.Thread(target=lambda: outs.append(patchmatch_fill(photo, hole))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(np.array_equal(first, out) for out in outs)
    assert np.array_equal(first[~hole], photo[~hole])
    assert first[hole].std() > 0.5 * photo[~hole].std()  # the photo's pieces, not a smooth fill


def test_hole_pixels_are_not_read():
    photo, hole = _photo()
    other = photo.copy()
    other[hole] = 255
    assert np.array_equal(patchmatch_fill(photo, hole), patchmatch_fill(other, hole))


def test_the_copy_is_taken_only_where_its_low_frequencies_agree():
    textured = np.full((64, 64, 3), 0.5, np.float32)
    copy = textured.copy()
    copy[:, :32] += 0.01 * np.where(np.indices((64, 32)).sum(0) % 2, 1, -1)[..., None]  # same mean, new detail
    copy[:, 32:] = 0.9  # another colour: wrong structure
    out = take_agreeing(textured, textured, copy, np.ones((64, 64), np.float32))
    assert np.allclose(out[:, :24], copy[:, :24], atol=1e-3)
    assert np.allclose(out[:, 40:], textured[:, 40:], atol=1e-3)
    assert np.array_equal(take_agreeing(textured, textured, copy, np.zeros((64, 64), np.float32)), textured)


@pytest.mark.parametrize(
    "image, hole",
    [
        (np.zeros((8, 8, 3), np.float32), np.zeros((8, 8), bool)),
        (np.zeros((8, 8), np.uint8), np.zeros((8, 8), bool)),
        (np.zeros((8, 8, 3), np.uint8), np.zeros((8, 9), bool)),
        (np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8), np.uint8)),
    ],
)
def test_bad_inputs_say_what_was_expected(image, hole):
    with pytest.raises(ValueError, match="expected"):
        patchmatch_fill(image, hole)


def test_take_agreeing_checks_shapes():
    a = np.zeros((8, 8, 3), np.float32)
    with pytest.raises(ValueError, match="expected three"):
        take_agreeing(a, a, a[:4], np.zeros((8, 8), np.float32))
