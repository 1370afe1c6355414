"""Laplace log-density of x = F(z) + s e against closed forms, change of variables and quadrature."""

import math

import pytest
import torch

from sklearn_diffgen.density import NearestAnchor, generator_log_density, jacobian, log_density

f64 = torch.float64


def gaussian_logpdf(x, mean, cov):
    return torch.distributions.MultivariateNormal(mean, cov).log_prob(x)


@pytest.mark.parametrize("s", [1e-3, 0.3])
def test_affine_generator_is_exact(s):
    # x = A z + c + s e is N(c, A A^T + s^2 I); the Laplace method is exact for affine F
    A = torch.tensor([[1.5, 0.2, 0.0], [0.3, 0.7, 0.1], [0.0, -0.4, 2.0]], dtype=f64)
    c = torch.tensor([0.1, -0.3, 2.0], dtype=f64)
    x = torch.randn(20, 3, generator=torch.Generator().manual_seed(0), dtype=f64) * 2
    res = log_density(lambda z: z @ A.T + c, x, torch.zeros_like(x), noise=s)
    want = gaussian_logpdf(x, c, A @ A.T + s * s * torch.eye(3, dtype=f64))
    torch.testing.assert_close(res.log_density, want, rtol=1e-9, atol=1e-9)
    assert bool(res.converged.all())


def test_out_of_range_rows_get_the_exact_finite_value():
    # F maps onto the line x2 = 0; the noisy law is N(0, 1 + s^2) x N(0, s^2): finite everywhere
    s = 0.05
    F = lambda z: torch.stack([z[:, 0], 0 * z[:, 1]], dim=1)  # noqa: E731
    x = torch.tensor([[0.3, 0.0], [1.0, 0.2], [-2.0, 5.0]], dtype=f64)
    res = log_density(F, x, torch.zeros_like(x), noise=s)
    cov = torch.diag(torch.tensor([1 + s * s, s * s], dtype=f64))
    want = gaussian_logpdf(x, torch.zeros(2, dtype=f64), cov)
    assert torch.isfinite(res.log_density).all()
    torch.testing.assert_close(res.log_density, want, rtol=1e-9, atol=1e-6)
    assert res.residual[0] < 0.1 and res.residual[2] > 50  # in range vs far out


def smooth_map(z):
    # invertible: each coordinate is strictly increasing in its own variable
    u = z[:, 0] + 0.5 * torch.tanh(z[:, 0]) + 0.2 * z[:, 1] ** 2
    v = 0.5 * z[:, 1] + 0.3 * torch.sin(z[:, 1])
    return torch.stack([u, v], dim=1)


