"""The partial-convolution layer (Liu et al. 2018, eq. 1-2): ``PartialConv2d`` and ``valid_count``.

For every output location the convolution sees only valid inputs and is
renormalised by ``sum(1) / sum(M)``, where both sums run over the whole window
and every input channel::

    x' = W^T (X * M) * sum(1) / sum(M) + b    if sum(M) > 0, else 0
    m' = 1 if sum(M) > 0 else 0

A C-channel mask is never built: every channel of a feature map shares one mask
(or a per-channel mask is summed over channels first), so ``sum(M)`` is a box
sum over a single weighted plane. A decoder input made of parts (upsampled
features and a skip connection, each with its own mask) is passed as sequences;
the weighted plane is then ``sum_i C_i * m_i``, which is exact.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

Tensors = torch.Tensor | Sequence[torch.Tensor]


def _as_parts(x: Tensors, mask: Tensors) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    xs = [x] if isinstance(x, torch.Tensor) else list(x)
    ms = [mask] if isinstance(mask, torch.Tensor) else list(mask)
    if len(xs) != len(ms) or not xs:
        raise ValueError(f"expected one mask per input part, got {len(xs)} parts and {len(ms)} masks")
    for i, (xi, mi) in enumerate(zip(xs, ms)):
        if xi.dim() != 4 or mi.dim() != 4:
            raise ValueError(
                f"part {i}: expected 4-D N×C×H×W tensors, got x {tuple(xi.shape)} and mask {tuple(mi.shape)}"
            )
        if mi.shape[0] != xi.shape[0] or mi.shape[2:] != xi.shape[2:] or mi.shape[1] not in (1, xi.shape[1]):
            raise ValueError(
                f"part {i}: mask must be N×1×H×W or N×C×H×W matching x {tuple(xi.shape)}, got {tuple(mi.shape)}"
            )
    return xs, ms


def _accumulate(dtype: torch.dtype) -> torch.dtype:
    """float64 stays float64; everything else (bf16, fp16, bool, float32) is counted and scaled in float32."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def valid_count(
    mask: Tensors,
    channels: Sequence[int],
    kernel_size: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
) -> torch.Tensor:
    """sum(M) per window, over all channels, with zero padding counted as hole.

    mask: one N×1×H×W or N×C_i×H×W tensor per part; channels: C_i per part.
    Returns N×1×H'×W' counts (exact integers), float32 or float64 if the masks are.

    Example: a 2-channel input with no hole, 3×3 windows, zero padding.
        >>> valid_count(torch.ones(1, 1, 3, 3), [2], (3, 3), (1, 1), (1, 1))[0, 0].tolist()
        [[8.0, 12.0, 8.0], [12.0, 18.0, 12.0], [8.0, 12.0, 8.0]]
    """
    ms = [mask] if isinstance(mask, torch.Tensor) else list(mask)
    if len(ms) != len(channels) or not ms:
        raise ValueError(f"expected one channel count per mask part, got {len(channels)} for {len(ms)} parts")
    plane = None
    for m, c in zip(ms, channels):
        m = m.to(_accumulate(m.dtype))
        w = m.sum(1, keepdim=True) if m.shape[1] > 1 else m * c
        plane = w if plane is None else plane + w
    # avg_pool with divisor 1 is an exact box sum; padding zeros act as holes. ONNX's AveragePool
    # has no divisor, so an exported graph sums with a ones kernel instead (equally exact).
    if torch.onnx.is_in_onnx_export():
        ones = torch.ones(1, 1, *kernel_size, dtype=plane.dtype, device=plane.device)
        return F.conv2d(plane, ones, stride=stride, padding=padding)
    return F.avg_pool2d(plane, kernel_size, stride, padding, count_include_pad=True, divisor_override=1)


class PartialConv2d(nn.Module):
    """Partial convolution, paper eq. 1-2.

    forward(x, mask) -> (out, new_mask)
      x:    N×C_in×H×W, or a sequence of parts N×C_i×H×W with sum(C_i) = C_in
      mask: N×1×H×W (shared by all channels) or N×C_in×H×W; for parts, one such
            mask per part. 1 = valid, 0 = hole.
      out:  N×C_out×H'×W', zero where the window had no valid input
      new_mask: N×1×H'×W' float32
    Under autocast the convolution runs in low precision while the counts,
    ratios and the renormalised output stay float32.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, bias=False)
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.window = in_channels * self.conv.kernel_size[0] * self.conv.kernel_size[1]

    @property
    def weight(self) -> nn.Parameter:
        return self.conv.weight

    def extra_repr(self) -> str:
        return f"bias={self.bias is not None}"

    def forward(self, x: Tensors, mask: Tensors, masked: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """masked=True promises that x is already zero wherever its mask is 0: the multiply is skipped, same result."""
        xs, ms = _as_parts(x, mask)
        channels = [xi.shape[1] for xi in xs]
        if sum(channels) != self.conv.in_channels:
            raise ValueError(f"expected {self.conv.in_channels} input channels, got {sum(channels)}")
        if not masked:
            xs = [xi * mi.to(xi.dtype) for xi, mi in zip(xs, ms)]
        raw = self.conv(xs[0] if len(xs) == 1 else torch.cat(xs, 1))
        conv = self.conv
        count = valid_count(ms, channels, conv.kernel_size, conv.stride, conv.padding)  # type: ignore[arg-type]
        new_mask = (count > 0).to(count.dtype)
        scale = self.window / count.clamp(min=1.0) * new_mask
        # In place: the convolution's backward needs its input, not its output.
        dtype = _accumulate(raw.dtype)
        out = raw.to(dtype).mul_(scale.to(dtype))
        if self.bias is not None:
            out = out.addcmul_(self.bias.to(dtype).view(1, -1, 1, 1), new_mask.to(dtype))
        return out, new_mask
