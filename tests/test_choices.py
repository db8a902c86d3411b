from pconv_cli import inference, strategies
from pconv_cli.choices import Precision, Strategy, values


def test_each_choice_list_comes_from_its_enum():
    assert values(Strategy) == ("auto", "full", "tile", "crop", "refine") == strategies.STRATEGIES
    assert values(Precision) == ("auto", "fp32", "bf16", "fp16") == inference.PRECISIONS
    assert Strategy("refine") is Strategy.refine and Strategy.refine == "refine"  # str enums compare as text
