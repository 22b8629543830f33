import math

import pytest
import torch

from nni_lista.problem import problems
from nni_lista.base.errors import UsageError


def test_synthetic_shapes_and_unit_columns(small_problem):
    P = small_problem
    assert P.A.shape == (30, 60)
    assert torch.allclose(P.A.norm(dim=0), torch.ones(60), atol=1e-5)
    assert P.val.b.shape == (200, 30) and P.val.s.shape == (200, 60)
    assert P.test.b.shape == (300, 30) and P.test.s.shape == (300, 60)
    batch = P.train_batch(16, torch.Generator().manual_seed(0))
    assert batch.b.shape == (16, 30) and batch.s.shape == (16, 60)
    # noiseless: b = A x exactly
    assert torch.allclose(P.test.b, P.test.s @ P.A.T, atol=1e-5)


def test_sparsity_matches_p():
    P = problems.make_synthetic(problems.SyntheticSettings(m=50, n=200, p=0.2, n_val=10, n_test=2000))
    density = (P.test.s != 0).float().mean().item()
    assert abs(density - 0.2) < 0.01


def test_same_seed_same_instance_other_seed_differs():
    s = dict(m=20, n=40, n_val=50, n_test=50)
    a = problems.make_synthetic(problems.SyntheticSettings(seed=5, **s))
    b = problems.make_synthetic(problems.SyntheticSettings(seed=5, **s))
    c = problems.make_synthetic(problems.SyntheticSettings(seed=6, **s))
    assert torch.equal(a.A, b.A) and torch.equal(a.test.b, b.test.b) and torch.equal(a.val.s, b.val.s)
    assert not torch.equal(a.A, c.A)
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    assert torch.equal(a.train_batch(8, g1).b, b.train_batch(8, g2).b)


def test_condition_number_is_kappa():
    P = problems.make_synthetic(problems.SyntheticSettings(m=40, n=80, kappa=30.0, n_val=5, n_test=5))
    sv = torch.linalg.svdvals(P.A.double())
    assert sv.max() / sv.min() == pytest.approx(30.0, rel=1e-4)
    assert P.A.pow(2).sum().item() == pytest.approx(80.0, rel=1e-4)


@pytest.mark.parametrize("snr", [40.0, 20.0, 5.0])
def test_noise_level_matches_snr(snr):
    P = problems.make_synthetic(problems.SyntheticSettings(m=100, n=200, snr_db=snr, n_val=5, n_test=3000))
    clean = P.test.s @ P.A.T
    noise = P.test.b - clean
    measured = 10 * math.log10(clean.pow(2).sum().item() / noise.pow(2).sum().item())
    assert measured == pytest.approx(snr, abs=0.3)


def test_save_load_round_trip(tmp_path, small_problem):
    path = tmp_path / "p.pt"
    problems.save(small_problem, path)
    Q = problems.load(path)
    assert Q.kind == "synthetic" and Q.settings == small_problem.settings
    assert torch.equal(Q.A, small_problem.A)
    assert torch.equal(Q.test.b, small_problem.test.b) and torch.equal(Q.val.s, small_problem.val.s)
    assert Q.snr_db == math.inf and Q.p == small_problem.p


@pytest.mark.parametrize("content", [b"", b"not a torch file at all", None])
def test_bad_problem_file_is_a_usage_error(tmp_path, content):
    path = tmp_path / "bad.pt"
    if content is None:
        torch.save({"something": 1}, path)
    else:
        path.write_bytes(content)
    with pytest.raises(UsageError, match="bad.pt"):
        problems.load(path)
    with pytest.raises(UsageError, match="does not exist"):
        problems.load(tmp_path / "missing.pt")


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        (dict(m=0), "m 0"),
        (dict(m=600), "m 600"),
        (dict(n=1), "n 1"),
        (dict(p=0.0), "p 0.0"),
        (dict(p=1.5), "p 1.5"),
        (dict(snr_db=float("nan")), "snr nan"),
        (dict(kappa=0.5), "kappa 0.5"),
        (dict(seed=-1), "seed -1"),
    ],
)
def test_bad_settings_name_the_value(kwargs, fragment):
    with pytest.raises(UsageError, match=fragment):
        problems.SyntheticSettings(**kwargs)


def test_image_cs_problem(tmp_path):
    settings = problems.ImageCSSettings(
        patch=8, n_atoms=48, m=32, n_dictionary_patches=500, n_train_patches=400, n_val=50, n_test=60, seed=1
    )
    P = problems.make_image_cs(settings)
    assert P.kind == "image-cs" and P.A.shape == (32, 48)
    assert P.synthesis.shape == (64, 48) and P.sensing.shape == (32, 64)
    assert P.test.s.shape == (60, 64) and -1.0 <= P.test.s.min() and P.test.s.max() <= 1.0
    # mean-centred patches (the LISTA-CPSS recipe): every patch, of every split, has mean 0
    for split in (P.val.s, P.test.s, P.train_pool):
        assert split.mean(dim=1).abs().max() < 1e-5
    assert P.test.s.std() > 0.01  # and still carries the texture
    assert torch.allclose(P.test.b, P.test.s @ P.sensing.T, atol=1e-5)
    # the code domain is decoded back to patches
    assert P.decode(torch.zeros(3, 48)).shape == (3, 64)
    batch = P.train_batch(10, torch.Generator().manual_seed(0))
    assert batch.s.shape == (10, 64)
    problems.save(P, tmp_path / "img.pt")
    Q = problems.load(tmp_path / "img.pt")
    assert torch.equal(Q.A, P.A) and torch.equal(Q.train_pool, P.train_pool)


def test_command_line_and_study_config_map_onto_the_same_settings():
    """One problem vocabulary: the same names on the command line and in a study config give
    the same settings (snr -> snr_db, atoms -> n_atoms), through problems.problem_settings."""
    from nni_lista.cli.arguments import _problem_settings
    from nni_lista.cli.parser import build_parser
    from nni_lista.study.config import problem_settings as study_settings

    args = build_parser().parse_args(
        [
            "train",
            "--model",
            "lista",
            "--m",
            "30",
            "--n",
            "60",
            "--snr",
            "20",
            "--kappa",
            "5",
            "--seed",
            "3",
            "--out",
            "x",
        ]
    )
    kind, from_yaml = study_settings({"m": 30, "n": 60, "seed": 3}, {"snr": 20, "kappa": 5}, "noisy")
    assert kind == "synthetic" and from_yaml == problems.SyntheticSettings(
        m=30, n=60, snr_db=20.0, kappa=5.0, seed=from_yaml.seed
    )
    assert _problem_settings(args) == problems.SyntheticSettings(m=30, n=60, snr_db=20.0, kappa=5.0, seed=3)
    assert study_settings({}, {"m": 30, "n": 60, "snr": 20, "kappa": 5, "seed": 3}, "noisy")[1] == _problem_settings(
        args
    )
    images = build_parser().parse_args(
        ["make-problem", "--kind", "image-cs", "--patch", "4", "--atoms", "20", "--m", "8", "--out", "x"]
    )
    assert (
        _problem_settings(images, "image-cs")
        == study_settings({}, {"kind": "image-cs", "patch": 4, "atoms": 20, "m": 8, "seed": 0}, "i")[1]
    )
    with pytest.raises(UsageError, match="key 'atoms' does not apply to a synthetic problem"):
        problems.problem_settings("synthetic", {"atoms": 3})
