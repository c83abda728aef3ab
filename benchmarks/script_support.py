"""What the benchmark scripts share: one-line errors, outputs that are never replaced
without --force, and a dataset cache keyed by everything that decides the clips."""

import sys
from pathlib import Path

from numpy_sae.commands.experiment import load_dataset

# What a user's mistake raises in numpy_sae (CommandError from the CLI's parser, JobError,
# DataError, AudioError and ModelFileError are ValueError or RuntimeError subclasses).
USER_ERRORS = (ValueError, RuntimeError, OSError, KeyError)


def run_main(main, argv=None):
    """``main(argv)``'s exit status; a user's mistake is one line on stderr and status 1,
    never a traceback."""
    from numpy_sae.commands.cli import CommandError
    try:
        return main(argv) or 0
    except (CommandError, *USER_ERRORS) as exc:
        name = Path(sys.argv[0]).name
        print(f"{name}: error: {exc}", file=sys.stderr)
        return 1


def check_new(paths, force=False):
    """Refuse, before any work, outputs that exist (unless ``force``): a run's per-fold
    figures may have taken hours."""
    existing = [str(p) for p in map(Path, paths) if p.exists()]
    if existing and not force:
        raise ValueError(f"{', '.join(existing)} already exist(s); it is not replaced: choose "
                         "another name, or pass --force")


def dataset_key(settings):
    """What decides a run's clips: the data folder, the genres, the preprocessing, the
    kind of input and the unlabeled folder. Rows or candidates that share it share data."""
    return (settings.data, tuple(settings.genres), repr(settings.preprocessing()),
            settings.uses_descriptors(), settings.unlabeled, settings.cache_dir,
            settings.use_cache, settings.quick)


def cached_dataset(cache, settings):
    """The dataset for ``settings``, loaded once per :func:`dataset_key`."""
    key = dataset_key(settings)
    if key not in cache:
        cache[key] = load_dataset(settings, log=lambda line: None)
    return cache[key]
