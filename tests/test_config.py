"""Config: works with no file, reads TOML, lets TACIT_* win, and names bad keys and files."""

from __future__ import annotations


import pytest

from tacitd.daemon.config import ConfigError, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for key in ("TACIT_DATA_DIR", "TACIT_CONFIG", "TACIT_RETRIEVAL__MMR_LAMBDA"):
        monkeypatch.delenv(key, raising=False)


def test_no_file_gives_safe_defaults(tmp_path):
    settings = load_settings(tmp_path / "absent.toml")
    assert settings.db_path.name == "tacit.db"
    assert "tacit" in str(settings.data_dir)
    assert settings.retrieval.mmr_lambda == 0.7


def test_file_values_and_env_overrides(tmp_path, monkeypatch):
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'data_dir = "{tmp_path / "data"}"\n[retrieval]\nmmr_lambda = 0.5\ncandidates = 20\n')
    settings = load_settings(cfg)
    assert settings.db_path == tmp_path / "data" / "tacit.db"
    assert (settings.retrieval.mmr_lambda, settings.retrieval.candidates) == (0.5, 20)

    monkeypatch.setenv("TACIT_RETRIEVAL__MMR_LAMBDA", "0.9")
    monkeypatch.setenv("TACIT_DATA_DIR", str(tmp_path / "elsewhere"))
    settings = load_settings(cfg)
    assert settings.retrieval.mmr_lambda == 0.9 and settings.retrieval.candidates == 20
    assert settings.data_dir == tmp_path / "elsewhere"


def test_config_path_from_env(tmp_path, monkeypatch):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[retrieval]\ncandidates = 7\n")
    monkeypatch.setenv("TACIT_CONFIG", str(cfg))
    assert load_settings().retrieval.candidates == 7


@pytest.mark.parametrize(
    "content, expected",
    [
        ("[retrieval]\nmmr_lambda = 3\n", "retrieval.mmr_lambda"),
        ("[retrieval]\nmmr_lamda = 0.5\n", "retrieval.mmr_lamda"),
        ("datadir = '/tmp'\n", "datadir"),
        ("[retrieval\n", "not valid TOML"),
    ],
)
def test_a_bad_file_names_the_key_and_the_file(tmp_path, content, expected):
    cfg = tmp_path / "config.toml"
    cfg.write_text(content)
    with pytest.raises(ConfigError) as err:
        load_settings(cfg)
    assert str(cfg) in str(err.value) and expected in str(err.value)
