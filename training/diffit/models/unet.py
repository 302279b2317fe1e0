"""The U-shaped DiffiT network for image space (paper Sec. 3.3, Fig. 4) and its EDM wrapper."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..diffusion.edm import EDM
from .blocks import DiffiTResBlock
from .config import MODEL_PRESETS, DiffiTConfig, model_names
from .convolutions import make_conv
from .time_embedding import TimeToken


class Downsample(nn.Module):
    """Conv3x3 with stride 2: (B, C_in, H, W) -> (B, C_out, H/2, W/2)."""

    def __init__(self, in_channels: int, out_channels: int, conv: str):
        super().__init__()
        self.conv = make_conv(conv, in_channels, out_channels, 3, stride=2)

    def forward(self, x):
        return self.conv(x)


# Row (or column) taps of the 2x2 phase kernels of sub-pixel upsampling, as sums of the 3x3 taps: phase 0 of the
# output sees input offsets (-1, 0) <- taps (w0, w1 + w2); phase 1 sees offsets (0, +1) <- taps (w0 + w1, w2).
_PHASE_TAPS = (((1.0, 0.0, 0.0), (0.0, 1.0, 1.0)),
               ((1.0, 1.0, 0.0), (0.0, 0.0, 1.0)))
_PHASE_PADS = ((1, 0), (0, 1))  # (before, after) padding of the input for phase 0 and phase 1


def subpixel_upsample_conv(x: torch.Tensor, conv: nn.Conv2d, taps: torch.Tensor) -> torch.Tensor:
    """conv(NearestUp2(x)) computed on the low-resolution map, exactly (up to float rounding).

    Output pixel (2i+a, 2j+b) of a 3x3 convolution of u = NearestUp2(x) reads u rows 2i+a-1 .. 2i+a+1, which are
    x rows (i-1, i, i) for a = 0 and (i, i, i+1) for a = 1 (likewise columns, with b). So each of the four phases
    (a, b) is a 2x2 convolution of x, with kernel K_ab = T_a W T_b^T (T_a: _PHASE_TAPS), and

        y = PixelShuffle_2(stack_ab Conv2x2(x; K_ab))        (B, C_out, 2H, 2W)

    at 4 multiply-adds per output pixel and channel pair instead of 9 (Shi et al. 2016's sub-pixel view).
    `conv` is a 3x3, stride-1, padding-1 convolution, dense or depthwise; `taps` is _PHASE_TAPS as a tensor
    (2 phases, 2, 3), held by Upsample as a buffer so that no forward copies it to the device.
    """
    n, _, h, w = x.shape
    phases = []
    for a in (0, 1):  # row phase
        for b in (0, 1):  # column phase
            kernel = torch.einsum("pi,oyij,qj->oypq", taps[a], conv.weight, taps[b])  # (C_out, C_in/groups, 2, 2)
            padded = F.pad(x, (*_PHASE_PADS[b], *_PHASE_PADS[a]))  # (B, C_in, H+1, W+1)
            phases.append(F.conv2d(padded, kernel, conv.bias, groups=conv.groups))  # (B, C_out, H, W)
    y = torch.stack(phases, dim=2)  # (B, C_out, 4, H, W), phase index 2a + b
    return F.pixel_shuffle(y.reshape(n, -1, h, w), 2)  # (B, C_out, 2H, 2W)


class Upsample(nn.Module):
    """Nearest-neighbour x2, then Conv3x3: (B, C_in, H, W) -> (B, C_out, 2H, 2W).

    With `subpixel` set (the exported graph, `use_subpixel_upsampling`), the same function runs as four 2x2
    convolutions on the low-resolution map (`subpixel_upsample_conv`): 16/36 of the 3x3 convolution's work.
    """

    subpixel = False

    def __init__(self, in_channels: int, out_channels: int, conv: str):
        super().__init__()
        self.up = nn.Upsample(scale_factor=2.0, mode="nearest")
        self.conv = make_conv(conv, in_channels, out_channels, 3)
        self.register_buffer("phase_taps", torch.tensor(_PHASE_TAPS), persistent=False)  # not in checkpoints

    def forward(self, x):
        if not self.subpixel:
            return self.conv(self.up(x))
        if isinstance(self.conv, nn.Conv2d):  # dense
            return subpixel_upsample_conv(x, self.conv, self.phase_taps)
        depthwise, pointwise = self.conv  # DWS: only the 3x3 (depthwise) part sees the upsampled grid's structure
        return pointwise(subpixel_upsample_conv(x, depthwise, self.phase_taps))


def use_subpixel_upsampling(model: nn.Module, subpixel: bool = True) -> nn.Module:
    """Switch every Upsample of `model` to the sub-pixel form (export) or back to upsample-then-convolve."""
    for module in model.modules():
        if isinstance(module, Upsample):
            module.subpixel = subpixel
    return model


class DiffiTUNet(nn.Module):
    """F(x, c_noise, class): tokenizer -> L ResBlocks per level with conv downsampling ->
    mirrored decoder with upsampling and a skip connection at each resolution -> GN, Swish, Conv3x3 head.
    """

    def __init__(self, config: DiffiTConfig):
        super().__init__()
        self.config = config
        c = config.channels
        self.time_token = TimeToken(c[0], config.time_dim, config.num_classes)
        self.tokenizer = make_conv(config.conv, config.in_channels, c[0], 3)

        def res_block(level: int) -> DiffiTResBlock:
            return DiffiTResBlock(c[level], config.time_dim, max(1, c[level] // config.head_dim),
                                  config.windows[level], config.mlp_ratio, config.token_mixer, config.conv,
                                  config.groups)

        levels = range(len(c))
        self.encoder = nn.ModuleList([nn.ModuleList([res_block(i) for _ in range(config.blocks_per_level)])
                                      for i in levels])
        self.downsample = nn.ModuleList([Downsample(c[i], c[i + 1], config.conv) for i in levels[:-1]])
        self.skip_merge = nn.ModuleList([nn.Conv2d(2 * c[i], c[i], 1) for i in levels])  # concat skip -> 1x1
        self.decoder = nn.ModuleList([nn.ModuleList([res_block(i) for _ in range(config.blocks_per_level)])
                                      for i in levels])
        self.upsample = nn.ModuleList([Upsample(c[i + 1], c[i], config.conv) for i in levels[:-1]])
        self.head = nn.Sequential(nn.GroupNorm(config.groups, c[0]), nn.SiLU(),
                                  make_conv(config.conv, c[0], config.in_channels, 3))

    def attention_layers(self) -> list[dict]:
        """Name, level, resolution, window and heads of each TMSA layer, in output order."""
        if self.config.token_mixer != "tmsa":
            return []
        layers = []
        for part in ("enc", "dec"):
            order = range(len(self.config.channels)) if part == "enc" else reversed(range(len(self.config.channels)))
            for level in order:
                for j in range(self.config.blocks_per_level):
                    size = self.config.resolution >> level
                    window = self.config.windows[level]
                    layers.append({"name": f"{part}{level}_{j}", "level": level, "resolution": size,
                                   "window": window, "heads": max(1, self.config.channels[level] // self.config.head_dim),
                                   "windows": (size // window) ** 2, "tokens": window * window})
        return layers

    def forward(self, x, c_noise, class_label, return_attention: bool = False):
        x_t = self.time_token(c_noise, class_label)  # (B, time_dim)
        attentions: list[torch.Tensor] = []
        h = self.tokenizer(x)  # (B, c0, H, W)
        skips = []
        for level, blocks in enumerate(self.encoder):
            for block in blocks:
                h, a = block(h, x_t, return_attention)
                attentions.append(a)
            skips.append(h)
            if level < len(self.downsample):
                h = self.downsample[level](h)  # (B, c_{l+1}, H/2^{l+1}, W/2^{l+1})
        for level in reversed(range(len(self.decoder))):
            h = self.skip_merge[level](torch.cat([h, skips[level]], dim=1))  # (B, c_l, H/2^l, W/2^l)
            for block in self.decoder[level]:
                h, a = block(h, x_t, return_attention)
                attentions.append(a)
            if level > 0:
                h = self.upsample[level - 1](h)  # (B, c_{l-1}, H/2^{l-1}, W/2^{l-1})
        out = self.head(h)  # (B, C, H, W)
        return out, [a for a in attentions if a is not None]


class EDMDenoiser(nn.Module):
    """D(x; sigma) = c_skip x + c_out F(c_in x; c_noise) (Karras et al. 2022, Table 1), with sd = EDM.sigma_data and

        c_skip = sd^2 / (sigma^2 + sd^2),  c_out = sigma sd / sqrt(sigma^2 + sd^2),
        c_in = 1 / sqrt(sigma^2 + sd^2),   c_noise = ln(sigma) / 4.
    """

    def __init__(self, config: DiffiTConfig):
        super().__init__()
        self.config = config
        self.net = DiffiTUNet(config)

    def forward(self, x, sigma, class_label=None, return_attention: bool = False):
        sd = EDM.sigma_data
        if class_label is None:
            class_label = torch.full((x.shape[0],), self.config.num_classes, dtype=torch.long, device=x.device)
        sigma = sigma.reshape(-1, 1, 1, 1).to(torch.float32)  # (B, 1, 1, 1)
        c_skip = sd**2 / (sigma**2 + sd**2)
        c_out = sigma * sd / (sigma**2 + sd**2).sqrt()
        c_in = 1 / (sigma**2 + sd**2).sqrt()
        c_noise = sigma.log().flatten() / 4  # (B,)
        f_x, attentions = self.net((c_in * x).to(torch.float32), c_noise, class_label, return_attention)
        denoised = c_skip * x + c_out * f_x.to(torch.float32)  # (B, C, H, W)
        return denoised, attentions


def build_model(config: DiffiTConfig | str) -> EDMDenoiser:
    """The EDM-preconditioned denoiser D(x; sigma, class) for a config or a preset name."""
    if isinstance(config, str):
        if config not in MODEL_PRESETS:
            raise ValueError(f"unknown model {config!r}; choose one of {', '.join(model_names())}")
        config = MODEL_PRESETS[config]
    return EDMDenoiser(config)
