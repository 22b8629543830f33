import json

import numpy as np
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from nni_lista.models import family

from nni_lista.problem import problems

from nni_lista.search.export import save_arch
from nni_lista.space import architectures, spaces
from nni_lista.base.errors import UsageError
from nni_lista.space.architectures import PRESETS
from nni_lista.space.spaces import LISTASpace
from nni.nas.profiler.pytorch.flops import FlopsProfiler, NumParamsProfiler

M, N, T = 12, 24, 5


@pytest.fixture(scope="module")
def problem():
    return problems.make_synthetic(problems.SyntheticSettings(m=M, n=N, n_val=20, n_test=40, seed=2))


@pytest.mark.parametrize("preset", list(PRESETS))
def test_labels_are_hierarchical_and_match_nni(preset):
    space = LISTASpace.from_preset(preset, M, N, T)
    mutables = space.simplify()
    expected = architectures.labels(T, PRESETS[preset])
    assert list(mutables) == list(expected)
    for label, mutable in mutables.items():
        assert tuple(mutable.values) == expected[label]
        assert label.split("/")[0].startswith("layer") and "/" in label


def test_paper_space_has_every_skip_and_neuron():
    labels = architectures.labels(16, PRESETS["paper"])
    assert sum("skip_from" in k for k in labels) == 14 * 15 // 2  # layers 3..16, skips from x^1..x^{k-2}
    assert labels["layer16/neuron"] == ("soft", "soft-ss", "firm", "relu", "leaky-relu", "tanh", "identity")
    assert labels["layer16/skip_from1"] == ("off", "on") and "layer16/skip_from15" not in labels


def _perturbed(model, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=g) * (p.abs().mean() + 0.01))
    return model


@pytest.mark.parametrize("name", ["lista", "lista-cp", "lista-cpss", "alista"])
def test_named_presets_equal_the_family_models_for_the_same_weights(problem, name):
    reference = _perturbed(family.build(name, problem.A, T))
    frozen = spaces.build(architectures.named_architecture(name, T), M, N, problem.A)
    with torch.no_grad():
        for k, block in enumerate(frozen.blocks):
            if name == "alista":
                block.form.gamma.copy_(reference.gamma[k])
            elif name == "lista":
                if k == 0:
                    frozen.measure.B.copy_(reference.B)
                else:
                    block.form.W.copy_(reference.W[k - 1])
            else:
                block.form.W.copy_(reference.W[k])
            block.neuron.theta.copy_(reference.theta[k])
        a, b = frozen(problem.test.b), reference(problem.test.b)
    assert len(a) == len(b) == T
    for x, y in zip(a, b):
        assert torch.allclose(x, y, atol=1e-5)


def test_every_architecture_starts_as_ista(problem):
    """Skip gains start at 0: the dense architecture computes ISTA at initialisation."""
    dense = spaces.build(architectures.named_architecture("dense", T), M, N, problem.A)
    ista = family.build("ista", problem.A, T)
    with torch.no_grad():
        assert torch.allclose(dense(problem.test.b)[-1], ista(problem.test.b)[-1], atol=1e-5)


@pytest.mark.parametrize("preset", ["connectivity", "paper", "full"])
def test_profilers_equal_independent_counts_of_frozen_models(problem, preset):
    space = LISTASpace.from_preset(preset, M, N, T)
    dummy = torch.zeros(1, M)
    flops, params = FlopsProfiler(space, dummy), NumParamsProfiler(space, dummy)
    for seed in range(6):
        sample = {}
        model = space.random(memo=sample, random_state=np.random.RandomState(seed))
        model.initialise(problem.A)
        with FlopCounterMode(display=False) as counter:
            model(dummy)
        assert flops.profile(sample) == counter.get_total_flops()
        assert params.profile(sample) == sum(p.numel() for p in model.parameters())


def test_layer_parameters_cover_a_random_architecture(problem):
    space = LISTASpace.from_preset("full", M, N, T)
    model = space.random(random_state=np.random.RandomState(3)).initialise(problem.A)
    listed = [id(p) for k in range(T) for p in model.layer_parameters(k)]
    assert sorted(listed) == sorted(id(p) for p in model.parameters())


def test_arch_file_round_trip(tmp_path):
    arch = architectures.named_architecture("lista-cpss", T)
    save_arch(arch, tmp_path / "a.json")
    assert architectures.load_arch(tmp_path / "a.json") == arch
    # completing a sub-space sample gives a full-space architecture
    sample = {"layer3/skip_from1": "on"}
    full = architectures.complete(sample, T, PRESETS["connectivity"])
    assert architectures.validate(full) == T and full["layer3/skip_from1"] == "on" and full["layer2/neuron"] == "soft"


@pytest.mark.parametrize(
    "edit, fragment",
    [
        (lambda a: a.update({"layer2/colour": "red"}), "unknown label 'layer2/colour'"),
        (lambda a: a.update({"layer9/neuron": "soft"}), "missing label"),
        (lambda a: a.pop("layer3/skip_from1"), "missing label 'layer3/skip_from1'"),
        (
            lambda a: a.update({"layer4/neuron": "gelu"}),
            "layer4/neuron='gelu' is not allowed: choose one of soft, soft-ss",
        ),
        (lambda a: a.update({"nonsense": 1}), "unknown label 'nonsense'"),
    ],
)
def test_bad_arch_files_are_refused(tmp_path, edit, fragment):
    arch = architectures.named_architecture("lista", T)
    edit(arch)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(arch))
    with pytest.raises(UsageError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        architectures.load_arch(path)


def test_unreadable_arch_file(tmp_path):
    (tmp_path / "x.json").write_text("{not json")
    with pytest.raises(UsageError, match="cannot read architecture file"):
        architectures.load_arch(tmp_path / "x.json")
    with pytest.raises(UsageError, match="does not exist"):
        architectures.load_arch(tmp_path / "missing.json")


def test_searched_models_load_the_hub_way():
    """LISTASpace.load_searched_model (NNI's space-hub convention): named family members at any
    depth, and the shipped architectures our committed results found, frozen for a problem size."""
    import json
    from pathlib import Path

    import torch

    from nni_lista.space.architectures import NAMED_ARCHITECTURES, named_architecture
    from nni_lista.space.spaces import LISTASpace, SEARCHED_MODELS

    repo = Path(__file__).resolve().parents[1]
    assert "shared-evolution-250x500" in SEARCHED_MODELS
    shipped = LISTASpace.load_searched_model("shared-evolution-250x500", m=20, n=40)
    written = json.loads((repo / "results" / "weight-sharing" / "best_arch-250x500-T16.json").read_text())
    assert shipped.arch == architectures.with_defaults(
        written, 16
    )  # a file of the 2019 space: the mechanisms read as off
    assert len(shipped(torch.zeros(3, 20))) == 16
    for name in NAMED_ARCHITECTURES:
        model = LISTASpace.load_searched_model(name, m=20, n=40, layers=5, A=torch.randn(20, 40))
        assert model.arch == named_architecture(name, 5) and len(model(torch.zeros(2, 20))) == 5
    with pytest.raises(UsageError, match="choose one of lista, lista-cp"):
        LISTASpace.load_searched_model("resnet50")
    with pytest.raises(UsageError, match="has 16 layers"):
        LISTASpace.load_searched_model("shared-evolution-250x500", layers=8)
    with pytest.raises(UsageError, match="no pretrained weights"):
        LISTASpace.load_searched_model("lista", pretrained=True)
