"""Distillation losses: Hinton et al.'s KD loss and Salimans & Ho's progressive distillation."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gendiff.ddim import ddim_step
from gendiff.distill import distillation_loss, progressive_distillation_loss, student_target
from gendiff.parameterization import from_x0_eps
from gendiff.paths import DiscreteVPPath, RectifiedFlowPath, VPPath
from gendiff.utils import right_broadcast

# ----------------------------------------------------------------------------- knowledge distillation


def _logits(seed, batch=16, classes=5, scale=2.0):
    k1, k2, k3 = jax.random.split(jax.random.key(seed), 3)
    student = scale * jax.random.normal(k1, (batch, classes))
    teacher = scale * jax.random.normal(k2, (batch, classes))
    labels = jax.random.randint(k3, (batch,), 0, classes)
    return student, teacher, labels


def _np_log_softmax(z):
    z = np.asarray(z, np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def test_kd_at_unit_temperature_and_alpha_one_is_the_kl_divergence():
    student, teacher, labels = _logits(0)
    loss, metrics = distillation_loss(student, teacher, labels, temperature=1.0, alpha=1.0)
    log_p, log_q = _np_log_softmax(teacher), _np_log_softmax(student)
    kl = np.mean(np.sum(np.exp(log_p) * (log_p - log_q), axis=-1))
    assert kl > 0.1
    np.testing.assert_allclose(loss, kl, rtol=1e-5)
    np.testing.assert_allclose(metrics["kl"], kl, rtol=1e-5)


def test_kd_with_alpha_zero_is_plain_cross_entropy():
    student, teacher, labels = _logits(1)
    loss, metrics = distillation_loss(student, teacher, labels, temperature=3.0, alpha=0.0)
    ce = -np.mean(_np_log_softmax(student)[np.arange(len(labels)), np.asarray(labels)])
    np.testing.assert_allclose(loss, ce, rtol=1e-5)
    # The teacher plays no part: any other teacher gives the same loss.
    other, _ = distillation_loss(student, -teacher, labels, temperature=3.0, alpha=0.0)
    np.testing.assert_allclose(other, loss, rtol=1e-6)


def test_kd_mixes_the_two_terms_with_t_squared():
    student, teacher, labels = _logits(2)
    T, alpha = 2.5, 0.3
    loss, m = distillation_loss(student, teacher, labels, temperature=T, alpha=alpha)
    log_p, log_q = (
        _np_log_softmax(np.asarray(teacher) / T),
        _np_log_softmax(np.asarray(student) / T),
    )
    kl = np.mean(np.sum(np.exp(log_p) * (log_p - log_q), axis=-1))
    ce = -np.mean(_np_log_softmax(student)[np.arange(len(labels)), np.asarray(labels)])
    np.testing.assert_allclose(loss, alpha * T**2 * kl + (1 - alpha) * ce, rtol=1e-5)


def test_kd_is_zero_when_the_student_equals_the_teacher():
    _, teacher, labels = _logits(3)
    for T in (1.0, 4.0):
        loss, _ = distillation_loss(teacher, teacher, labels, temperature=T, alpha=1.0)
        assert abs(float(loss)) < 1e-6


def test_kd_gradient_tends_to_logit_matching_at_high_temperature():
    # d/dz_s [T^2 KL] = T (q - p) -> ((z_s - mean z_s) - (z_t - mean z_t)) / K as T -> inf
    # (Hinton et al. 2015, eq. 3-4), per example; the batch mean divides by B.
    student, teacher, labels = _logits(4, batch=8, classes=6, scale=1.0)
    grad = lambda T: jax.grad(
        lambda s: distillation_loss(s, teacher, labels, temperature=T, alpha=1.0)[0]
    )(student)
    centred = lambda z: np.asarray(z, np.float64) - np.mean(np.asarray(z), -1, keepdims=True)
    limit = (centred(student) - centred(teacher)) / (6 * 8)
    np.testing.assert_allclose(grad(1000.0), limit, atol=3e-3 * np.abs(limit).max())
    # Hence the T^2 factor makes the gradient's size nearly T-independent at high T ...
    ratio = np.linalg.norm(grad(20.0)) / np.linalg.norm(grad(5.0))
    assert 0.9 < ratio < 1.1, ratio
    # ... whereas without it the gradient would shrink as 1 / T^2 (here by 16x).
    bare = lambda T: jax.grad(
        lambda s: distillation_loss(s, teacher, labels, temperature=T, alpha=1.0)[1]["kl"]
    )(student)
    bare_ratio = np.linalg.norm(bare(20.0)) / np.linalg.norm(bare(5.0))
    np.testing.assert_allclose(bare_ratio, ratio / 16, rtol=1e-4)


def test_kd_holds_the_teacher_fixed():
    student, teacher, labels = _logits(5)
    g = jax.grad(lambda z: distillation_loss(student, z, labels, temperature=2.0, alpha=0.5)[0])(
        teacher
    )
    assert np.all(np.asarray(g) == 0)


def test_kd_works_under_jit():
    student, teacher, labels = _logits(6)
    fn = jax.jit(functools.partial(distillation_loss, temperature=2.0, alpha=0.7))
    np.testing.assert_allclose(
        fn(student, teacher, labels)[0],
        distillation_loss(student, teacher, labels, temperature=2.0, alpha=0.7)[0],
        rtol=1e-6,
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(temperature=0.0, alpha=0.5), "temperature must be > 0"),
        (dict(temperature=-1.0, alpha=0.5), "temperature must be > 0"),
        (dict(temperature=1.0, alpha=1.5), r"alpha must lie in \[0, 1\]"),
        (dict(temperature=1.0, alpha=-0.1), r"alpha must lie in \[0, 1\]"),
    ],
)
def test_kd_rejects_bad_hyperparameters(kwargs, message):
    student, teacher, labels = _logits(7)
    with pytest.raises(ValueError, match=message):
        distillation_loss(student, teacher, labels, **kwargs)


def test_kd_rejects_bad_shapes():
    student, teacher, labels = _logits(8)
    with pytest.raises(ValueError, match=r"shape \(batch, num_classes\)"):
        distillation_loss(student, teacher[:, :3], labels, temperature=1.0, alpha=0.5)
    with pytest.raises(ValueError, match="labels must be integers"):
        distillation_loss(student, teacher, labels.astype(jnp.float32), temperature=1.0, alpha=0.5)


# ----------------------------------------------------------------------------- progressive distillation

COSINE = DiscreteVPPath.from_schedule("cosine", 64)
MU, STD = 0.3, 0.5  # the data N(MU, STD^2 I) of the exact teacher


def _gaussian_x0(path, z, t):
    """E[x_0 | z_t] for x_0 ~ N(MU, STD^2 I): MU + a STD^2 / (a^2 STD^2 + s^2) (z - a MU)."""
    a, s = right_broadcast(path.alpha(t), z), right_broadcast(path.sigma(t), z)
    return MU + a * STD**2 / (a**2 * STD**2 + s**2) * (z - a * MU)


def _as_model(path, x0_fn, prediction):
    """model_fn(z, t) outputting the given parameterisation of the x_0 estimate x0_fn(z, t)."""

    def model_fn(z, t):
        x0 = x0_fn(z, t)
        a, s = right_broadcast(path.alpha(t), z), right_broadcast(path.sigma(t), z)
        return from_x0_eps(path, x0, (z - a * x0) / s, t, prediction)

    return model_fn


def _gaussian_ddim(path, z, t, s):
    """A DDIM step of the exact teacher, written out: alpha_s x0_hat + sigma_s eps_hat."""
    x0 = _gaussian_x0(path, z, t)
    a_t, s_t = right_broadcast(path.alpha(t), z), right_broadcast(path.sigma(t), z)
    return (
        right_broadcast(path.alpha(s), z) * x0
        + right_broadcast(path.sigma(s), z) * (z - a_t * x0) / s_t
    )


def _student_grid_step(path, num_student_steps):
    """t -> t'' of the student: 1/N on [0, 1] (DiscreteVPPath), (1 - t_min)/N on [t_min, 1]."""
    t_end = 0.0 if isinstance(path, DiscreteVPPath) else path.t_min
    return (path.t_max - t_end) / num_student_steps


@pytest.mark.parametrize(
    "path", [COSINE, VPPath(), RectifiedFlowPath()], ids=["cosine", "vp", "rectified_flow"]
)
def test_one_ddim_step_to_the_target_lands_on_the_teachers_point(path):
    k1, k2, k3 = jax.random.split(jax.random.key(10), 3)
    t = jax.random.uniform(k1, (6,), minval=0.3, maxval=0.95)
    s = t - jnp.array([0.5, 0.25, 0.1, 0.05, 0.02, 0.25])
    s = jnp.maximum(s, path.t_min)
    z_t, z_s = jax.random.normal(k2, (6, 3, 3, 1)), jax.random.normal(k3, (6, 3, 3, 1))
    x_tilde = student_target(path, z_t, t, z_s, s)
    one_step = ddim_step(None, lambda x, t: x_tilde, path, z_t, s, t, prediction="x0")
    np.testing.assert_allclose(one_step, z_s, atol=2e-5)


def _two_step_x0(path, num_student_steps, z, t):
    """The x_0 with which one DDIM step from z_t reaches the exact teacher's two-step z_{t''}."""
    h = _student_grid_step(path, num_student_steps)
    t_mid, t_next = t - h / 2, t - h
    z_next = _gaussian_ddim(path, _gaussian_ddim(path, z, t, t_mid), t_mid, t_next)
    r = right_broadcast(path.sigma(t_next) / path.sigma(t), z)
    a_t, a_next = right_broadcast(path.alpha(t), z), right_broadcast(path.alpha(t_next), z)
    return (z_next - r * z) / (a_next - r * a_t)


