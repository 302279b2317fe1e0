"""The U-shaped DiffiT network for image space (paper Sec. 3.3, Fig. 4) and its EDM wrapper."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..diffusion.edm import EDM
from .blocks import DiffiTResBlock
from .config import MODEL_PRESETS, DiffiTConfig, model_names
from .convolutions import make_conv
from .norms import GroupNorm
from .time_embedding import TimeToken
from .token_mixers import TMSA


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


# The 1-D taps of the 4-tap kernel of a stride-2 transposed convolution (padding 1) that equals nearest x2 followed by a
# 3-tap convolution, as sums of the 3 taps: kernel tap k gathers the taps t with k + t in {2, 3}.
_TRANSPOSED_TAPS = ((0.0, 0.0, 1.0), (0.0, 1.0, 1.0), (1.0, 1.0, 0.0), (1.0, 0.0, 0.0))


def transposed_upsample_conv(x: torch.Tensor, conv: nn.Conv2d, taps: torch.Tensor) -> torch.Tensor:
    """conv(NearestUp2(x)) as one stride-2 transposed convolution with a 4x4 kernel, exactly (up to float rounding).

    ConvTranspose(stride 2, padding 1) adds x[i] K[k] into output o = 2i - 1 + k; the upsample-then-convolve output
    o = sum_t w[t] x[(o + t - 1) // 2] takes x[i] with the taps t where k + t is 2 or 3. So per axis K = A w with A the
    4x3 matrix _TRANSPOSED_TAPS, and in 2-D K = A W A^T: the four 2x2 phase kernels of subpixel_upsample_conv laid
    into one 4x4 kernel. The same 4 multiply-adds per output pixel and channel pair, in one graph node instead of
    four pads, four convolutions, a concatenation and a pixel shuffle (one GPU dispatch instead of ten).
    `conv` is a 3x3, stride-1, padding-1 convolution, dense or grouped; `taps` is _TRANSPOSED_TAPS as a tensor (4, 3).
    """
    groups = conv.groups
    c_out, c_in_g = conv.weight.shape[:2]
    weight = conv.weight.reshape(groups, c_out // groups, c_in_g, 3, 3)  # (g, C_out/g, C_in/g, 3, 3)
    # ConvTranspose wants (C_in, C_out/g, 4, 4): the in and out axes swap inside each group, in the same contraction.
    kernel = torch.einsum("pi,goyij,qj->gyopq", taps, weight, taps).reshape(groups * c_in_g, c_out // groups, 4, 4)
    return F.conv_transpose2d(x, kernel, conv.bias, stride=2, padding=1, groups=groups)  # (B, C_out, 2H, 2W)


UPSAMPLING_FORMS = ("nearest", "subpixel", "transposed")


class Upsample(nn.Module):
    """Nearest-neighbour x2, then Conv3x3: (B, C_in, H, W) -> (B, C_out, 2H, 2W).

    The same function runs in one of three forms (`form`, set by `use_upsampling_form`):
    - "nearest": upsample, then convolve (training's default);
    - "subpixel": four 2x2 convolutions on the low-resolution map (`subpixel_upsample_conv`, 16/36 of the work);
    - "transposed": one stride-2 transposed convolution with a 4x4 kernel (`transposed_upsample_conv`: the exported
      graph, the sub-pixel arithmetic in one node).
    """

    form = "nearest"

    def __init__(self, in_channels: int, out_channels: int, conv: str):
        super().__init__()
        self.up = nn.Upsample(scale_factor=2.0, mode="nearest")
        self.conv = make_conv(conv, in_channels, out_channels, 3)
        # Constant tap tables, not in checkpoints, held as buffers so that no forward copies them to the device.
        self.register_buffer("phase_taps", torch.tensor(_PHASE_TAPS), persistent=False)
        self.register_buffer("transposed_taps", torch.tensor(_TRANSPOSED_TAPS), persistent=False)

    def forward(self, x):
        if self.form == "nearest":
            return self.conv(self.up(x))
        dense = isinstance(self.conv, nn.Conv2d)
        conv = self.conv if dense else self.conv[0]  # DWS: only the depthwise 3x3 sees the upsampled grid's structure
        if self.form == "subpixel":
            y = subpixel_upsample_conv(x, conv, self.phase_taps)
        else:
            y = transposed_upsample_conv(x, conv, self.transposed_taps)
        return y if dense else self.conv[1](y)  # DWS: then the pointwise 1x1


def use_upsampling_form(model: nn.Module, form: str = "nearest") -> nn.Module:
    """Switch every Upsample of `model` to one of UPSAMPLING_FORMS (the same function)."""
    if form not in UPSAMPLING_FORMS:
        raise ValueError(f"unknown upsampling form {form!r} (expected one of {', '.join(UPSAMPLING_FORMS)})")
    for module in model.modules():
        if isinstance(module, Upsample):
            module.form = form
    return model


def use_subpixel_upsampling(model: nn.Module, subpixel: bool = True) -> nn.Module:
    """Switch every Upsample of `model` to the sub-pixel form (training's --subpixel) or back to upsample-then-convolve."""
    return use_upsampling_form(model, "subpixel" if subpixel else "nearest")


def use_export_form(model: nn.Module, on: bool = True) -> nn.Module:
    """Switch `model` to the form `diffit.export` writes (or back): the same function in fewer graph nodes, hence fewer
    GPU dispatches in the browser. Upsampling as one transposed convolution, GroupNorm as one LayerNormalization
    over each group and one BatchNormalization for its affine, 1/sqrt(d) folded into W_q. (The residual sum and
    LayerNorm of each DiffiT block are written as one SkipLayerNormalization whenever a graph is exported:
    norms.skip_layer_norm.)"""
    use_upsampling_form(model, "transposed" if on else "nearest")
    for module in model.modules():
        if isinstance(module, GroupNorm):
            module.export_form = on
        elif isinstance(module, TMSA):
            module.fold_scale = on
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
        self.head = nn.Sequential(GroupNorm(config.groups, c[0]), nn.SiLU(),
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
