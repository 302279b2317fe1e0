"""DiffiT: diffusion vision transformers with time-dependent self-attention (arXiv 2312.02139)."""
