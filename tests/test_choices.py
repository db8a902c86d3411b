from pconv_cli.choices import Precision, Strategy, values
from pconv_cli.runtime import strategies
from pconv_cli.runtime import torch_backend as inference


def test_each_choice_list_comes_from_its_enum():
    assert values(Strategy) == ("auto", "full", "tile", "crop", "refine") == strategies.STRATEGIES
    assert values(Precision) == ("auto", "fp32", "bf16", "fp16") == inference.PRECISIONS
    assert Strategy("refine") is Strategy.refine and Strategy.refine == "refine"  # str enums compare as text
