import os

from nni_lista.base.io import write_json


def test_atomic_writes_leave_no_temporary_and_usual_permissions(tmp_path):
    path = write_json(tmp_path / "sub" / "m.json", {"a": 1})
    assert path.read_text() == '{\n  "a": 1\n}\n'
    assert [p.name for p in path.parent.iterdir()] == ["m.json"]
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
