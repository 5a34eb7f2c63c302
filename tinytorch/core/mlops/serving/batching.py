"""Dynamic micro-batching: run the model once for many concurrent requests.

The classic batcher (TorchServe's ``max_batch_delay``, MLServer's ``max_batch_time``) waits a
fixed window for a batch to fill. At low traffic every request then pays the whole window: a
5 ms window makes a lone client 14 times slower. This one never waits on purpose. A request
that finds the model idle runs at once, in the caller's turn of the event loop. Requests that
arrive while the model is busy (during this turn of the loop, or while a batch computes) queue
up, and the next model call, on the next turn, takes all of them (up to ``max_batch_size``
rows). Batches therefore grow exactly when there is load to amortise.

The queue is bounded twice, so that overload is answered at once with 503 instead of by a
queue that grows until every request times out (TF Serving's ``max_enqueued_batches``,
BentoML's ``max_latency_ms``): by length (``max_queue_size``), and by the wait a newcomer can
expect from the cost per row measured at the batch size it would run in (``max_latency_ms``).
A request that finds the model idle is never refused: there is nothing for it to wait behind.
"""

import asyncio
import time
from collections import deque

import numpy as np

from .protocol import InferenceError


def take_batch(queue, max_batch_size):
    """Remove and return the requests for the next model call, oldest first.

    ``queue`` is a ``collections.deque`` of ``(x, future)`` pairs, ``x`` an array of shape
    ``(rows, ...)``. Take requests from the left while their rows fit in ``max_batch_size``;
    always take at least one, so that a request larger than the limit is still served (alone)
    rather than stuck forever. Requests are never split or reordered: each answer must go back
    to the request it came from, and first come is first served.
    """
    batch = [queue.popleft()]
    rows = len(batch[0][0])
    while queue and rows + len(queue[0][0]) <= max_batch_size:
        request = queue.popleft()
        batch.append(request)
        rows += len(request[0])
    return batch


def split_outputs(outputs, row_counts):
    """Split each batched output ``{name: array (total_rows, ...)}`` back into one dict per
    request, by the requests' row counts in batch order."""
    pieces, start = [], 0
    for rows in row_counts:
        pieces.append({name: array[start:start + rows] for name, array in outputs.items()})
        start += rows
    return pieces


class RowCosts:
    """Seconds per row of the model, measured separately for each batch-size class (1, 2-3,
    4-7, 8-15, ... rows), as a moving average of real model calls.

    Why per size: a model's cost per row falls steeply with the batch size (one 784x128 matmul
    row costs about as much as eight, BLAS amortises its start-up), so a cost learned from
    single-row calls predicts a 2,048-row request to take ten times longer than it does.
    A size never measured has no estimate (``None``): the first batch of that size measures it.
    """

    def __init__(self):
        self.per_row = {}

    @staticmethod
    def size_class(rows):
        return int(rows).bit_length()

    def record(self, rows, seconds):
        key = self.size_class(rows)
        cost = seconds / rows
        previous = self.per_row.get(key)
        self.per_row[key] = cost if previous is None else 0.9 * previous + 0.1 * cost

    def estimate(self, rows, max_batch_size):
        """Seconds to run ``rows`` queued rows in batches of at most ``max_batch_size``, or None
        if that batch size was never measured."""
        cost = self.per_row.get(self.size_class(min(rows, max_batch_size)))
        return None if cost is None else rows * cost


