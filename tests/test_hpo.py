import json
from pathlib import Path

import pytest

from nni_lista.search import hpo
from nni_lista.space import architectures
from nni_lista.cli import main
from nni_lista.base.errors import UsageError

SHIPPED = sorted((Path(__file__).resolve().parents[1] / "search_spaces").glob("*.json"))


def test_search_spaces_are_shipped():
    names = {p.name for p in SHIPPED}
    assert {"paper-16.json", "connectivity-5.json"} <= names


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_committed_search_space_equals_what_the_command_generates(path, tmp_path, capsys):
    preset, layers = hpo.parse_file_name(path.name)
    assert main(["export-space", "--space", preset, "--layers", str(layers), "--out", str(tmp_path / path.name)]) == 0
    assert (tmp_path / path.name).read_text() == path.read_text(), (
        f"{path.name} is stale: run search_spaces/regenerate.sh"
    )


def test_search_space_is_classic_choice_format_over_the_space_labels():
    space = hpo.search_space("paper", 6)
    assert list(space) == list(architectures.labels(6, architectures.PRESETS["paper"]))
    assert space["layer5/skip_from2"] == {"_type": "choice", "_value": ["off", "on"]}
    assert space["layer1/neuron"]["_value"][0] == "soft"
    json.dumps(space)  # plain JSON


def test_bad_file_names_are_refused():
    with pytest.raises(UsageError, match="PRESET-LAYERS.json"):
        hpo.parse_file_name("paper.json")
