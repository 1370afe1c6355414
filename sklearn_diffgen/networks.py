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
