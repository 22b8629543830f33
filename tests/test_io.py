import os

import pytest

from nni_lista.base.io import write_json


def test_atomic_writes_leave_no_temporary_and_usual_permissions(tmp_path):
    path = write_json(tmp_path / "sub" / "m.json", {"a": 1})
    assert path.read_text() == '{\n  "a": 1\n}\n'
    assert [p.name for p in path.parent.iterdir()] == ["m.json"]
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_a_signal_right_after_the_temporary_file_is_created_leaves_nothing(tmp_path, monkeypatch):
    import os as real_os

    from nni_lista.base import io as atomic

    real_open = real_os.open

    def open_then_interrupted(path, flags, mode=0o777):
        real_os.close(real_open(path, flags, mode))  # the file exists, as after a real open...
        raise KeyboardInterrupt  # ...and a signal arrives before its descriptor is returned

    monkeypatch.setattr(atomic.os, "open", open_then_interrupted)
    with pytest.raises(KeyboardInterrupt):
        atomic.write_text(tmp_path / "out.txt", "x")
    assert list(tmp_path.iterdir()) == []


def test_a_json_unit_is_computed_once_and_then_read(tmp_path):
    from nni_lista.base.io import json_unit

    calls = []
    work = lambda: calls.append(1) or {"value": len(calls)}  # noqa: E731
    assert json_unit(tmp_path / "u" / "a.json", work) == {"value": 1}
    assert json_unit(tmp_path / "u" / "a.json", work) == {"value": 1} and len(calls) == 1
