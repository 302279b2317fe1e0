"""The sampling parameters shared with the app, read from contracts/sampling.json.

The app (src/lib/url-params.ts) reads the same file, so the seed, steps, batch and guidance ranges
and the guidance rounding are one fact: `python -m diffit.sample` accepts what the page accepts.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

CONTRACT = Path(__file__).resolve().parents[2] / "contracts" / "sampling.json"
_SAMPLING = json.loads(CONTRACT.read_text(encoding="utf-8"))
LIMITS: dict[str, dict] = _SAMPLING["limits"]  # {"seed": {"min", "max"}, "steps", "batch", "guidance": {..., "decimals"}}
DEFAULTS: dict = _SAMPLING["defaults"]
SAMPLER_STEPS: dict[str, int] = {name: s["default_steps"] for name, s in _SAMPLING["samplers"].items()}
GUIDES: dict[str, tuple[float, float]] = {
    name: (float(g["lo"]), math.inf if g["hi"] is None else float(g["hi"]))
    for name, g in _SAMPLING["guides"].items() if not name.startswith("$")}
"""Guide name (the URL's `guide`) -> (lo, hi): guidance only where lo < sigma <= hi (diffit.diffusion.guided_denoiser)."""
WEIGHTS: tuple[str, ...] = tuple(name for name in _SAMPLING["weights"] if not name.startswith("$"))
"""Which file of a model runs (the URL's `weights`): the manifest's `int8` file, or the float file."""
FIRST_VISIT: dict[str, str] = {k: v for k, v in _SAMPLING["first_visit"].items() if not k.startswith("$")}
"""What the app runs on a first visit: {"sampler", "guide"}, at SAMPLER_STEPS[sampler] steps."""


def round_guidance(value: float) -> float:
    """Guidance rounded to LIMITS['guidance']['decimals'] places as the app does, Math.round(v * 10^d) / 10^d:
    to the nearest multiple of 10^-d of the float64 product, ties towards +infinity (0.125 -> 0.13, unlike round())."""
    if not math.isfinite(value):  # as Math.round: NaN and infinities pass through (and are out of range)
        return value
    scale = 10 ** LIMITS["guidance"]["decimals"]
    scaled = value * scale
    whole = math.floor(scaled)
    return (whole + 1 if scaled - whole >= 0.5 else whole) / scale


def out_of_range(name: str, value: float) -> str | None:
    """None when `value` lies in LIMITS[name], else the one-line reason."""
    low, high = LIMITS[name]["min"], LIMITS[name]["max"]
    if not math.isfinite(value):
        return f"{name} {value} is not a finite number"
    if not low <= value <= high:
        return f"{name} {value} is outside [{low}, {high}] (contracts/sampling.json)"
    return None
