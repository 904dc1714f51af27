"""Thread-local switches read while a function is traced (layers/kv_cache.py, layers/attention.py)."""

import contextlib


@contextlib.contextmanager
def switched_on(state, name):
    """Sets `state.<name>` to True inside the block and restores its previous value after it."""
    previous = getattr(state, name, False)
    setattr(state, name, True)
    try:
        yield
    finally:
        setattr(state, name, previous)
