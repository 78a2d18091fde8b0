"""
Training on a stream of documents (a `datasets.IterableDataset`, e.g. `load_dataset(..., streaming=True)`): each
process reads its own part, tokenizes it on the fly, and reads batches of similar length.

`Trainer` groups a map-style dataset by length (`train_sampling_strategy="group_by_length"`) but cannot sort a
stream, which HAN's packed recurrence needs most: a batch costs what its longest document costs. A
`HANDocumentStream` reads a buffer of batches at a time, tokenizes it in one call, sorts it by length, cuts it into
batches and yields the batches in a random order, so that a data loader of the same batch size reads batches of
similar length. `HANTrainer` reads such a stream in each process as it is (accelerate would otherwise read the
whole stream in the main process and send each process its share).
"""

import hashlib
import queue
import threading

import numpy as np
import torch


# Batches of one buffer: 50 at the paper's batch of 64 sort 3,200 documents at a time.
LENGTH_GROUPING_BATCHES = 50


class HANDocumentStream(torch.utils.data.IterableDataset):
    """
    One process's part of a stream of documents, tokenized a buffer at a time and grouped by length in the buffer.

    Args:
        documents (`datasets.IterableDataset`): the whole stream of raw rows.
        preprocess (`Callable[[dict], dict]`): a batch of rows (columns of lists) to features (columns of lists) for
            the data collator, with a `length_column` (`HANTokenizer(..., return_length=True)` gives one).
        batch_size (`int`): the data loader's batch size (per process).
        buffer_batches (`int`): batches read, tokenized and sorted at a time.
        shuffle_buffer_size (`int`): rows held to draw the next one from at random (0: the stream's order), in
            another order each epoch (`set_epoch`, which `Trainer` calls).
        seed (`int`): the shuffle and the order of a buffer's batches depend on it and the epoch only, so a stream
            read again (a resumed run) yields the same batches.
        group_by_length (`bool`): sort each buffer by length (else keep the stream's order).
        process_index, num_processes (`int`): which part of the stream this process reads
            (`datasets.distributed.split_dataset_by_node`: whole files or data shards when their number divides
            `num_processes`, else every `num_processes`-th document), before anything is tokenized.
        prefetch (`bool`): read and tokenize the next buffer in a thread while the batches of this one are trained
            on (PyTorch's kernels leave the interpreter to it; see `_prefetched`).
    """

    def __init__(
        self,
        documents,
        preprocess,
        batch_size: int,
        buffer_batches: int = LENGTH_GROUPING_BATCHES,
        shuffle_buffer_size: int = 0,
        seed: int = 0,
        group_by_length: bool = True,
        length_column: str = "length",
        process_index: int = 0,
        num_processes: int = 1,
        prefetch: bool = True,
    ):
        from datasets import IterableDataset
        from datasets.distributed import split_dataset_by_node

        if not isinstance(documents, IterableDataset):
            raise TypeError(f"`documents` must be a datasets.IterableDataset, got {type(documents).__name__}.")
        if batch_size < 1 or buffer_batches < 1 or shuffle_buffer_size < 0:
            raise ValueError(
                "batch_size and buffer_batches must be positive and shuffle_buffer_size at least 0, got "
                f"{batch_size}, {buffer_batches} and {shuffle_buffer_size}."
            )
        if not 0 <= process_index < num_processes:
            raise ValueError(f"process_index {process_index} is not in [0, num_processes={num_processes}).")
        # datasets gives each process whole data sources (files, shards) when their number divides the processes,
        # else every num_processes-th document of all of them
        self.part = (
            f"{documents.num_shards // num_processes} of {documents.num_shards} data sources"
            if documents.num_shards % num_processes == 0
            else f"one document in {num_processes}"
        )
        self.documents = (
            split_dataset_by_node(documents, rank=process_index, world_size=num_processes)
            if num_processes > 1
            else documents
        )
        self.preprocess = preprocess
        self.batch_size = batch_size
        self.buffer_size = batch_size * buffer_batches
        self.shuffle_buffer_size = shuffle_buffer_size
        self.seed = seed
        self.epoch = 0
        self.group_by_length = group_by_length
        self.length_column = length_column
        self.process_index = process_index
        self.num_processes = num_processes
        self.prefetch = prefetch

    def set_epoch(self, epoch: int) -> None:
        """The shuffle takes another order in each epoch."""
        self.epoch = epoch
        self.documents.set_epoch(epoch)

    def __iter__(self):
        # data loader workers read the stream in turns of a buffer: each tokenizes its own buffers, and a buffer's
        # batches come out whole (the loader takes a batch from each worker in turn). `iter` reads the whole stream
        # in every worker (iterating the dataset itself would give each worker whole data sources, and nothing to
        # the workers beyond their number)
        worker = torch.utils.data.get_worker_info()
        worker_id, workers = (worker.id, worker.num_workers) if worker is not None else (0, 1)
        buffers = (self._tokenized(rows) for rows in self._buffers(worker_id, workers))
        for features, order in _prefetched(buffers) if self.prefetch else buffers:
            for i in order:
                yield {name: values[i] for name, values in features.items()}

    def _buffers(self, worker_id: int, workers: int):
        """The raw rows of this worker's buffers, a list per buffer."""
        rows, number = [], 0
        for row in self._shuffled_rows():
            rows.append(row)
            if len(rows) == self.buffer_size:
                if number % workers == worker_id:
                    yield rows
                rows, number = [], number + 1
        if rows and number % workers == worker_id:
            yield rows

    def _shuffled_rows(self):
        # `datasets`' own shuffle buffer read 10,000 rows/s here against 230,000 for its batches (its rows leave the
        # Arrow batches one at a time), slower than HAN trains on 2 cores: the stream is read in batches and
        # shuffled here
        generator = np.random.default_rng([self.seed, self.epoch])
        buffer = []
        for batch in self.documents.iter(batch_size=1000):
            names = list(batch)
            for values in zip(*batch.values()):
                row = dict(zip(names, values))
                if len(buffer) < self.shuffle_buffer_size:
                    buffer.append(row)
                    continue
                if not self.shuffle_buffer_size:
                    yield row
                    continue
                i = int(generator.integers(self.shuffle_buffer_size))
                yield buffer[i]
                buffer[i] = row
        for i in generator.permutation(len(buffer)):
            yield buffer[i]

    def _tokenized(self, rows: list[dict]) -> tuple[dict, np.ndarray]:
        """A buffer's features and the order in which its rows are yielded."""
        features = self.preprocess({name: [row[name] for row in rows] for name in rows[0]})
        count = len(next(iter(features.values())))
        if count != len(rows):
            raise ValueError(f"`preprocess` returned {count} rows for a buffer of {len(rows)}.")
        order = np.arange(count)
        if self.group_by_length:
            if self.length_column not in features:
                raise ValueError(
                    f"Grouping a stream by length needs a {self.length_column!r} feature (tokenize with "
                    f"return_length=True); `preprocess` gave {list(features)}."
                )
            order = self._grouped_order(np.asarray(features[self.length_column]))
        return features, order

    def _grouped_order(self, lengths: np.ndarray) -> np.ndarray:
        # the seed and the lengths give a buffer its own order, the same when the stream is read again
        digest = hashlib.blake2b(lengths.astype(np.int64).tobytes(), digest_size=8).digest()
        generator = np.random.default_rng([self.seed, int.from_bytes(digest, "little")])
        order = generator.permutation(len(lengths))  # random among equal lengths ...
        order = order[np.argsort(lengths[order], kind="stable")]  # ... then by length
        full = len(order) // self.batch_size * self.batch_size
        batches = order[:full].reshape(-1, self.batch_size)[generator.permutation(full // self.batch_size)]
        # a short last batch (the stream's end) stays last, so that the data loader's batches keep to the buffer's
        return np.concatenate([batches.reshape(-1), order[full:]])


def _prefetched(items, ahead: int = 1):
    """
    `items` (an iterator) produced in a thread, at most `ahead` items beyond the one being read; its exceptions are
    raised in the reader, and the thread stops when the reader stops early (closes or drops this generator).
    """
    produced, slots, stop, done = queue.Queue(), threading.Semaphore(ahead), threading.Event(), object()

    def produce():
        iterator = iter(items)
        while True:
            while not slots.acquire(timeout=0.1):  # the reader has not taken the last item yet
                if stop.is_set():
                    return
            if stop.is_set():
                return
            try:
                produced.put((next(iterator), None))
            except StopIteration:
                produced.put((done, None))
                return
            except BaseException as error:  # raised again in the reader
                produced.put((done, error))
                return

    thread = threading.Thread(target=produce, name="HANDocumentStream-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item, error = produced.get()
            if error is not None:
                raise error
            if item is done:
                return
            slots.release()  # the thread may make the next item while this one is read
            yield item
    finally:
        stop.set()
        thread.join()


__all__ = ["LENGTH_GROUPING_BATCHES", "HANDocumentStream"]
