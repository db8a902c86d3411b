import io

from rich.console import Console

from pconv_cli.console import progress_bar


def test_the_bar_shows_on_a_terminal_only_with_the_columns_asked_for():
    quiet = progress_bar(Console(file=io.StringIO(), force_terminal=False))
    assert quiet.disable
    out = io.StringIO()
    terminal = Console(file=out, force_terminal=True, width=120)
    with progress_bar(terminal, rate="img/s", info=True) as bar:
        task = bar.add_task("inpainting", total=4, info="loss 0.5")
        bar.advance(task, 2)
    text = out.getvalue()
    assert not bar.disable and "inpainting" in text and "2/4" in text and "img/s" in text and "loss 0.5" in text
