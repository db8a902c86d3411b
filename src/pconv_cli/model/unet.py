"""The partial-convolution U-Net of the paper's appendix (its table of PConv1-16)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from pconv_cli.choices import Arch, values
from pconv_cli.model.layer import PartialConv2d

# Kernel sizes of the first encoder layers; every later layer is 3×3.
_ENCODER_KERNELS = (7, 5, 5)


@dataclass(frozen=True)
class PConvConfig:
    """Architecture of a PConvUNet; saved inside every checkpoint and weights file.

    levels: encoder depth (stride-2 layers); a side must be a multiple of 2**levels.
    width: channels of the first layer; level i has min(width * 2**i, width * max_mult).
    image_size: the side the model is trained at, its working scale at inference.
    """

    levels: int = 8
    width: int = 64
    max_mult: int = 8
    in_channels: int = 3
    image_size: int = 512

    PRESETS = values(Arch)

    def __post_init__(self) -> None:
        if self.levels < 1 or self.width < 1 or self.max_mult < 1 or self.in_channels < 1:
            raise ValueError(f"config values must be positive, got {self}")
        if self.image_size % self.multiple:
            raise ValueError(f"image_size must be a multiple of 2**levels = {self.multiple}, got {self.image_size}")

    @property
    def multiple(self) -> int:
        return 2**self.levels

    def channels(self, level: int) -> int:
        """Output channels of encoder level ``level`` (0-based)."""
        return self.width * min(2**level, self.max_mult)

    @classmethod
    def preset(cls, name: str) -> PConvConfig:
        presets = {
            Arch.paper512.value: cls(levels=8, width=64, image_size=512),
            Arch.paper256.value: cls(levels=7, width=64, image_size=256),
            Arch.small.value: cls(levels=7, width=32, image_size=256),
            Arch.tiny.value: cls(levels=3, width=8, image_size=64),
        }
        if name not in presets:
            raise ValueError(f"unknown architecture preset {name!r}; expected one of {', '.join(cls.PRESETS)}")
        return presets[name]

    def preset_name(self) -> str | None:
        """The preset this network is, at any working scale; None for one of its own."""

        def shape(config: PConvConfig) -> dict:
            return dict(config.to_dict(), image_size=None)

        return next((name for name in self.PRESETS if shape(self.preset(name)) == shape(self)), None)

    def to_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> PConvConfig:
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - fields
        if unknown:
            raise ValueError(f"unknown config keys {sorted(unknown)}; expected a subset of {sorted(fields)}")
        return cls(**data)


class _Block(nn.Module):
    """PartialConv2d, then optional BatchNorm and activation, carrying the mask."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, bn: bool, act: nn.Module | None) -> None:
        super().__init__()
        self.conv = PartialConv2d(cin, cout, kernel, stride, kernel // 2, bias=not bn)
        self.bn = nn.BatchNorm2d(cout) if bn else None
        self.act = act

    def forward(self, x, mask, masked: bool = False):
        """x: N×C×H×W or parts, mask: N×1×H×W or parts (see PartialConv2d); masked: x is zero in its holes.

        Returns the features, zero wherever the new mask is 0, and that new mask.
        """
        x, mask = self.conv(x, mask, masked=masked)
        if self.bn is not None:
            x = self.bn(x)
        if self.act is not None:
            x = self.act(x)
        if self.bn is not None:
            # The convolution leaves 0 in holes and ReLU / LeakyReLU keep it, but BatchNorm's shift refills
            # them; zeroing once here spares the next layer and the decoder's skip their own multiply.
            x = x * mask if torch.is_grad_enabled() else x.mul_(mask)
        return x, mask


class PConvUNet(nn.Module):
    """forward(image N×C×H×W in [0, 1], mask N×1×H×W, 1 = valid) -> image N×C×H×W.

    H and W must be multiples of 2**levels (``runner.Runner`` pads other sizes, the padding
    as hole). The raw network output is returned; callers composite it with the known pixels.
    """

    def __init__(self, config: PConvConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or PConvConfig()
        self._encoder_bn_frozen = False
        L = config.levels
        self.encoder = nn.ModuleList()
        cin = config.in_channels
        for i in range(L):
            kernel = _ENCODER_KERNELS[i] if i < len(_ENCODER_KERNELS) else 3
            self.encoder.append(_Block(cin, config.channels(i), kernel, 2, bn=i > 0, act=nn.ReLU(inplace=True)))
            cin = config.channels(i)
        self.decoder = nn.ModuleList()
        for i in reversed(range(L)):
            skip = config.channels(i - 1) if i > 0 else config.in_channels
            last = i == 0
            act = None if last else nn.LeakyReLU(0.2, inplace=True)
            self.decoder.append(_Block(cin + skip, skip, 3, 1, bn=not last, act=act))
            cin = skip
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for module in self.modules():
            if isinstance(module, _Block):
                if module.act is None:
                    nn.init.kaiming_normal_(module.conv.weight, nonlinearity="linear")
                else:
                    slope = 0.2 if isinstance(module.act, nn.LeakyReLU) else 0.0
                    nn.init.kaiming_normal_(module.conv.weight, a=slope, nonlinearity="leaky_relu")

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        cfg = self.config
        if image.dim() != 4 or image.shape[1] != cfg.in_channels:
            raise ValueError(f"expected image N×{cfg.in_channels}×H×W, got {tuple(image.shape)}")
        if mask.dim() != 4 or mask.shape[0] != image.shape[0] or mask.shape[2:] != image.shape[2:]:
            raise ValueError(f"expected mask N×1×H×W matching image {tuple(image.shape)}, got {tuple(mask.shape)}")
        h, w = image.shape[2:]
        if h % cfg.multiple or w % cfg.multiple:
            raise ValueError(f"image sides must be multiples of {cfg.multiple}, got {h}×{w}; pad them (as hole)")
        # Every block hands on features that are zero in their holes, so no layer re-multiplies by its mask.
        x, m = image * mask, mask
        skips = [(x, m)]
        for block in self.encoder:
            x, m = block(x, m, masked=True)
            skips.append((x, m))
        skips.pop()  # the deepest output is not a skip: it feeds the decoder directly
        for block in self.decoder:
            sx, sm = skips.pop()
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
            m = F.interpolate(m, scale_factor=2.0, mode="nearest")
            x, m = block((x, sx), (m, sm), masked=True)
        return x

    def freeze_encoder_bn(self) -> None:
        """Fine-tuning stage: encoder BatchNorm in eval mode with fixed affine parameters."""
        self._encoder_bn_frozen = True
        for bn in self._encoder_bns():
            for p in bn.parameters():
                p.requires_grad_(False)
        self.train(self.training)

    def _encoder_bns(self) -> list[nn.BatchNorm2d]:
        return [b.bn for b in self.encoder if b.bn is not None]

    def train(self, mode: bool = True) -> PConvUNet:
        super().train(mode)
        if self._encoder_bn_frozen:
            for bn in self._encoder_bns():
                bn.eval()
        return self
