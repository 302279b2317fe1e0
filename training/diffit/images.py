"""Turning sample tensors into pixels and PNG grids (pixel mapping of docs/contracts.md)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def to_uint8(x: np.ndarray) -> np.ndarray:
    """uint8 = clamp(floor((x + 1) * 127.5 + 0.5), 0, 255)."""
    return np.clip(np.floor((np.asarray(x, dtype=np.float32) + 1.0) * 127.5 + 0.5), 0, 255).astype(np.uint8)


def grid_image(images: np.ndarray, columns: int, scale: int = 1, padding: int = 1) -> Image.Image:
    """(N, C, H, W) float images in [-1, 1] as one image grid, white between the tiles."""
    pixels = to_uint8(images)  # (N, C, H, W)
    n, c, h, w = pixels.shape
    rows = (n + columns - 1) // columns
    grid = np.full((rows * (h + padding) + padding, columns * (w + padding) + padding, c), 255, np.uint8)
    for i in range(n):
        r, col = divmod(i, columns)
        y, x = padding + r * (h + padding), padding + col * (w + padding)
        grid[y:y + h, x:x + w] = pixels[i].transpose(1, 2, 0)
    image = Image.fromarray(grid[..., 0] if c == 1 else grid)
    if scale > 1:
        image = image.resize((image.width * scale, image.height * scale), Image.NEAREST)
    return image


def save_grid(images: np.ndarray, path: Path, columns: int, scale: int = 1, padding: int = 1) -> None:
    """Save (N, C, H, W) float images in [-1, 1] as one PNG grid, creating the folder (run folders of train/export)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    grid_image(images, columns, scale, padding).save(path)
