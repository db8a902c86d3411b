import pytest

pytest.importorskip("onnxruntime")

from pconv_cli.runtime.onnx_backend import OnnxBackend  # noqa: E402


def test_idle_threads_wait_instead_of_spinning():
    # Spinning threads took the cores from the blend and texture stages between network calls.
    session = OnnxBackend.open(None, "cpu").session
    assert session.get_session_options().get_session_config_entry("session.intra_op.allow_spinning") == "0"
