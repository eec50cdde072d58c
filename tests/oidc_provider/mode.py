"""How the provider misbehaves for the next tokens (one process, so a module variable)."""

MODES = ("normal", "wrong_audience", "foreign_key", "expired")
_current = ["normal"]


def current() -> str:
    return _current[0]


def switch(value: str) -> None:
    if value not in MODES:
        raise ValueError(value)
    _current[0] = value
