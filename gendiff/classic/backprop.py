"""A feed-forward network trained by hand-written backpropagation (F2:205-716, corrected).

Layers l = 1..L: z^l = a^{l-1} W^l + b^l, a^l = sigma_l(z^l), a^0 = x (W^l has shape
(inputs, outputs), so z^l_k = sum_j a^{l-1}_j W^l_{jk} + b^l_k). Cost C = 1/(2n) sum_i ||a^L_i - y_i||^2.
The delta rules, with delta^l = dC/dz^l:

    delta^L = sigma_L'(z^L) * dC/da^L                      (F2:625)
    delta^l = (delta^{l+1} (W^{l+1})^T) * sigma_l'(z^l)    (F2:667, the weights of layer l + 1)
    dC/dW^l = (a^{l-1})^T delta^l,   dC/db^l = sum_i delta^l_i

Where the note departs: F2:396 and F2:398 put a_1 where w_2 belongs (dC/dw_1 = (a_2 - y) sigma_2'
w_2 sigma_1' a_0, and dC/db_1 misses the w_2); F2:527-541 multiply delta^{(1)} by the hidden output
a^{(1)} where the input a^{(0)} belongs; with F2:663's index order the sum at F2:667 runs over
w_{jk}^{l+1}, not w_{kj}^{l+1}; and the update loops of F2:698 and F2:712 stop at L - 1 where
every layer 1..L is updated.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from gendiff.classic import _checks


def _sigmoid_prime(z):
    s = jax.nn.sigmoid(z)
    return s * (1 - s)


ACTIVATIONS = {
    "sigmoid": (jax.nn.sigmoid, _sigmoid_prime),
    "tanh": (jnp.tanh, lambda z: 1 - jnp.tanh(z) ** 2),
    "relu": (jax.nn.relu, lambda z: (z > 0).astype(z.dtype)),
    "identity": (lambda z: z, jnp.ones_like),
}

Params = list  # [(W^1, b^1), ..., (W^L, b^L)]


def mlp_init(key: jax.Array, layer_sizes, dtype=jnp.float32) -> Params:
    """Weights N(0, 1 / fan_in), biases 0, for layer sizes (d_0, d_1, ..., d_L).

    Example:
      >>> import jax
      >>> from gendiff.classic import mlp_init
      >>> [(w.shape, b.shape) for w, b in mlp_init(jax.random.key(0), (2, 2, 1))]
      [((2, 2), (2,)), ((2, 1), (1,))]
    """
    if len(layer_sizes) < 2:
        raise ValueError(f"layer_sizes needs an input and an output size, got {layer_sizes}.")
    keys = jax.random.split(key, len(layer_sizes) - 1)
    return [
        (jax.random.normal(k, (m, n), dtype) / jnp.sqrt(jnp.asarray(m, dtype)), jnp.zeros(n, dtype))
        for k, m, n in zip(keys, layer_sizes[:-1], layer_sizes[1:])
    ]


def _activations(num_layers, activation, output_activation):
    _checks.check_option("activation", activation, ACTIVATIONS)
    _checks.check_option("output_activation", output_activation, ACTIVATIONS)
    return [ACTIVATIONS[activation]] * (num_layers - 1) + [ACTIVATIONS[output_activation]]


def mlp_forward(
    params: Params,
    x: jax.Array,
    *,
    activation: str = "sigmoid",
    output_activation: str = "identity",
) -> jax.Array:
    """The network's output a^L for inputs x of shape (n, d_0).

    Example:
      >>> import jax.numpy as jnp
      >>> from gendiff.classic import mlp_forward
      >>> params = [(jnp.array([[2.0]]), jnp.array([1.0]))]  # the perceptron y = 2x + 1
      >>> mlp_forward(params, jnp.array([[3.0]])).tolist()
      [[7.0]]
    """
    a = x
    for (W, b), (f, _) in zip(params, _activations(len(params), activation, output_activation)):
        a = f(a @ W + b)
    return a


def mlp_backprop(
    params: Params,
    x: jax.Array,
    y: jax.Array,
    *,
    activation: str = "sigmoid",
    output_activation: str = "identity",
) -> tuple[jax.Array, Params]:
    """Cost C = 1/(2n) sum_i ||a^L_i - y_i||^2 and its gradient by the delta rules (module doc).

    Args:
      params: [(W^l, b^l)] with W^l of shape (d_{l-1}, d_l).
      x: (n, d_0) inputs.
      y: (n, d_L) targets.
      activation: hidden activation: "sigmoid", "tanh", "relu" or "identity".
      output_activation: activation of the last layer.

    Returns:
      ``(cost, grads)`` with grads shaped like params; equal to ``jax.value_and_grad``.

    References:
      Rumelhart, Hinton & Williams, "Learning representations by back-propagating errors",
      Nature 1986; Nielsen, "Neural Networks and Deep Learning", 2015, chapter 2 (BP1-BP4).

    Example:
      >>> import jax.numpy as jnp
      >>> from gendiff.classic import mlp_backprop
      >>> params = [(jnp.array([[0.0]]), jnp.array([0.0]))]
      >>> cost, [(gW, gb)] = mlp_backprop(params, jnp.array([[1.0]]), jnp.array([[3.0]]))
      >>> float(cost), float(gW[0, 0]), float(gb[0])  # C = (0 - 3)^2 / 2, dC/dw = (a - y) x
      (4.5, -3.0, -3.0)
    """
    acts = _activations(len(params), activation, output_activation)
    n = x.shape[0]
    a_list, z_list = [x], []
    for (W, b), (f, _) in zip(params, acts):
        z_list.append(a_list[-1] @ W + b)
        a_list.append(f(z_list[-1]))
    residual = a_list[-1] - y
    cost = 0.5 * jnp.sum(residual**2) / n
    delta = acts[-1][1](z_list[-1]) * residual / n  # delta^L = sigma_L'(z^L) * dC/da^L
    grads = [None] * len(params)
    for layer in reversed(range(len(params))):  # index i holds layer l = i + 1
        # dC/dW^l = (a^{l-1})^T delta^l: a_list[layer] is a^{l-1}, the layer's input.
        grads[layer] = (a_list[layer].T @ delta, jnp.sum(delta, 0))
        if layer > 0:  # delta^{l-1} = (delta^l (W^l)^T) * sigma'(z^{l-1})
            delta = (delta @ params[layer][0].T) * acts[layer - 1][1](z_list[layer - 1])
    return cost, grads


def mlp_train(
    params: Params,
    x: jax.Array,
    y: jax.Array,
    *,
    learning_rate: float,
    num_steps: int,
    activation: str = "sigmoid",
    output_activation: str = "identity",
) -> tuple[Params, jax.Array]:
    """Full-batch gradient descent W^l <- W^l - eta dC/dW^l, b^l <- b^l - eta dC/db^l for every
    layer l = 1..L, with :func:`mlp_backprop`'s gradients; one ``lax.scan``.

    Returns:
      ``(params, costs)``: the trained parameters and the (num_steps,) cost before each step.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from gendiff.classic import mlp_init, mlp_train
      >>> x = jnp.linspace(-1, 1, 20)[:, None]
      >>> params, costs = mlp_train(mlp_init(jax.random.key(0), (1, 1)), x, 2 * x + 1,
      ...                           learning_rate=0.5, num_steps=200, output_activation="identity")
      >>> [round(float(p), 3) for p in (params[0][0][0, 0], params[0][1][0])]  # y = 2x + 1 (F2:341)
      [2.0, 1.0]
    """
    _checks.check_positive("learning_rate", learning_rate)
    _checks.check_iters("num_steps", num_steps)
    _activations(len(params), activation, output_activation)
    return _train(
        params,
        x,
        y,
        jnp.asarray(learning_rate, x.dtype),
        num_steps=num_steps,
        activation=activation,
        output_activation=output_activation,
    )


@functools.partial(jax.jit, static_argnames=("num_steps", "activation", "output_activation"))
def _train(params, x, y, eta, *, num_steps, activation, output_activation):
    def step(params, _):
        cost, grads = mlp_backprop(
            params, x, y, activation=activation, output_activation=output_activation
        )
        return jax.tree.map(lambda p, g: p - eta * g, params, grads), cost

    return jax.lax.scan(step, params, None, length=num_steps)
