"""Progress on stderr for long runs of ``anw`` (issue 30, case 6: a long verification ran
without a word). A bar appears only once work has lasted :data:`DELAY_S` seconds, so short runs
print nothing, and it is cleared when the work ends; it goes to stderr, never into the report."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import Optional, TypeVar

from torch import Tensor, nn

__all__ = ["DELAY_S", "CountingModel", "bar", "over"]

#: Seconds of work before a bar appears.
DELAY_S = 2.0

T = TypeVar("T")


def bar(desc: str, unit: str = "photo", total: Optional[int] = None):
    """A tqdm bar on stderr that appears after :data:`DELAY_S` seconds and is cleared at the end
    (use it as a context manager; ``update(n)`` counts)."""
    from tqdm import tqdm

    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        file=sys.stderr,
        delay=DELAY_S,
        mininterval=1.0,
        leave=False,
        dynamic_ncols=True,
    )


def over(items: Iterable[T], desc: str, total: Optional[int] = None) -> Iterator[T]:
    """``items`` one by one, with a :func:`bar` counting them."""
    with bar(desc, total=total) as shown:
        for item in items:
            yield item
            shown.update(1)


class CountingModel(nn.Module):
    """``net`` unchanged, counting the photos of every pass on ``counter`` (a :func:`bar`);
    shape-only passes on the ``meta`` device (``memory``) are not counted."""

    def __init__(self, net: nn.Module, counter) -> None:
        super().__init__()
        self.net = net
        self.counter = counter

    def forward(self, x: Tensor) -> Tensor:
        if x.device.type != "meta":
            self.counter.update(len(x))
        return self.net(x)
