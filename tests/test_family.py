import pytest
import torch

from nni_lista.models import family, sklearn_baselines
from nni_lista.problem.metrics import nmse_db
from nni_lista.space.neurons import cpss_percent, soft_threshold, support_selected_threshold


@pytest.mark.parametrize("name", list(family.MODELS))
def test_every_model_returns_every_layer(name, small_problem):
    model = family.build(name, small_problem.A, 5)
    outputs = model(small_problem.test.b[:7])
    assert len(outputs) == 5 and all(o.shape == (7, 60) for o in outputs)
    assert len(model(small_problem.test.b[:7], depth=2)) == 2
    assert model.learned == (name not in ("ista", "fista"))


@pytest.mark.parametrize("name", [n for n, cls in family.MODELS.items() if cls.learned])
def test_layer_parameters_cover_every_parameter_once(name, small_problem):
    model = family.build(name, small_problem.A, 6)
    listed = [id(p) for k in range(6) for p in model.layer_parameters(k)]
    assert sorted(listed) == sorted(id(p) for p in model.parameters())


def test_lista_at_init_is_ista(small_problem):
    T = 16
    ista = family.build("ista", small_problem.A, T)
    lista = family.build("lista", small_problem.A, T)
    with torch.no_grad():
        for a, b in zip(ista(small_problem.test.b), lista(small_problem.test.b)):
            assert torch.allclose(a, b, atol=1e-5, rtol=1e-4)
    # LISTA-CP at init is ISTA too (x + A^T (b - Ax) / L)
    cp = family.build("lista-cp", small_problem.A, T)
    with torch.no_grad():
        assert torch.allclose(cp(small_problem.test.b)[-1], ista(small_problem.test.b)[-1], atol=1e-5)


def test_fista_agrees_with_sklearn_lasso(small_problem):
    lam = 0.1
    b = small_problem.test.b[:40]
    fista = family.build("fista", small_problem.A, 3000, lam=lam)
    with torch.no_grad():
        x_fista = fista(b)[-1]
    x_lasso = sklearn_baselines.lasso(small_problem.A, b, lam)
    assert nmse_db(x_fista, x_lasso) < -40.0
    # and FISTA converges faster than ISTA at the same iteration count
    ista = family.build("ista", small_problem.A, 100, lam=lam)
    with torch.no_grad():
        assert nmse_db(fista(b)[99], x_lasso) < nmse_db(ista(b)[-1], x_lasso)


def test_omp_recovers_very_sparse_signals(small_problem):
    x = torch.zeros(10, 60)
    x[torch.arange(10), torch.arange(10) * 3] = 1.5
    x[torch.arange(10), torch.arange(10) * 5 + 1] = -2.0
    b = x @ small_problem.A.T
    assert nmse_db(sklearn_baselines.omp(small_problem.A, b, 2), x) < -60.0


def test_alista_analytic_weight(small_problem):
    A = small_problem.A.double()
    W = family.analytic_weight(A)
    G = W.T @ A
    assert torch.allclose(torch.diagonal(G), torch.ones(60, dtype=G.dtype), atol=1e-8)

    def off(M):
        return (M - torch.diag(torch.diagonal(M))).abs().max()

    assert off(G) < off(A.T @ A)
    # it minimises ||W^T A||_F under the constraint: a perturbation that keeps diag = 1 only grows it
    direction = torch.randn_like(W) * 1e-3
    direction -= A * ((direction * A).sum(0) / (A * A).sum(0))  # keep diag(W^T A) = 1
    assert torch.linalg.norm((W + direction).T @ A) > torch.linalg.norm(G)


def test_thresholds():
    z = torch.tensor([[3.0, -0.5, 0.2, -2.0, 1.0]])
    assert torch.allclose(soft_threshold(z, 0.6), torch.tensor([[2.4, 0.0, 0.0, -1.4, 0.4]]))
    # 40 % of 5 entries = top 2 by magnitude pass unchanged
    out = support_selected_threshold(z, 0.6, 40.0)
    assert torch.allclose(out, torch.tensor([[3.0, 0.0, 0.0, -2.0, 0.4]]))
    assert cpss_percent(0) == pytest.approx(1.2) and cpss_percent(20) == 13.0


def test_alista_starts_stable_on_a_badly_conditioned_operator():
    """A learned image dictionary makes ||W^T A|| large; the initial step must not expand."""
    from nni_lista.problem import problems

    P = problems.make_image_cs(
        problems.ImageCSSettings(
            patch=8, n_atoms=48, m=32, n_dictionary_patches=500, n_train_patches=100, n_val=20, n_test=50, seed=1
        )
    )
    model = family.build("alista", P.A, 16)
    with torch.no_grad():
        estimates = [P.decode(z) for z in model(P.test.b)]
    assert all(torch.isfinite(e).all() for e in estimates)
    # the paper's step (1) expands here: +6.6 dB after one layer, +61 dB after 16; the safe step stays
    # within a few dB of the zero estimate through all 16 layers (untrained, on mean-centred patches)
    assert max(nmse_db(e, P.test.s) for e in estimates) < 3.0


def test_lista_cpss_from_a_trained_alista_computes_the_same_function(small_problem):
    alista = family.build("alista", small_problem.A, 6)
    generator = torch.Generator().manual_seed(3)
    with torch.no_grad():  # away from the initialisation, as after training
        for p in alista.parameters():
            p.mul_(1 + 0.3 * torch.rand((), generator=generator))
    b = small_problem.val.b
    cpss = family.coupled_from_alista(alista)
    assert isinstance(cpss, family.LISTACPSS)
    for ours, theirs in zip(cpss(b), alista(b)):
        torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-5)
    assert all(p.requires_grad for p in cpss.parameters())
    # without support selection (LISTA-CP) it is another function: the top entries are thresholded
    cp = family.coupled_from_alista(alista, support_selection=False)
    assert type(cp) is family.LISTACP and not torch.allclose(cp(b)[-1], alista(b)[-1], atol=1e-4)