@pytest.mark.parametrize(
    "path, num_student_steps, prediction",
    [(COSINE, 4, "v"), (COSINE, 1, "eps"), (VPPath(), 8, "v"), (VPPath(), 2, "x0")],
    ids=["cosine-4-v", "cosine-1-eps", "vp-8-v", "vp-2-x0"],
)
def test_a_student_equal_to_the_teachers_two_step_map_has_zero_loss(
    path, num_student_steps, prediction
):
    # The exact Gaussian teacher is affine in z, so two of its DDIM steps t -> t' -> t'' and the
    # x_0 that one step must use to land there are closed forms of (z_t, t).
    two_step_x0 = functools.partial(_two_step_x0, path, num_student_steps)
    x0 = MU + STD * jax.random.normal(jax.random.key(11), (256, 4, 4, 1))
    teacher = _as_model(path, functools.partial(_gaussian_x0, path), prediction)
    student = _as_model(path, two_step_x0, prediction)
    loss, metrics = progressive_distillation_loss(
        jax.random.key(12),
        student,
        teacher,
        x0,
        path,
        num_student_steps=num_student_steps,
        prediction=prediction,
    )
    self_loss, _ = progressive_distillation_loss(
        jax.random.key(12),
        teacher,
        teacher,
        x0,
        path,
        num_student_steps=num_student_steps,
        prediction=prediction,
    )
    assert float(self_loss) > 1e-3
    assert float(loss) < 1e-4 * float(self_loss), (float(loss), float(self_loss))
    assert float(metrics["x0_mse"]) < 1e-4 * float(self_loss)


