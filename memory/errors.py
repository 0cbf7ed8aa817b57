"""The store's errors: each one says what happened, that nothing changed, and what to do.

They live apart from db.py so that keys.py and crypto.py, which db.py uses,
can raise them too; db.py re-exports them, and callers import them from there.
"""


class StoreError(Exception):
    """Base class for every store failure that a user should read."""


class CorruptDatabase(StoreError):
    """The file cannot be read as a database (damaged, or encrypted with another key)."""


class DatabaseLocked(StoreError):
    pass


class NotFound(StoreError):
    pass


class ExtensionUnavailable(StoreError):
    pass
