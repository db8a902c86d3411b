import doctest
import math

import cv2
import numpy as np
import pytest

from pconv_cli.runtime import repetition as module
from pconv_cli.runtime.repetition import GATE, repetition


def test_doctests():
    assert doctest.testmod(module).failed == 0


def _facade() -> np.ndarray:
    panels = np.random.default_rng(2).random((4, 4, 3), dtype=np.float32).repeat(5, 0).repeat(5, 1)
    return np.tile(panels, (8, 8, 1))  # 160×160, period 20 px


def _natural() -> np.ndarray:
    """Blurred noise: detail at several scales that never repeats exactly (foliage, water)."""
    noise = np.random.default_rng(4).random((160, 160, 3), dtype=np.float32)
    return cv2.GaussianBlur(noise, (0, 0), 1.5) * 2 - 0.5


def _hole() -> np.ndarray:
    hole = np.zeros((160, 160), bool)
    hole[60:100, 50:110] = True
    return hole


def test_a_repeating_photo_measures_below_the_gate_and_a_natural_one_above():
    assert repetition(_facade(), _hole()) < GATE / 4
    assert repetition(np.clip(_natural(), 0, 1), _hole()) > 2 * GATE


def test_hole_pixels_are_not_read_and_the_answer_is_the_same_every_time():
    photo, hole = _facade(), _hole()
    other = photo.copy()
    other[hole] = 1.0
    assert repetition(photo, hole) == repetition(other, hole) == repetition(photo, hole)


def test_flat_surroundings_give_no_answer():
    assert math.isnan(repetition(np.full((160, 160, 3), 0.4, np.float32), _hole()))


def test_only_the_edge_of_the_chosen_holes_is_measured():
    photo = np.concatenate([_facade()[:, :80], np.clip(_natural(), 0, 1)[:, 80:]], 1)
    hole = np.zeros((160, 160), bool)
    left, right = hole.copy(), hole.copy()
    left[60:100, 20:50] = True
    right[60:100, 110:140] = True
    both = left | right
    assert repetition(photo, both, left) < GATE < repetition(photo, both, right)


@pytest.mark.parametrize(
    "image, hole, edge_of",
    [
        (np.zeros((64, 64), np.float32), np.zeros((64, 64), bool), None),
        (np.zeros((64, 64, 3), np.float32), np.zeros((64, 65), bool), None),
        (np.zeros((64, 64, 3), np.float32), np.zeros((64, 64), np.uint8), None),
        (np.zeros((64, 64, 3), np.float32), np.zeros((64, 64), bool), np.zeros((63, 64), bool)),
    ],
)
def test_bad_inputs_are_refused(image, hole, edge_of):
    with pytest.raises(ValueError, match="expected"):
        repetition(image, hole, edge_of)
