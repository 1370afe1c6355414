"""The generator network: a plain multi-layer perceptron with seeded initialisation."""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

__all__ = ["MLP", "ACTIVATIONS"]

#: Activations by name: scikit-learn's MLPRegressor names plus two smooth, unbounded ones.
ACTIVATIONS: dict[str, type[nn.Module]] = {
    "identity": nn.Identity,
    "logistic": nn.Sigmoid,
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "silu": nn.SiLU,
    "gelu": nn.GELU,
}


#: The derivative of each activation, from its input h and output a.
_DERIVATIVES = {
    nn.Identity: lambda h, a: torch.ones_like(h),
    nn.Sigmoid: lambda h, a: a * (1 - a),
    nn.Tanh: lambda h, a: 1 - a * a,
    nn.ReLU: lambda h, a: (h > 0).to(h.dtype),
    nn.SiLU: lambda h, a: torch.sigmoid(h) * (1 + h * (1 - torch.sigmoid(h))),
    nn.GELU: lambda h, a: torch.special.ndtr(h) + h * torch.exp(-0.5 * h * h) / math.sqrt(2 * math.pi),
}


class MLP(nn.Module):
    r"""A fully connected network :math:`\mathbb{R}^{p} \to \mathbb{R}^{q}`.

    .. math::

        F(z) = W_L\, \phi(\dots \phi(W_1 z + c_1) \dots) + c_L,

    with the activation :math:`\phi` between hidden layers and a linear output.

    Parameters
    ----------
    in_features, out_features : int
        Input and output sizes.
    hidden_layer_sizes : sequence of int
        Widths of the hidden layers, as in :class:`sklearn.neural_network.MLPRegressor`.
    activation : str
        A key of :data:`ACTIVATIONS`.
    generator : torch.Generator, optional
        CPU generator that draws the initial weights (PyTorch's default uniform scheme), so
        that the initialisation is reproducible without touching the global seed. A fresh
        default-seeded generator when None.
    dtype : torch.dtype
        Parameter dtype.

    Examples
    --------
    >>> net = MLP(2, 3, (8, 8), "tanh", generator=torch.Generator().manual_seed(0))
    >>> net(torch.zeros(5, 2)).shape
    torch.Size([5, 3])
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        hidden_layer_sizes: Sequence[int] = (64, 64),
        activation: str = "relu",
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float32,
    ):
        super().__init__()
        self.kwargs = dict(
            in_features=int(in_features),
            out_features=int(out_features),
            hidden_layer_sizes=tuple(int(h) for h in hidden_layer_sizes),
            activation=activation,
        )
        sizes = [in_features, *hidden_layer_sizes, out_features]
        layers: list[nn.Module] = []
        for i, (p, q) in enumerate(zip(sizes[:-1], sizes[1:])):
            # skip_init: no draw from the global RNG; weights are drawn below on `generator`
            layers.append(nn.utils.skip_init(nn.Linear, p, q, dtype=dtype))
            if i < len(sizes) - 2:
                layers.append(ACTIVATIONS[activation]())
        self.net = nn.Sequential(*layers)
        self.reset_parameters(torch.Generator() if generator is None else generator)

    @torch.no_grad()
    def reset_parameters(self, generator: torch.Generator) -> None:
        """Redraw every weight and bias from U(-1/sqrt(fan_in), 1/sqrt(fan_in)) on ``generator``."""
        for layer in self.net:
            if isinstance(layer, nn.Linear):
                bound = 1.0 / math.sqrt(layer.in_features)
                for p in (layer.weight, layer.bias):
                    u = torch.rand(p.shape, generator=generator, dtype=torch.float64)
                    p.copy_((2.0 * u - 1.0) * bound)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)

    def jacobian(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        r"""Values of shape (m, q) and exact Jacobians :math:`\partial F / \partial z` of shape (m, q, p).

        One pass carries the d tangent directions of every row through the layers as batched
        matrix products (the chain rule written out), about twice as fast as
        :func:`torch.func.jacfwd` under :func:`torch.vmap`; it is differentiable in the weights.

        Examples
        --------
        >>> net = MLP(3, 2, (8,), "tanh", generator=torch.Generator().manual_seed(0))
        >>> z = torch.randn(4, 3)
        >>> y, J = net.jacobian(z)
        >>> ref = torch.func.vmap(torch.func.jacrev(net))(z)
        >>> bool(torch.allclose(y, net(z))), bool(torch.allclose(J, ref, atol=1e-6))
        (True, True)
        """
        a, T = z, None  # T[i] holds the rows d(a_i)/d(z_k), k = 1..p: shape (m, p, width)
        for layer in self.net:
            if isinstance(layer, nn.Linear):
                a = layer(a)
                T = layer.weight.T.expand(z.shape[0], -1, -1) if T is None else T @ layer.weight.T
            else:
                h, a = a, layer(a)
                T = T * _DERIVATIVES[type(layer)](h, a).unsqueeze(1)
        return a, T.transpose(1, 2)
