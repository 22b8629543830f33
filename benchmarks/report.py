"""The end every table-making benchmark shares: ``OUT/results.json`` (the setup line and the
record), ``OUT/table.md`` (the setup line over the table), both printed."""

from __future__ import annotations

from pathlib import Path

from nni_lista.base.io import write_json, write_text


def write_report(out: Path, setup: str, table: str, record: dict) -> None:
    """Write ``out/results.json`` (``{"setup": setup, **record}``) and ``out/table.md``, and print them."""
    write_json(out / "results.json", {"setup": setup, **record})
    write_text(out / "table.md", f"{setup}\n\n{table}\n")
    print(setup)
    print(table)
    print(f"\nwrote {out}/results.json and table.md")
