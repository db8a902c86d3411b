"""The frozen ImageNet VGG-16 (conv1_1..conv3_3, the shipped Caffe weights) that the loss and the
perceptual metric read: one network, any of its relu1_2 … pool3 activations.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

# Caffe VGG-16 input convention of the shipped weights: BGR, 0..255, minus this mean.
VGG_MEAN_BGR = (103.939, 116.779, 123.68)
# features[:17] of torchvision's vgg16: conv channel plan, "M" = max-pool (pool1..pool3).
_PLAN = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M")
# Index in ``features`` of each activation a caller may ask for.
TAPS = {"relu1_2": 3, "pool1": 4, "relu2_2": 8, "pool2": 9, "relu3_3": 15, "pool3": 16}
POOLS = ("pool1", "pool2", "pool3")
RELUS = ("relu1_2", "relu2_2", "relu3_3")


class VGG16Features(nn.Module):
    """Frozen VGG-16 up to pool3; ``forward`` returns the activations named by ``taps``, times ``scale``.

    Input: N×3×H×W RGB in [0, 1]; it is fed as Caffe expects (BGR, 0..255, minus VGG_MEAN_BGR).
    Output: one N×C×h×w tensor per tap, in the order given (relu1_2: 64 channels at H×W,
    relu2_2: 128 at H/2, relu3_3: 256 at H/4; pool1..3 halve those). The module stays in
    eval mode and has no trainable parameters.

    Example:
        >>> feats = VGG16Features(RELUS)(torch.rand(1, 3, 8, 8))
        >>> [tuple(f.shape[1:]) for f in feats]
        [(64, 8, 8), (128, 4, 4), (256, 2, 2)]
    """

    def __init__(self, taps: Sequence[str] = POOLS, scale: float = 1.0) -> None:
        super().__init__()
        unknown = [t for t in taps if t not in TAPS]
        if unknown or not taps:
            raise ValueError(f"expected taps among {', '.join(TAPS)}, got {list(taps)}")
        layers: list[nn.Module] = []
        cin = 3
        for item in _PLAN:
            if item == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(cin, item, 3, padding=1), nn.ReLU(inplace=True)]
                cin = item
        self.features = nn.Sequential(*layers)
        self.taps = [TAPS[t] for t in taps]
        self.scale = scale
        self.register_buffer("mean", torch.tensor(VGG_MEAN_BGR).view(1, 3, 1, 1), persistent=False)
        self._load()
        self.requires_grad_(False)
        self.eval()

    def _load(self) -> None:
        from safetensors.torch import load_file

        from pconv_cli.model.weights import VGG_WEIGHTS, registered_path

        self.load_state_dict(load_file(str(registered_path(VGG_WEIGHTS))), strict=True)

    def train(self, mode: bool = True) -> VGG16Features:
        return super().train(False)  # a frozen feature extractor never leaves eval mode

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = x.flip(1) * 255.0 - self.mean
        found: dict[int, torch.Tensor] = {}
        last = max(self.taps)
        for i, layer in enumerate(self.features):
            # A tap is never overwritten later: each in-place ReLU acts on a fresh conv output.
            x = layer(x)
            if i in self.taps:
                found[i] = x * self.scale
            if i == last:
                break
        return [found[i] for i in self.taps]
