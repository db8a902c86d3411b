import json

import numpy as np
from PIL import Image

from pconv_cli.training.runlog import RunLog


def lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def step_record(step: int, loss: float, skipped: int = 0) -> dict:
    return {"step": step, "loss": loss, "lr": 1e-3, "img_s": 10.0, "data_wait": 0.5, "skipped_images": skipped}


def test_a_resumed_log_keeps_the_records_up_to_its_checkpoint_and_drops_a_torn_line(tmp_path):
    earlier = [{"step": s, "loss": 1.0 / s} for s in range(1, 6)]
    text = "".join(json.dumps(r) + "\n" for r in earlier) + "[1, 2]\n" + '{"step": 6, "lo'  # a kill mid-line
    (tmp_path / "metrics.jsonl").write_text(text)
    log = RunLog(tmp_path, start_step=3, enabled=True)
    assert log.history == earlier[:3]
    log.metrics({"step": 4, "loss": 0.123456789})
    log.close()
    assert lines(tmp_path / "metrics.jsonl") == [*earlier[:3], {"step": 4, "loss": 0.123457}]
    assert Image.open(tmp_path / "loss_curve.png").size == (800, 450)


def test_progress_logs_the_mean_since_the_last_line_and_prints_it_plainly_off_a_terminal(tmp_path, capsys):
    log = RunLog(tmp_path, start_step=0, enabled=True)
    with log.progress(0, 4) as progress:
        progress(1, step_record(1, 1.0, skipped=1), log=False)
        progress(2, step_record(2, 3.0, skipped=2), log=True)
    log.close()
    mean = {"step": 2, "loss": 2.0, "lr": 1e-3, "img_s": 10.0, "data_wait": 0.5, "skipped_images": 3}
    assert lines(tmp_path / "metrics.jsonl") == [mean]
    assert "step 2/4  loss 2.0000  10.0 img/s  data wait 50%  eta 0:00:00" in capsys.readouterr().err


def test_sample_images_are_written_under_the_run_folder(tmp_path):
    log = RunLog(tmp_path, start_step=0, enabled=True)
    grid = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)
    log.image("samples/step_000001.png", grid)
    log.close()
    assert np.array_equal(np.asarray(Image.open(tmp_path / "samples" / "step_000001.png")), grid)


def test_off_rank_0_the_log_writes_and_prints_nothing(tmp_path, capsys):
    log = RunLog(tmp_path, start_step=0, enabled=False)
    log.message("hello")
    with log.progress(0, 2) as progress:
        progress(1, step_record(1, 1.0), log=True)
    log.metrics({"step": 1, "val_loss": 1.0})
    log.close()
    assert list(tmp_path.iterdir()) == [] and capsys.readouterr().err == ""