def test_nonlinear_in_range_matches_change_of_variables():
    z = torch.randn(30, 2, generator=torch.Generator().manual_seed(1), dtype=f64)
    x = smooth_map(z)
    res = log_density(smooth_map, x, torch.zeros_like(x), noise=1e-6)
    _, J = jacobian(smooth_map, z)
    want = -0.5 * (z * z).sum(1) - math.log(2 * math.pi) - torch.linalg.slogdet(J)[1]
    assert bool(res.converged.all())
    torch.testing.assert_close(res.z, z, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(res.log_density, want, rtol=1e-6, atol=1e-6)


def test_density_integrates_to_one():
    s = 0.05
    g = torch.linspace(-6, 8, 281, dtype=f64)
    xx, yy = torch.meshgrid(g, torch.linspace(-3, 3, 161, dtype=f64), indexing="ij")
    x = torch.stack([xx.ravel(), yy.ravel()], dim=1)
    res = log_density(smooth_map, x, torch.zeros_like(x), noise=s)
    cell = float((g[1] - g[0]) * 6 / 160)
    assert float(res.log_density.exp().sum()) * cell == pytest.approx(1.0, abs=0.02)


def test_rows_are_batch_invariant():
    x = torch.randn(17, 2, generator=torch.Generator().manual_seed(2), dtype=f64) * 2
    z0 = torch.zeros_like(x)
    full = log_density(smooth_map, x, z0, noise=0.01).log_density
    alone = torch.cat([log_density(smooth_map, x[i : i + 1], z0[:1], noise=0.01).log_density
                       for i in range(17)])
    torch.testing.assert_close(full, alone, rtol=0, atol=1e-9)


def test_jacobian_matches_autograd():
    z = torch.randn(4, 2, dtype=f64)
    y, J = jacobian(smooth_map, z)
    for i in range(4):
        Ji = torch.autograd.functional.jacobian(lambda v: smooth_map(v[None])[0], z[i])
        torch.testing.assert_close(J[i], Ji)
    torch.testing.assert_close(y, smooth_map(z))


def test_ftol_stops_within_its_bound_of_the_converged_value():
    # the Gauss-Newton stopping rule saves iterations but moves no log-density by more than ~ftol
    x = torch.randn(200, 2, generator=torch.Generator().manual_seed(3), dtype=f64) * 2
    z0 = torch.zeros_like(x)
    strict = log_density(smooth_map, x, z0, noise=0.01, ftol=0.0, max_iter=200)
    quick = log_density(smooth_map, x, z0, noise=0.01)
    assert bool(strict.converged.all()) and bool(quick.converged.all())
    assert quick.n_iter <= strict.n_iter
    torch.testing.assert_close(quick.log_density, strict.log_density, rtol=0, atol=1e-6)


def test_nearest_anchor_is_the_brute_force_nearest_neighbour():
    from sklearn.neighbors import NearestNeighbors

    g = torch.Generator().manual_seed(4)
    z = torch.randn(500, 3, generator=g)
    anchors = NearestAnchor.from_generator(lambda u: torch.sinh(u) + u.roll(1, dims=1), z)
    u = torch.randn(300, 3, generator=g, dtype=f64)
    idx = NearestNeighbors(n_neighbors=1, algorithm="brute").fit(anchors.x.numpy()).kneighbors(
        u.numpy(), return_distance=False)[:, 0]
    guess = anchors(u, rows=64)  # several chunks
    assert guess.dtype == f64 and torch.equal(guess, z[idx].to(f64))
    assert anchors(u[:0]).shape == (0, 3)


def test_generator_log_density_two_precisions_match_the_closed_form():
    # float32 then float64 from the nearest anchor, for an affine MLP: N(c, A A^T + s^2 I) exactly
    from sklearn_diffgen.density import generator_log_density
    from sklearn_diffgen.networks import MLP

    F = MLP(3, 3, (), generator=torch.Generator().manual_seed(0))
    A, c = F.net[0].weight.double(), F.net[0].bias.double()
    x = torch.randn(40, 3, generator=torch.Generator().manual_seed(5), dtype=f64)
    got = generator_log_density(F, NearestAnchor.draw(F, 500, 3, seed=0), x, noise=0.05, rows=16)
    want = gaussian_logpdf(x, c, A @ A.T + 0.0025 * torch.eye(3, dtype=f64))
    torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-8)


def test_singular_float32_gauss_newton_matrix_does_not_raise():
    """A rank-1 Jacobian of size 1e3 and noise 1e-3: s^2 I + J^T J rounds to a singular float32
    matrix (torch.linalg.solve raised here, found on MoG-40); the rows are solved with a jitter."""
    F = torch.nn.Linear(2, 2)
    with torch.no_grad():
        F.weight.copy_(torch.full((2, 2), 1e3))
        F.bias.zero_()
    H = 1e-6 * torch.eye(2) + F.weight.T @ F.weight
    assert torch.linalg.solve_ex(H[None], torch.ones(1, 2))[1].item() != 0  # singular in float32
    G = NearestAnchor.draw(F, 100, 2, seed=0)
    logp = generator_log_density(F, G, torch.tensor([[1.0, 1.0], [0.0, 3.0]]), noise=1e-3, rows=8)
    assert torch.isfinite(logp).all()
