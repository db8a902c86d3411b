import pytest
import torch

from pconv_cli.errors import PconvError, UsageError
from pconv_cli.model import weights
from pconv_cli.model.unet import PConvConfig, PConvUNet


def test_registered_vgg_is_present_and_verified():
    path = weights.registered_path(weights.VGG_WEIGHTS)
    assert weights.sha256_file(path) == weights.REGISTRY[weights.VGG_WEIGHTS].sha256


def test_safetensors_round_trip_carries_config(tmp_path):
    model = PConvUNet(PConvConfig.preset("tiny")).eval()
    path = tmp_path / "m.safetensors"
    weights.save_weights(model, path)
    loaded = weights.load_model(path)
    assert loaded.config == model.config
    x, m = torch.rand(1, 3, 64, 64), torch.ones(1, 1, 64, 64)
    m[..., 10:30, 10:30] = 0
    torch.testing.assert_close(loaded(x, m), model(x, m))
    weights.save_weights(model, tmp_path / "h.safetensors", half=True)
    assert (tmp_path / "h.safetensors").stat().st_size < path.stat().st_size
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_checkpoint_loads_with_weights_only(tmp_path):
    model = PConvUNet(PConvConfig.preset("tiny"))
    torch.save({"config": model.config.to_dict(), "model": model.state_dict(), "step": 3}, tmp_path / "c.pt")
    assert weights.load_model(tmp_path / "c.pt").config == model.config


def test_bad_files_give_one_line_errors(tmp_path):
    (tmp_path / "junk.safetensors").write_bytes(b"not a file")
    (tmp_path / "junk.pt").write_bytes(b"\x00" * 10)
    torch.save({"state": 1}, tmp_path / "other.pt")
    for name in ("junk.safetensors", "junk.pt", "other.pt"):
        with pytest.raises(PconvError) as info:
            weights.load_model(tmp_path / name)
        assert "\n" not in str(info.value) and name in str(info.value)
    with pytest.raises(UsageError, match="not found"):
        weights.load_model(tmp_path / "missing.safetensors")


def test_shipped_default_model_is_registered_verified_and_trained():
    path = weights.default_model_path()
    entry = weights.REGISTRY[weights.DEFAULT_MODEL]
    assert entry.kind == "model" and weights.sha256_file(path) == entry.sha256
    model = weights.load_model(path)
    # a trained model fills a hole in a smooth gradient with the gradient's colours, not noise
    ramp = torch.linspace(0, 1, 128)
    image = torch.stack(
        [ramp.view(1, -1).expand(128, 128), ramp.view(-1, 1).expand(128, 128), 0.5 * torch.ones(128, 128)]
    )
    mask = torch.ones(1, 1, 128, 128)
    mask[..., 48:80, 48:80] = 0
    with torch.no_grad():
        out = model(image[None] * mask, mask)
    assert (out - image).abs()[..., 48:80, 48:80].mean() < 0.1


def test_registered_names_load_like_paths():
    by_name = weights.load_model(weights.DEFAULT_MODEL)
    by_path = weights.load_model(weights.default_model_path())
    assert by_name.config == by_path.config
    for a, b in zip(by_name.state_dict().values(), by_path.state_dict().values()):
        assert torch.equal(a, b)


def test_misleading_weights_messages_are_plain(tmp_path):
    import argparse

    # a pickle holding an object of some class: torch's own message would advise weights_only=False
    torch.save({"config": {}, "model": argparse.Namespace(a=1)}, tmp_path / "foreign.pt")
    with pytest.raises(PconvError) as info:
        weights.load_model(tmp_path / "foreign.pt")
    assert "weights_only" not in str(info.value) and "only tensors and plain data" in str(info.value)
    with pytest.raises(UsageError, match="is a folder"):
        weights.load_model(tmp_path)
    tiny, small = PConvUNet(PConvConfig.preset("tiny")), PConvConfig.preset("small")
    torch.save({"config": small.to_dict(), "model": tiny.state_dict()}, tmp_path / "mismatch.pt")
    with pytest.raises(PconvError, match=r"do not fit its config: \d+ tensor\(s\) of another shape .* missing"):
        weights.load_model(tmp_path / "mismatch.pt")


def test_load_averaged_is_the_uniform_mean_of_one_architecture(tmp_path):
    from typer.testing import CliRunner

    from pconv_cli.cli import app

    models = []
    for seed in range(3):
        torch.manual_seed(seed)
        models.append(PConvUNet(PConvConfig.preset("tiny")))
        weights.save_weights(models[-1], tmp_path / f"m{seed}.safetensors")
    paths = [tmp_path / f"m{seed}.safetensors" for seed in range(3)]
    soup = weights.load_averaged(paths)
    for name, value in soup.state_dict().items():
        parts = [m.state_dict()[name] for m in models]
        if value.is_floating_point():
            torch.testing.assert_close(value, sum(parts) / 3)
        else:
            assert torch.equal(value, parts[0])
    assert weights.load_averaged(paths[0]).state_dict().keys() == soup.state_dict().keys()
    weights.save_weights(PConvUNet(PConvConfig(levels=3, width=4, image_size=64)), tmp_path / "other.safetensors")
    with pytest.raises(UsageError, match=r"configs differ \(width 4 vs 8\)"):
        weights.load_averaged([paths[0], tmp_path / "other.safetensors"])
    result = CliRunner().invoke(app, ["export", *map(str, paths), "-o", str(tmp_path / "soup.safetensors")])
    assert result.exit_code == 0
    exported = weights.load_model(tmp_path / "soup.safetensors").state_dict()
    assert all(torch.equal(exported[k], v) for k, v in soup.state_dict().items())
