from pathlib import Path

from shared_schema.tables import TABLES

FORMAT = (Path(__file__).parents[1] / "FORMAT.md").read_text()


def test_format_md_documents_every_column_of_every_table():
    for table in TABLES:
        assert f"`{table.file}`" in FORMAT, table.file
        for column in table.columns + table.optional_columns:
            assert f"| `{column.name}` |" in FORMAT, f"{table.file}: {column.name}"


def test_format_md_states_the_current_version():
    assert "Format version: **1.1.0**" in FORMAT
