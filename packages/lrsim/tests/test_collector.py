"""A sweep worker freezes the imported libraries' objects once; what runs create stays collectable,
and a finished run's custom gradients do not keep its graphs alive."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import weakref

FREEZE_TWICE_THEN_COLLECT = """
import gc, json
from lrsim.collector import freeze_imported_objects

first = freeze_imported_objects()
frozen = gc.get_freeze_count()
second = freeze_imported_objects()

class Node:
    pass

node = Node()
node.self = node  # a reference cycle made after the freeze: only a collection frees it
del node
print(json.dumps({"first": first, "second": second, "frozen": frozen,
                  "frozen_after_second": gc.get_freeze_count(), "collected": gc.collect()}))
"""


def test_the_libraries_are_frozen_once_and_garbage_made_later_is_still_collected():
    done = subprocess.run([sys.executable, "-c", FREEZE_TWICE_THEN_COLLECT], check=True, capture_output=True,
                          text=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["first"] is True and result["second"] is False
    assert result["frozen"] > 100_000  # TensorFlow, Keras and pandas are imported and frozen
    assert result["frozen_after_second"] == result["frozen"]
    assert result["collected"] >= 1


def _traced_custom_gradient():
    """A compiled function with a custom gradient, traced once; returns a weak reference to its graph."""
    import tensorflow as tf

    @tf.function
    def doubled(x):
        @tf.custom_gradient
        def double(y):
            return 2.0 * y, lambda dy: 2.0 * dy

        return double(x)

    return weakref.ref(doubled.get_concrete_function(tf.TensorSpec([], tf.float32)).graph)


def _gradient_names() -> set[str]:
    from tensorflow.python.framework import ops

    return set(ops._gradient_registry.list())


def test_custom_gradients_registered_in_the_block_are_forgotten_and_their_graphs_freed():
    from lrsim.collector import custom_gradients_released

    kept = _traced_custom_gradient()  # traced outside any block: TensorFlow keeps its graph
    gc.collect()
    assert kept() is not None
    before = _gradient_names()
    with custom_gradients_released():
        released = _traced_custom_gradient()
        registered = _gradient_names() - before
    gc.collect()
    assert any(name.startswith("CustomGradient-") for name in registered)
    assert _gradient_names() == before
    assert released() is None
    assert kept() is not None


def test_runs_one_after_another_in_one_process_train_and_leave_no_gradients_behind(tmp_path):
    from lrsim.run import execute_run
    from lrsim.spec import RunSpec

    before = _gradient_names()
    statuses = []
    for seed in (0, 1):  # feedback alignment: every layer's backward pass is a custom gradient
        spec = RunSpec(rule="fa", architecture="knet4", task="digits", batch_size=64, model_seed=seed, dataset_seed=0,
                       width=0.25, epochs=2, checkpoints=2, probe_size=16)
        statuses.append(execute_run(spec, tmp_path / f"run{seed}", progress=False).status)
    assert statuses == ["complete", "complete"]
    assert _gradient_names() == before


def test_overlapping_blocks_keep_every_gradient_until_the_last_one_ends():
    from lrsim.collector import custom_gradients_released

    before = _gradient_names()
    with custom_gradients_released():
        first = _traced_custom_gradient()
        with custom_gradients_released():  # a second run starting while the first goes on
            second = _traced_custom_gradient()
        gc.collect()
        assert first() is not None and second() is not None
        assert len(_gradient_names() - before) >= 2
    gc.collect()
    assert _gradient_names() == before
    assert first() is None and second() is None
