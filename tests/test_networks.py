"""The MLP: shapes, activations, seeded initialisation that leaves the global RNG alone."""

import pytest
import torch

from sklearn_diffgen.networks import ACTIVATIONS, MLP


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("hidden", [(), (7,), (5, 6)])
def test_shapes_and_gradients(activation, hidden):
    net = MLP(3, 2, hidden, activation, generator=torch.Generator().manual_seed(0))
    z = torch.randn(4, 3, requires_grad=True)
    out = net(z)
    assert out.shape == (4, 2)
    out.sum().backward()
    assert z.grad is not None and torch.isfinite(z.grad).all()
    assert all(p.grad is not None for p in net.parameters())


def test_init_is_seeded_and_leaves_global_rng_alone():
    state = torch.random.get_rng_state()
    a = MLP(2, 2, (8,), generator=torch.Generator().manual_seed(1))
    b = MLP(2, 2, (8,), generator=torch.Generator().manual_seed(1))
    c = MLP(2, 2, (8,), generator=torch.Generator().manual_seed(2))
    assert torch.equal(torch.random.get_rng_state(), state)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
    assert not torch.equal(a.net[0].weight, c.net[0].weight)


def test_init_follows_fan_in_bound():
    net = MLP(50, 3, (40,), generator=torch.Generator().manual_seed(0))
    w = net.net[0].weight.detach()
    assert float(w.abs().max()) <= 50**-0.5
    assert float(w.std()) == pytest.approx(50**-0.5 / 3**0.5, rel=0.1)  # U(-c, c) has std c / sqrt(3)


def test_kwargs_rebuild_the_same_architecture():
    net = MLP(3, 3, (4, 5), "tanh", generator=torch.Generator().manual_seed(0))
    twin = MLP(**net.kwargs)
    twin.load_state_dict(net.state_dict())
    z = torch.randn(6, 3)
    assert torch.equal(net(z), twin(z))


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_jacobian_matches_reverse_mode(activation):
    net = MLP(3, 2, (7, 5), activation, generator=torch.Generator().manual_seed(0)).double()
    z = torch.randn(6, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    y, J = net.jacobian(z)
    torch.testing.assert_close(y, net(z), rtol=0, atol=1e-12)
    torch.testing.assert_close(J, torch.func.vmap(torch.func.jacrev(net))(z), rtol=1e-10, atol=1e-12)
