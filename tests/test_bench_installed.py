from benchmarks import installed


def test_closure_follows_requirements_and_sizes_add_up():
    pulled = installed.closure(["onnxruntime"])
    assert {"onnxruntime", "numpy", "protobuf"} <= pulled
    assert "torch" not in pulled and "pconv-cli" not in pulled
    assert installed.closure(["no-such-package"]) == set()
    assert installed.size_mib({"onnxruntime"}) < installed.size_mib(pulled)
    assert installed.extra_size_mib("onnx") < installed.size_mib(pulled)  # numpy is pconv's own already
    assert installed.extra_size_mib("torch") > installed.extra_size_mib("onnx")
