"""Shims for NNI 3.0's search stack as it is today (archived upstream; docs/nni-notes.md), each
with its reason. Shim 1, the quiet import of NNI's model-space package, lives with the space
(:mod:`nni_lista.space.nni_import`), which must not import search code.

2. NNI's ENAS feeds its Lightning module from a ``ConcatLoader`` of the training and the
   validation loader and tells the two apart by the shape of what ``training_step`` receives:
   ``(batch, mode)`` under pytorch-lightning 1.x, ``(batch, batch_idx, dataloader_idx)``
   under early 2.0. Lightning 2.1+ passes only the batch, so a ``(b, s)`` batch is read as
   ``(batch, mode)`` and ENAS fails with "too many values to unpack". :class:`ENAS` tags
   every batch with its mode, the 1.x form that ENAS still understands.

3. (The quiet import of gym, which NNI's RL and one-shot code pulls in through tianshou, is
   part of shim 1.)

4. ``nni.mutable.Mutable.random()`` makes a fresh numpy ``RandomState()``, seeded from the
   operating system, whenever it is called without one; RandomOneShot samples its paths and
   exports its architecture that way, so the same search command returned different
   architectures. :func:`seed_fresh_random_states` makes those states come from a seeded stream.
"""

from __future__ import annotations

from nni_lista.space import nni_import  # noqa: F401  (shim 1)

from nni.nas.strategy import ENAS as _NNIENAS  # noqa: E402


class _Tagged:
    """Yields ``(batch, mode)`` for every batch of ``loader``."""

    def __init__(self, loader, mode: str):
        self.loader, self.mode = loader, mode

    def __iter__(self):
        for batch in self.loader:
            yield batch, self.mode

    def __len__(self) -> int:
        return len(self.loader)


class ENAS(_NNIENAS):
    """NNI's ENAS, unmodified except that batches reach it tagged with their mode (shim 2)."""

    def train_dataloader(self, train_dataloader_fn, val_dataloader_fn):
        from nni.nas.oneshot.pytorch._dataloader import ConcatLoader

        return ConcatLoader(
            {
                "train": _Tagged(train_dataloader_fn(), "train"),
                "val": _Tagged(val_dataloader_fn(), "val"),
            }
        )


def seed_fresh_random_states(seed: int) -> None:
    """Shim 4: from now on, every ``RandomState()`` NNI's mutables create without a seed is seeded
    from a stream fixed by ``seed`` (a state asked for with a seed is made as asked)."""
    import numpy as np
    import nni.mutable.mutable as mutables

    stream = np.random.SeedSequence(seed)

    def seeded_state(*args, **kwargs) -> np.random.RandomState:
        if args or kwargs:
            return np.random.RandomState(*args, **kwargs)
        return np.random.RandomState(stream.spawn(1)[0].generate_state(1)[0])

    mutables.RandomState = seeded_state