def test_the_loss_weights_the_x0_error_by_the_truncated_snr():
    # A student off the target by c / sqrt(max(SNR_t, 1)) has loss exactly c^2, whichever
    # times are drawn; on the VP path with N = 8 the grid's SNR runs from ~0 to ~100.
    path, n, c = VPPath(), 8, 0.2

    def off_by_weight(z, t):
        snr = right_broadcast(path.alpha(t) ** 2 / path.sigma(t) ** 2, z)
        return _two_step_x0(path, n, z, t) + c / jnp.sqrt(jnp.maximum(snr, 1.0))

    x0 = MU + STD * jax.random.normal(jax.random.key(17), (256, 4, 4, 1))
    loss, metrics = progressive_distillation_loss(
        jax.random.key(18),
        _as_model(path, off_by_weight, "v"),
        _as_model(path, functools.partial(_gaussian_x0, path), "v"),
        x0,
        path,
        num_student_steps=n,
    )
    np.testing.assert_allclose(loss, c**2, rtol=2e-3)
    assert float(metrics["x0_mse"]) < 0.95 * c**2  # unweighted: smaller where SNR > 1


def test_the_teachers_own_one_step_loss_matches_its_closed_form():
    # N = 1 on the cosine path: t = 1 (SNR < 1, weight 1), t' = 1/2, t'' = 0 (alpha 1, sigma 0),
    # so x~ = z_0 = x0_hat(z', 1/2). Every map is affine, z ~> A z + B, and the loss of the
    # teacher as its own student is E[(x0_hat(z_{1/2}(z_1)) - x0_hat(z_1))^2] over
    # z_1 ~ N(a_1 MU, a_1^2 STD^2 + s_1^2): E[(A z + B)^2] = (A m + B)^2 + A^2 v.
    path = COSINE
    a1, s1, ah, sh = (float(f(jnp.array(u))) for u in (1.0, 0.5) for f in (path.alpha, path.sigma))
    k1, kh = a1 * STD**2 / (a1**2 * STD**2 + s1**2), ah * STD**2 / (ah**2 * STD**2 + sh**2)
    # x0_hat(z, t) = MU + k (z - a MU); the step 1 -> 1/2: z' = ah x0_hat + sh (z - a1 x0_hat) / s1.
    x0_1 = (k1, MU - k1 * a1 * MU)  # x0_hat(z_1) as (slope, intercept)
    z_half = (ah * x0_1[0] + sh * (1 - a1 * x0_1[0]) / s1, (ah - sh * a1 / s1) * x0_1[1])
    x0_half = (kh * z_half[0], MU + kh * (z_half[1] - ah * MU))
    A, B = x0_half[0] - x0_1[0], x0_half[1] - x0_1[1]
    m, v = a1 * MU, a1**2 * STD**2 + s1**2
    expected = (A * m + B) ** 2 + A**2 * v
    assert expected > 0.01

    x0 = MU + STD * jax.random.normal(jax.random.key(13), (512, 8, 8, 1))
    teacher = _as_model(path, functools.partial(_gaussian_x0, path), "v")
    loss, _ = progressive_distillation_loss(
        jax.random.key(14), teacher, teacher, x0, path, num_student_steps=1
    )
    np.testing.assert_allclose(loss, expected, rtol=0.03)


