"""Model configuration, named presets and the registry of model names.

The noise-level constants (sigma_data among them) are not per-model settings: they live once, in
`diffit.diffusion.edm.EDM`. `build_model` lives beside the network, in `models.unet`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from ..diffusion.edm import EDM


@dataclass(frozen=True)
class DiffiTConfig:
    resolution: int = 32  # input height = width, in pixels
    in_channels: int = 1  # image channels (1 grey, 3 RGB)
    num_classes: int = 10  # class labels; label == num_classes is the unconditional null class
    channels: tuple[int, ...] = (64, 128, 128)  # feature channels per U-Net level (resolution halves per level)
    blocks_per_level: int = 1  # L: DiffiT ResBlocks per level, in the encoder and in the decoder
    windows: tuple[int, ...] = (8, 8, 8)  # TMSA window per level; a window equal to the feature size is global
    head_dim: int = 32  # channels per attention head
    mlp_ratio: float = 2.0  # MLP hidden width / channels
    time_dim: int = 256  # width of the time token x_t
    groups: int = 8  # GroupNorm groups
    token_mixer: str = "tmsa"  # 'tmsa' (DiffiT, DWS) or 'pool' (DiffiP)
    conv: str = "dense"  # 'dense' 3x3 convolutions, or 'dws' depthwise-separable ones
    label_dropout: float = 0.1  # probability of training on the null class (classifier-free guidance)

    def __post_init__(self):
        if len(self.channels) != len(self.windows):
            raise ValueError("channels and windows need one entry per level")
        for level, window in enumerate(self.windows):
            size = self.resolution >> level
            if size % window:
                raise ValueError(f"level {level}: feature size {size} is not divisible by window {window}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> DiffiTConfig:
        values = dict(values)
        # Checkpoints and manifests written before sigma_data moved to EDM carry it in their config.
        legacy = values.pop("sigma_data", EDM.sigma_data)
        if legacy != EDM.sigma_data:
            raise ValueError(f"config sigma_data {legacy} differs from EDM's {EDM.sigma_data}")
        for key in ("channels", "windows"):
            if key in values:
                values[key] = tuple(values[key])
        return cls(**values)


def _variant(base: DiffiTConfig, variant: str) -> DiffiTConfig:
    if variant == "diffit":
        return base
    if variant == "dws":
        return replace(base, conv="dws")
    if variant == "diffip":
        return replace(base, conv="dws", token_mixer="pool")
    raise ValueError(f"unknown variant {variant!r}")


VARIANTS = ("diffit", "dws", "diffip")

_FMNIST = DiffiTConfig()
_TINY = DiffiTConfig(resolution=32, in_channels=1, num_classes=10, channels=(16, 32), windows=(8, 16), head_dim=8,
                     time_dim=32, groups=4)
_TINY_RGB = replace(_TINY, in_channels=3)  # smoke tests on RGB data
_CIFAR = DiffiTConfig(in_channels=3, channels=(64, 128, 128), windows=(8, 8, 8))
EMOJI_NUM_CLASSES = 9  # emoji-datasource-google 16.0.0 categories with pictures (diffit.data.emoji)
_EMOJI = replace(_CIFAR, num_classes=EMOJI_NUM_CLASSES)

MODEL_PRESETS: dict[str, DiffiTConfig] = {}
for _variant_name in VARIANTS:
    MODEL_PRESETS[f"{_variant_name}-fmnist"] = _variant(_FMNIST, _variant_name)
    MODEL_PRESETS[f"{_variant_name}-cifar10"] = _variant(_CIFAR, _variant_name)
    MODEL_PRESETS[f"{_variant_name}-emoji"] = _variant(_EMOJI, _variant_name)
    MODEL_PRESETS[f"{_variant_name}-tiny"] = _variant(_TINY, _variant_name)
    MODEL_PRESETS[f"{_variant_name}-tiny-rgb"] = _variant(_TINY_RGB, _variant_name)


def variant_of(config: DiffiTConfig) -> str:
    if config.token_mixer == "pool":
        return "diffip"
    return "dws" if config.conv == "dws" else "diffit"


def model_names() -> list[str]:
    return sorted(MODEL_PRESETS)
