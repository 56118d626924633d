"""The README stays true: the stream table is the code's, every setting is documented."""

from __future__ import annotations

from ownlens_kafka.config import KafkaConfig
from ownlens_kafka.docs import END, START, render, stream_table
from ownlens_pipelines.settings import ETLConfig
from tests.helpers import ROOT

README = (ROOT / "README.md").read_text()


def test_stream_table_is_generated_from_the_code() -> None:
    assert render(README) == README, "run: python -m ownlens_kafka.docs README.md"
    assert f"{START}\n{stream_table()}\n{END}" in README


def test_every_environment_variable_is_documented() -> None:
    names = [f"KAFKA_{field.upper()}" for field in KafkaConfig.model_fields]
    names += [f"OWNLENS_{field.upper()}" for field in ETLConfig.model_fields if field != "kafka"]
    missing = [name for name in names if f"`{name}`" not in README]
    assert not missing, f"not in the README's configuration table: {missing}"


def test_the_two_commands_come_first() -> None:
    first_block = README.split("```")[1]
    assert "make run" in first_block and "make test" in first_block