def test_only_the_student_gets_gradients_and_jit_matches_eager():
    path = COSINE
    x0 = MU + STD * jax.random.normal(jax.random.key(15), (32, 4, 4, 1))
    scaled = lambda scale: _as_model(path, lambda z, t: scale * _gaussian_x0(path, z, t), "v")

    def loss(student_scale, teacher_scale):
        return progressive_distillation_loss(
            jax.random.key(16),
            scaled(student_scale),
            scaled(teacher_scale),
            x0,
            path,
            num_student_steps=2,
        )[0]

    g_student, g_teacher = jax.grad(loss, argnums=(0, 1))(1.1, 0.9)
    assert float(g_teacher) == 0.0 and abs(float(g_student)) > 1e-3
    np.testing.assert_allclose(jax.jit(loss)(1.1, 0.9), loss(1.1, 0.9), rtol=1e-5)


@pytest.mark.parametrize(
    "path, num_student_steps, error, message",
    [
        (COSINE, 0, ValueError, "num_student_steps must be >= 1"),
        (VPPath(), -2, ValueError, "num_student_steps must be >= 1"),
        (VPPath(), 2.0, TypeError, "num_student_steps must be an int"),
        (VPPath(), True, TypeError, "num_student_steps must be an int"),
        (COSINE, 3, ValueError, r"2 \* num_student_steps must divide T"),
        (COSINE, 64, ValueError, r"2 \* num_student_steps must divide T"),
    ],
    ids=["zero", "negative", "float", "bool", "3-does-not-divide-64", "128-over-64"],
)
def test_progressive_rejects_bad_num_student_steps(path, num_student_steps, error, message):
    model = lambda z, t: z
    with pytest.raises(error, match=message):
        progressive_distillation_loss(
            jax.random.key(0),
            model,
            model,
            jnp.zeros((2, 4)),
            path,
            num_student_steps=num_student_steps,
        )
    with pytest.raises(ValueError, match="Unknown prediction type 'noise'"):
        progressive_distillation_loss(
            jax.random.key(0),
            model,
            model,
            jnp.zeros((2, 4)),
            VPPath(),
            num_student_steps=2,
            prediction="noise",
        )
