"""The shared pydantic contract refuses nonsense with messages that name the field."""

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from tacitd.memory.types import Observation, Proposition


def test_confidence_above_one_is_refused_and_named():
    with pytest.raises(ValidationError) as err:
        Proposition(text="Sam likes tea", confidence=1.7)
    assert err.value.errors()[0]["loc"] == ("confidence",)
    assert "less than or equal to 1" in str(err.value)


@pytest.mark.parametrize("text", ["", "   \n "])
def test_empty_text_is_refused(text):
    with pytest.raises(ValidationError, match="text"):
        Proposition(text=text, confidence=0.5)


def test_unknown_fields_and_statuses_are_refused():
    with pytest.raises(ValidationError, match="status"):
        Proposition(text="x", confidence=0.5, status="deleted")
    with pytest.raises(ValidationError, match="colour"):
        Proposition(text="x", confidence=0.5, colour="red")


def test_validity_window_must_not_run_backwards():
    now = datetime.now(UTC)
    with pytest.raises(ValidationError, match="valid_to"):
        Proposition(text="x", confidence=0.5, valid_from=now, valid_to=now - timedelta(days=1))


def test_times_are_normalised_to_utc():
    naive = datetime(2026, 1, 2, 3, 4, 5)
    obs = Observation(observer="screen", captured_at=naive)
    assert obs.captured_at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    plus2 = datetime.fromisoformat("2026-01-02T05:04:05+02:00")
    assert Observation(observer="screen", captured_at=plus2).captured_at.hour == 3


def test_longer_half_life_decays_slower():
    """The reference implementation had this inverted; ours must not."""
    old = datetime.now(UTC) - timedelta(days=30)
    short = Proposition(text="x", confidence=1, half_life_days=7, updated_at=old, valid_from=old)
    long = Proposition(text="x", confidence=1, half_life_days=365, updated_at=old, valid_from=old)
    assert long.recency() > short.recency()
    month = Proposition(text="x", confidence=1, half_life_days=30, updated_at=old, valid_from=old)
    assert month.recency() == pytest.approx(0.5, abs=1e-3)


def test_observer_names_are_simple_identifiers():
    with pytest.raises(ValidationError, match="observer"):
        Observation(observer="Screen Capture!")
