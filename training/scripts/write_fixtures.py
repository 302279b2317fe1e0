"""Write fixtures/sampler_reference.json: the Python Heun sampler run with an analytic denoiser.

    D(x, sigma, label) = (sd^2 x + sigma^2 mu(label)) / (sigma^2 + sd^2)   (float64, rounded to float32)
    mu(label) = (label + 1) / (num_classes + 1) - 0.5,   mu(num_classes) = 0

This is the exact denoiser of data concentrated at mu(label) blurred to std sd, so the TypeScript
sampler can be checked against the Python one without any network. Run from training/.
"""

import json
from pathlib import Path

import numpy as np

from diffit.diffusion import guided_denoiser, heun_sample, karras_sigmas
from diffit.noise import normal_tensor

SD = 0.5


def analytic_denoiser(num_classes):
    def denoise(x, sigma, labels):
        mu = np.array([0.0 if l == num_classes else (l + 1) / (num_classes + 1) - 0.5 for l in labels])
        out = (SD**2 * x.astype(np.float64) + sigma**2 * mu[:, None, None, None]) / (sigma**2 + SD**2)
        return out.astype(np.float32)
    return denoise


def main():
    cases = []
    for seed, steps, batch, label, guidance in [(5, 4, 2, 3, 1.0), (11, 6, 2, 1, 2.5), (0, 3, 3, 10, 1.0),
                                                (4294967295, 1, 1, 0, 3.0), (7, 18, 1, 9, 2.0)]:
        num_classes = 10
        shape = (batch, 1, 4, 4)
        sigmas = karras_sigmas(steps, 0.002, 80.0, 7.0)
        noise = normal_tensor(seed, shape)
        steps_x = []
        d = guided_denoiser(analytic_denoiser(num_classes), label, num_classes, guidance,
                            lambda parts: np.concatenate(parts, 0))
        final = heun_sample(d, noise, sigmas, lambda i, x, den: steps_x.append([float(v) for v in x.reshape(-1)]))
        cases.append({"seed": seed, "steps": steps, "batch": batch, "shape": list(shape), "class_label": label,
                      "guidance": guidance, "num_classes": num_classes, "sigma_min": 0.002, "sigma_max": 80.0,
                      "rho": 7.0, "sigma_data": SD, "sigmas": [float(s) for s in sigmas],
                      "final": [float(v) for v in final.reshape(-1)], "step_x": steps_x})
    out = Path(__file__).resolve().parents[2] / "fixtures" / "sampler_reference.json"
    out.write_text(json.dumps({"description": __doc__.strip().splitlines()[0], "cases": cases}, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
