"""The DiffiT network, one part of the architecture per module.

- `time_embedding`: the time token x_t (sinusoidal embedding of the noise level -> MLP) plus class.
- `convolutions`: the k x k convolution, plain or depthwise-separable (the DWS variant's one swap).
- `token_mixers`: TMSA, Softmax(QK^T/sqrt(d) + B) V with time-dependent Q, K, V, and the
  time-conditioned pooling mixer of DiffiP (the DiffiP variant's one swap).
- `blocks`: the DiffiT transformer block and the DiffiT ResBlock.
- `unet`: the U-shaped image-space network, the EDM-preconditioned denoiser around it and `build_model`.
- `config`: the configuration dataclass, named presets and the model registry.
"""

from .config import MODEL_PRESETS, DiffiTConfig, model_names  # noqa: F401
from .unet import EDMDenoiser, build_model  # noqa: F401
