"""Progress bars: what ``verbose`` means for each long stage of the package's work."""

from __future__ import annotations

from tqdm.auto import tqdm

__all__ = ["progress_bar", "AUTO_DELAY_S"]

#: Under ``verbose="auto"`` a stage's bar appears once the stage has run this many seconds.
AUTO_DELAY_S = 2.0


def progress_bar(verbose, iterable=None, **kwargs) -> tqdm:
    """A tqdm bar (on stderr) for one stage of work, as ``verbose`` asks.

    ``"auto"`` shows the bar only once the stage has lasted :data:`AUTO_DELAY_S` seconds and
    clears it when the stage ends, so short calls print nothing; any other true value shows it
    from the start and leaves it on screen; a false value shows nothing.

    Examples
    --------
    >>> with progress_bar(0, range(3), desc="quiet") as bar:
    ...     total = sum(bar)
    >>> total, bar.disable
    (3, True)
    >>> progress_bar("auto", total=10).delay
    2.0
    """
    if isinstance(verbose, str):  # "auto", the only string the estimators accept
        return tqdm(iterable, delay=AUTO_DELAY_S, leave=False, **kwargs)
    return tqdm(iterable, disable=not verbose, **kwargs)