class MicroBatcher:
    """Collects requests from many coroutines into model calls on one event loop.

    ``predict_batch(x)`` maps an array of shape ``(rows, ...)`` to ``{output name: array with
    rows in its first dimension}``. ``submit(x)`` returns this request's slice of it.
    ``take_batch(queue, max_batch_size)`` is the batching policy: which queued requests the
    next model call takes.

    ``clock`` times model calls (``time.perf_counter``; tests inject one to make the measured
    costs exact).
    """

    def __init__(self, predict_batch, max_batch_size=64, max_latency_ms=100.0, max_queue_size=1024,
                 take_batch=take_batch, clock=time.perf_counter):
        if max_batch_size < 1 or max_queue_size < 1 or max_latency_ms <= 0:
            raise ValueError("max_batch_size and max_queue_size must be >= 1 and max_latency_ms > 0")
        self.predict_batch = predict_batch
        self.take_batch = take_batch
        self.max_batch_size = int(max_batch_size)
        self.max_latency = max_latency_ms / 1000.0
        self.max_queue_size = int(max_queue_size)
        self.queue = deque()
        self.queued_rows = 0
        self.clock = clock
        self.costs = RowCosts()  # the model's cost per row by batch size, measured on real batches
        self.on_batch = None  # optional callback(rows), e.g. for a batch-size histogram
        self._dispatch_scheduled = False
        self._busy_this_turn = False  # the model already ran in this turn of the event loop

    async def submit(self, x):
        """Queue ``x`` for the next model call and wait for its outputs.

        A request that finds the model idle runs at once, whatever its size. Otherwise raises
        ``InferenceError(503)`` at once if the queue is full or the expected wait (the queued rows
        and its own, at the cost per row measured for that batch size) exceeds
        ``max_latency_ms``: a fast "try again" beats a slow timeout for the client and the server.
        """
        loop = asyncio.get_running_loop()
        if not self._busy_this_turn and not self.queue:  # model idle: no reason to wait
            self._busy_this_turn = True
            loop.call_soon(self._end_turn)
            return self._run_now(x)
        if len(self.queue) >= self.max_queue_size:
            raise InferenceError(503, f"server overloaded: {len(self.queue)} requests queued (max_queue_size); retry later")
        expected_wait = self.costs.estimate(self.queued_rows + len(x), self.max_batch_size)
        if expected_wait is not None and expected_wait > self.max_latency:
            raise InferenceError(
                503, f"server overloaded: expected wait {expected_wait * 1000:.0f} ms for "
                f"{self.queued_rows + len(x)} queued rows exceeds max_latency_ms "
                f"({self.max_latency * 1000:g} ms); retry later")
        future = loop.create_future()
        self.queue.append((x, future))
        self.queued_rows += len(x)
        if not self._dispatch_scheduled:
            self._dispatch_scheduled = True
            loop.call_soon(self._dispatch)
        return await future

    def _end_turn(self):
        self._busy_this_turn = False

    def _run_now(self, x):
        started = self.clock()
        result = self.predict_batch(x)
        self._record(len(x), started)
        return result

    def _record(self, rows, started):
        self.costs.record(rows, self.clock() - started)
        if self.on_batch is not None:
            self.on_batch(rows)

    def _dispatch(self):
        """Run one batch. Scheduled with ``call_soon``, so every request whose handler ran in
        this turn of the event loop is already queued; the loop reads the sockets again before
        the next batch, which picks up whatever arrived while the model was busy."""
        self._dispatch_scheduled = False
        try:
            batch = self.take_batch(self.queue, self.max_batch_size)
            if not batch:
                raise ValueError("take_batch returned no request; it must take at least one")
        except Exception as error:  # a broken policy fails the waiting requests instead of hanging them
            self._fail(list(self.queue), error)
            self.queue.clear()
            self.queued_rows = 0
            return
        row_counts = [len(x) for x, _ in batch]
        self.queued_rows -= sum(row_counts)
        if self.queue:
            self._dispatch_scheduled = True
            asyncio.get_running_loop().call_soon(self._dispatch)
        self._run(batch, row_counts)

    def _run(self, batch, row_counts):
        started = self.clock()
        try:
            x = batch[0][0] if len(batch) == 1 else np.concatenate([x for x, _ in batch])
            results = split_outputs(self.predict_batch(x), row_counts)
        except Exception as error:  # the model failed: every request of the batch learns why
            self._fail(batch, error)
            return
        self._record(sum(row_counts), started)
        for (_, future), result in zip(batch, results):
            if not future.done():  # the client may have gone away (cancelled)
                future.set_result(result)

    @staticmethod
    def _fail(requests, error):
        for _, future in requests:
            if not future.done():
                future.set_exception(error)
