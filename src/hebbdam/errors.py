"""The one exception type the command line turns into a one-line message and a non-zero exit."""


class HebbdamError(Exception):
    """A problem the user can fix: a bad config value, a missing file, a diverged network."""


class DivergedError(HebbdamError):
    """A trained network whose parameters became non-finite (an lr too large for it)."""


class ConfigError(HebbdamError):
    """A params key that is missing or holds a value of the wrong kind."""

    def __init__(self, key: str, expected: str, got: object = "missing"):
        self.key = key
        got_text = "missing" if got == "missing" else f"got {got!r}"
        super().__init__(f"params key '{key}': expected {expected}, {got_text}")
