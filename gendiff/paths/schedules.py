"""Beta schedules of discrete-time DDPM (Ho et al. 2020; Nichol & Dhariwal 2021)."""

from __future__ import annotations

import numpy as np


def linear_betas(
    num_steps: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02
) -> np.ndarray:
    """beta_t linear from beta_start to beta_end over t = 1..T (Ho et al. 2020: 1e-4 to 0.02, T = 1000).

    For T other than 1000 the endpoints are rescaled by 1000 / T, so the total noise
    (sum of betas) stays the same, as in Nichol & Dhariwal (2021).

    Example:
      >>> from gendiff.paths import linear_betas
      >>> b = linear_betas(1000)
      >>> b.shape, float(b[0]), float(b[-1])
      ((1000,), 0.0001, 0.02)
      >>> float(linear_betas(100)[0]), round(float(b.sum()), 6), round(float(linear_betas(100).sum()), 6)
      (0.001, 10.05, 10.05)
    """
    scale = 1000.0 / num_steps
    if scale * beta_end >= 1.0:
        raise ValueError(
            f"linear schedule with T={num_steps} would give beta_T = {scale * beta_end:.3g} >= 1; "
            "use T >= 21 or the cosine schedule."
        )
    return np.linspace(scale * beta_start, scale * beta_end, num_steps, dtype=np.float64)


def cosine_alpha_bar(t: np.ndarray, s: float = 0.008) -> np.ndarray:
    """alpha_bar(t) = cos^2(pi/2 (t + s)/(1 + s)) / cos^2(pi/2 s/(1 + s)), t in [0, 1]."""
    f = lambda u: np.cos((u + s) / (1.0 + s) * np.pi / 2.0) ** 2
    return f(np.asarray(t, np.float64)) / f(0.0)


def cosine_betas(num_steps: int = 1000, s: float = 0.008, max_beta: float = 0.999) -> np.ndarray:
    """beta_t = 1 - alpha_bar(t/T) / alpha_bar((t-1)/T), clipped at max_beta (Nichol & Dhariwal 2021, eq. 17).

    Example:
      >>> import numpy as np
      >>> from gendiff.paths import cosine_betas
      >>> from gendiff.paths.schedules import cosine_alpha_bar
      >>> b = cosine_betas(1000)
      >>> float(b[-1])  # alpha_bar(1) = 0: the last step is clipped
      0.999
      >>> bool(np.isclose(np.prod(1.0 - b[:500]), cosine_alpha_bar(0.5)))  # the product telescopes
      True
    """
    t = np.arange(num_steps + 1, dtype=np.float64) / num_steps
    ab = cosine_alpha_bar(t, s)
    return np.minimum(1.0 - ab[1:] / ab[:-1], max_beta)


BETA_SCHEDULES = {"linear": linear_betas, "cosine": cosine_betas}


def make_betas(name: str, num_steps: int) -> np.ndarray:
    """Looks a schedule up by name ('linear' or 'cosine').

    Example:
      >>> import numpy as np
      >>> from gendiff.paths import cosine_betas, make_betas
      >>> bool(np.array_equal(make_betas("cosine", 50), cosine_betas(50)))
      True
      >>> make_betas("quadratic", 50)
      Traceback (most recent call last):
      ValueError: Unknown beta schedule 'quadratic'; expected one of ['cosine', 'linear'].
    """
    if name not in BETA_SCHEDULES:
        raise ValueError(
            f"Unknown beta schedule {name!r}; expected one of {sorted(BETA_SCHEDULES)}."
        )
    if num_steps < 1:
        raise ValueError(f"num_steps must be a positive integer, got {num_steps}.")
    return BETA_SCHEDULES[name](num_steps)
