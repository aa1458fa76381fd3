"""A sweep worker freezes the imported libraries' objects once; what runs create stays collectable."""

from __future__ import annotations

import json
import subprocess
import sys

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
