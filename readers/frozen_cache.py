"""A scorer that runs only the top layers: the frozen lower layers' output is computed once per
window and kept.

When learning changes only the top ``k`` encoder layers and the head, the input of layer
``n - k`` of a window never changes, so every later forward pass (reading, the update, scoring a
test set) needs only the top ``k`` layers: a 6-layer MiniLM with ``k = 2`` does a third of the
work. Windows are keyed by their tokens. The result equals the full model's (checked by the
tests) as long as the lower layers stay as they were when cached; :func:`readers.bandit.update`
with ``train_layers <= k`` guarantees it.

>>> scorer = CachedScorer(model, top_layers=2)                     # doctest: +SKIP
>>> scorer.prepare(windows); ls, le = scorer(windows)              # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence

from readers.bandit import Window, masked_log_softmax, pad_windows


class CachedScorer:
    """``scorer(windows) -> (log p_start, log p_end)`` running the top ``top_layers`` layers of
    ``model`` (a BERT-style ``...ForQuestionAnswering``) over cached lower-layer states."""

    def __init__(self, model, top_layers: int, batch_size: int = 64):
        n = model.config.num_hidden_layers
        if not 0 <= top_layers <= n:
            raise ValueError(f"top_layers must be in [0, {n}], got {top_layers}")
        self.model, self.top_layers, self.batch_size = model, top_layers, batch_size
        self.split = n - top_layers
        self._cache: dict[tuple[int, ...], object] = {}

    def __len__(self) -> int:
        return len(self._cache)

    def prepare(self, windows: Sequence[Window], progress: bool = False) -> None:
        """Compute and keep the lower layers' output of the windows not cached yet."""
        import torch
        from tqdm import tqdm

        from indexes.progress import hidden

        todo = sorted({w.input_ids: w for w in windows if w.input_ids not in self._cache}.values(),
                      key=lambda w: len(w.input_ids))
        base = self.model.base_model
        with torch.inference_mode():
            for b in tqdm(range(0, len(todo), self.batch_size), desc="cache lower layers", unit="batch",
                          disable=hidden(progress)):
                batch = todo[b:b + self.batch_size]
                ids, mask, types = pad_windows(batch)
                h = base.embeddings(input_ids=ids, token_type_ids=types)
                h = self._layers(h, mask, range(self.split))
                for i, w in enumerate(batch):
                    self._cache[w.input_ids] = h[i, :len(w.input_ids)].clone()

    def _layers(self, h, mask, which):
        from transformers.masking_utils import create_bidirectional_mask

        att = create_bidirectional_mask(config=self.model.config, inputs_embeds=h, attention_mask=mask)
        for i in which:
            h = self.model.base_model.encoder.layer[i](h, att)
            h = h[0] if isinstance(h, tuple) else h
        return h

    def __call__(self, windows: Sequence[Window]):
        import torch

        missing = [w for w in windows if w.input_ids not in self._cache]
        if missing:
            self.prepare(missing)
        width = max(len(w.input_ids) for w in windows)
        dim = self.model.config.hidden_size
        h = torch.zeros((len(windows), width, dim))
        mask = torch.zeros((len(windows), width), dtype=torch.long)
        for i, w in enumerate(windows):
            n = len(w.input_ids)
            h[i, :n] = self._cache[w.input_ids]
            mask[i, :n] = 1
        h = self._layers(h, mask, range(self.split, self.split + self.top_layers))
        start, end = self.model.qa_outputs(h).split(1, dim=-1)
        return masked_log_softmax(start.squeeze(-1), end.squeeze(-1), mask)
