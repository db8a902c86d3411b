import doctest

import numpy as np
import pytest

from pconv_cli.imaging import crops
from pconv_cli.imaging.crops import center_crop


def test_center_crop_cuts_the_middle_and_leaves_the_odd_pixel_at_the_bottom_right():
    image = np.arange(5 * 6 * 3).reshape(5, 6, 3)
    crop = center_crop(image, (2, 3))
    assert np.array_equal(crop, image[1:3, 1:4])
    assert np.array_equal(center_crop(image, 5), image[:, 0:5])
    assert np.array_equal(center_crop(image[..., 0], (5, 6)), image[..., 0])


def test_center_crop_is_a_writable_copy():
    image = np.zeros((4, 4, 3), np.uint8)
    image.flags.writeable = False
    crop = center_crop(image[:, ::-1], 2)
    crop[:] = 7
    assert crop.flags.c_contiguous and crop.flags.writeable and not image.any()


@pytest.mark.parametrize(
    ("shape", "size", "message"), [((4, 4), 5, "within"), ((4, 4), (0, 2), "within"), ((4,), 2, "H×W")]
)
def test_center_crop_refuses_what_does_not_fit(shape, size, message):
    with pytest.raises(ValueError, match=message):
        center_crop(np.zeros(shape), size)


def test_the_docstring_examples_run():
    assert doctest.testmod(crops, raise_on_error=False).failed == 0
