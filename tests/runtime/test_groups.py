import numpy as np

from pconv_cli.runtime.groups import group_holes

SCALE = 64  # the tiny preset's working scale


def test_groups_join_holes_closer_than_an_eighth_of_the_scale():
    holes = np.zeros((200, 300), bool)
    holes[10:20, 10:20] = holes[10:20, 20 + SCALE // 8 - 1 : 40] = True  # a gap of S/8 - 1: joined
    holes[100:110, 100:110] = True
    holes[100:110, 110 + 2 * SCALE // 8 : 140] = True  # a gap of 2·S/8: apart
    groups = group_holes(holes, SCALE)
    assert groups.boxes == [(10, 10, 30, 10), (100, 100, 10, 10), (126, 100, 14, 10)]
    member = groups.member(1, 0, 200, 0, 300)
    assert member[holes].sum() == 10 * 10 + 10 * 13 and not member[100:110, 100:140].any()
    deep = np.zeros_like(holes)
    deep[105, 130] = True
    assert groups.labels_of(deep) == [3]
    assert groups.grid.size * groups.cell**2 >= holes.size and groups.cell > 1  # grouped on a coarse grid
