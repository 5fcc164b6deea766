"""A new sqlite MLflow tracking store, made as a copy of an empty one already at MLflow's newest schema.

Why: MLflow makes a new sqlite store by creating its first tables and then running its whole chain of schema
migrations, ~1.6 s of CPU per store (0.03 s for a copy). The kit makes one per stack (`mlops local up`, each
stack of `mlops release rehearse`, the GCP stacks) and one per ``memory`` registry.

The first store made with an installed MLflow version is migrated by MLflow itself, without any experiment, and
kept as the template in the user's cache (:func:`mlops.user_cache.cache_dir`); later
stores are copies of it. Opening a copy, MLflow finds every table at its newest revision (it checks) and adds its
``Default`` experiment, as it does in a store it migrated. Where the cache cannot be written, the template is made
in a temporary directory for this process.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.metadata
import os
import shutil
import tempfile
import threading
from pathlib import Path

from mlops.user_cache import cache_dir

SQLITE_PREFIX = "sqlite:///"
_lock = threading.Lock()
_made: dict[str, Path] = {}  # template per MLflow version, for this process


def database_of(tracking_uri: str) -> Path | None:
    """The file of a sqlite tracking URI (``sqlite:////abs/mlflow.db``, ``sqlite:///rel.db``); ``None`` for any
    other store, and for an in-memory database."""
    if not tracking_uri.startswith(SQLITE_PREFIX):
        return None
    path = tracking_uri.removeprefix(SQLITE_PREFIX).split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None


def ensure_store(tracking_uri: str) -> None:
    """Make the sqlite store of ``tracking_uri`` from the template when it does not exist yet (any other URI, or
    an existing file: nothing)."""
    database = database_of(tracking_uri)
    if database is not None and not database.exists():
        with contextlib.suppress(OSError):  # no template here: MLflow makes the store itself, as without the kit
            create_store(database)


def create_store(database: Path) -> None:
    """Make ``database`` an empty MLflow store at the installed MLflow's schema, unless the file exists (made by
    another process meanwhile, too: the copy is linked into place, never written over a store in use)."""
    if database.exists():
        return
    database.parent.mkdir(parents=True, exist_ok=True)
    staged = _staged(database)
    shutil.copyfile(template(), staged)
    try:
        os.link(staged, database)
    except FileExistsError:
        pass
    except OSError:  # a filesystem without hard links: moved into place unless another process made it meanwhile
        if not database.exists():
            os.replace(staged, database)
    finally:
        staged.unlink(missing_ok=True)


def template() -> Path:
    """The empty store of the installed MLflow version, made on first use."""
    version = importlib.metadata.version("mlflow")  # not `import mlflow`: a copy needs none of it (~1 s)
    with _lock:
        known = _made.get(version)
        if known is not None and known.exists():
            return known
        made = _template_in(cache_dir(), version) or _template_in(_process_dir(), version)
        if made is None:
            raise OSError("no directory to make the MLflow store template in")
        _made[version] = made
        return made


def _staged(path: Path) -> Path:
    """Where this thread writes ``path`` before putting it in place whole (hidden, beside it)."""
    return path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")


def _process_dir() -> Path:
    """A directory of this process, removed when it exits."""
    directory = Path(tempfile.mkdtemp(prefix="mlops-mlflow-template-"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    return directory


def _template_in(directory: Path, version: str) -> Path | None:
    """``directory``'s template for ``version``, migrated now unless there; ``None`` when it cannot be written."""
    path = directory / f"mlflow-{version}-empty.db"
    if path.exists():
        return path
    staged = _staged(path)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        _migrate_empty(staged)
        os.replace(staged, path)  # whole or not at all: another process may be copying the previous one
    except OSError:
        with contextlib.suppress(OSError):
            staged.unlink(missing_ok=True)
        return None
    return path


def _migrate_empty(path: Path) -> None:
    """MLflow's own initialisation of a new store (tables, then every migration), without its Default experiment:
    that one names the store's artifact root, which a copy has to choose itself."""
    import sqlalchemy
    from mlflow.store.db.utils import _initialize_tables  # MLflow's own; no public API makes a bare store

    path.unlink(missing_ok=True)
    engine = sqlalchemy.create_engine(f"{SQLITE_PREFIX}{path}")
    try:
        _initialize_tables(engine)  # type: ignore[no-untyped-call]  # MLflow leaves it untyped
    except sqlalchemy.exc.OperationalError as exc:  # sqlite could not write there
        raise OSError(f"cannot make an MLflow store at {path}: {exc}") from exc
    finally:
        engine.dispose()
