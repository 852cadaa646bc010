"""Hand-written backprop against jax.grad and finite differences, the note's index errors (F2:396,
F2:527), and the two worked regressions of F2 (y = 2x + 1; x0^2 + 3 x0 x1 + x1^2 + 5, n = 100)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gendiff import classic


def _cost(params, x, y, activation, output_activation):
    a = classic.mlp_forward(params, x, activation=activation, output_activation=output_activation)
    return 0.5 * jnp.sum((a - y) ** 2) / x.shape[0]


@pytest.mark.parametrize("sizes,activation,output", [
    ((2, 2, 1), "sigmoid", "identity"),
    ((3, 5, 4, 2), "tanh", "sigmoid"),
    ((4, 6, 1), "relu", "identity"),
])
def test_backprop_equals_jax_grad(sizes, activation, output):
    with jax.enable_x64(True):
        key = jax.random.key(0)
        params = classic.mlp_init(key, sizes, jnp.float64)
        x = jax.random.normal(jax.random.fold_in(key, 1), (17, sizes[0]), jnp.float64)
        y = jax.random.normal(jax.random.fold_in(key, 2), (17, sizes[-1]), jnp.float64)
        cost, grads = jax.jit(classic.mlp_backprop, static_argnames=("activation", "output_activation"))(
            params, x, y, activation=activation, output_activation=output)
        ref_cost, ref = jax.jit(jax.value_and_grad(_cost), static_argnums=(3, 4))(
            params, x, y, activation, output)
        np.testing.assert_allclose(cost, ref_cost, rtol=1e-12)
        for g, r in zip(jax.tree.leaves(grads), jax.tree.leaves(ref)):
            np.testing.assert_allclose(g, r, rtol=1e-10, atol=1e-12)
        # Central finite differences on every weight of the first layer.
        W1 = np.asarray(params[0][0])
        h = 1e-6
        cost_fn = jax.jit(_cost, static_argnums=(3, 4))
        for idx in np.ndindex(W1.shape):
            plus = [(p[0], p[1]) for p in params]
            minus = [(p[0], p[1]) for p in params]
            plus[0] = (params[0][0].at[idx].add(h), params[0][1])
            minus[0] = (params[0][0].at[idx].add(-h), params[0][1])
            fd = (cost_fn(plus, x, y, activation, output) - cost_fn(minus, x, y, activation, output)) / (2 * h)
            np.testing.assert_allclose(grads[0][0][idx], fd, rtol=1e-6, atol=1e-9)


def test_the_notes_index_errors_give_wrong_gradients():
    # Scalar 1-1-1 network of F2:377-398: z1 = w1 a0 + b1, a1 = sigmoid(z1), z2 = w2 a1 + b2, a2 = z2.
    with jax.enable_x64(True):
        w1, b1, w2, b2, a0, y = 0.7, -0.2, 1.9, 0.3, 1.5, 2.0
        params = [(jnp.array([[w1]]), jnp.array([b1])), (jnp.array([[w2]]), jnp.array([b2]))]
        _, grads = classic.mlp_backprop(params, jnp.array([[a0]]), jnp.array([[y]]))
        z1 = w1 * a0 + b1
        a1 = 1 / (1 + np.exp(-z1))
        s1 = a1 * (1 - a1)
        a2 = w2 * a1 + b2
        correct_w1 = (a2 - y) * 1.0 * w2 * s1 * a0
        notes_w1 = (a2 - y) * 1.0 * a1 * s1 * a0  # F2:396: a_1 in place of w_2
        notes_b1 = (a2 - y) * 1.0 * s1  # F2:398: w_2 missing
        np.testing.assert_allclose(grads[0][0][0, 0], correct_w1, rtol=1e-12)
        np.testing.assert_allclose(grads[0][1][0], (a2 - y) * w2 * s1, rtol=1e-12)
        assert abs(notes_w1 - correct_w1) > 0.1 and abs(notes_b1 - grads[0][1][0]) > 0.05
        # F2:527: dC/dw00^(1) = delta_0^(1) a_0^(1) (hidden output) instead of a_0^(0) (input).
        params = classic.mlp_init(jax.random.key(3), (2, 2, 1), jnp.float64)
        x = jnp.array([[0.3, -1.2]])
        _, grads = classic.mlp_backprop(params, x, jnp.array([[1.0]]))
        a_hidden = jax.nn.sigmoid(x @ params[0][0] + params[0][1])
        delta1 = grads[0][1]  # dC/db^(1) = delta^(1)
        np.testing.assert_allclose(grads[0][0], x.T @ delta1[None], rtol=1e-12)
        assert np.abs(np.asarray(grads[0][0] - a_hidden.T @ delta1[None])).max() > 1e-2


def test_perceptron_learns_y_equals_2x_plus_1():
    # F2:341: a single linear neuron, C = (a_1 - y)^2 / 2, gradient descent.
    x = jnp.linspace(-2.0, 2.0, 50)[:, None]
    params, costs = classic.mlp_train(classic.mlp_init(jax.random.key(0), (1, 1)), x, 2 * x + 1,
                                      learning_rate=0.2, num_steps=300, output_activation="identity")
    np.testing.assert_allclose(params[0][0][0, 0], 2.0, atol=1e-5)
    np.testing.assert_allclose(params[0][1][0], 1.0, atol=1e-5)
    assert np.all(np.diff(np.asarray(costs)) <= 1e-7)


def test_two_two_one_network_fits_the_quadratic_of_f2_581():
    # F2:581: y = x0^2 + 3 x0 x1 + x1^2 + 5 with n = 100 inputs; a 2-2-1 network with sigmoid
    # hidden units and a linear output, trained by full-batch gradient descent on the delta rules.
    x = jax.random.uniform(jax.random.key(1), (100, 2))
    y = (x[:, 0] ** 2 + 3 * x[:, 0] * x[:, 1] + x[:, 1] ** 2 + 5)[:, None]
    params = classic.mlp_init(jax.random.key(2), (2, 2, 1))
    params, costs = classic.mlp_train(params, x, y, learning_rate=0.5, num_steps=4000)
    mse = 2 * float(costs[-1])
    var = float(jnp.var(y))
    print(f"2-2-1 on the quadratic: MSE {mse:.4f}, Var(y) {var:.4f}, first cost {2 * float(costs[0]):.2f}")
    assert mse < 0.02 * var
    assert np.isfinite(np.asarray(costs)).all()


def test_backprop_bad_input():
    params = classic.mlp_init(jax.random.key(0), (2, 1))
    with pytest.raises(ValueError, match="activation"):
        classic.mlp_backprop(params, jnp.ones((3, 2)), jnp.ones((3, 1)), activation="swish")
    with pytest.raises(ValueError, match="learning_rate must be > 0"):
        classic.mlp_train(params, jnp.ones((3, 2)), jnp.ones((3, 1)), learning_rate=0.0, num_steps=3)
