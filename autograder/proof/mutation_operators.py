"""Two mutation operators Cosmic Ray lacks, for the mistakes systems code invites.

Cosmic Ray mutates expressions (operators, constants, conditions). The registry and pipeline
tasks fail differently: a student forgets a call (``os.fsync(fd)``, ``handle.flush()``, recording
a step) or the lock around a read-modify-write. These operators make those mutants, in Cosmic Ray's
``Operator`` interface, so they are listed and applied like its own.
"""

from __future__ import annotations

import parso
from cosmic_ray.operators.operator import Example, Operator


def _replacement(code: str, like) -> parso.tree.NodeOrLeaf:
    """``code`` parsed as an expression, with ``like``'s leading whitespace."""
    node = parso.parse(code).children[0]
    node.get_first_leaf().prefix = like.get_first_leaf().prefix
    return node


class RemoveCallStatement(Operator):
    """A statement that is only a call (``os.fsync(fd)``, ``log.append(x)``) becomes ``None``."""

    def mutation_positions(self, node):
        if (node.type in ("atom_expr", "power") and node.parent.type == "simple_stmt"
                and node.children[-1].type == "trailer" and node.children[-1].children[0].value == "("):
            yield node.start_pos, node.end_pos

    def mutate(self, node, index):
        return _replacement("None", node)

    @classmethod
    def examples(cls):
        return (Example("os.fsync(fd)\n", "None\n"),)


class RemoveContextManager(Operator):
    """``with lock(path):`` becomes ``with contextlib.nullcontext():`` (the block runs unguarded)."""

    def mutation_positions(self, node):
        if node.type == "with_stmt":
            for child in node.children:
                if child.type == "with_item" or child.type in ("atom_expr", "power"):
                    yield child.start_pos, child.end_pos

    def mutate(self, node, index):
        items = [c for c in node.children if c.type == "with_item" or c.type in ("atom_expr", "power")]
        item = items[index]
        target = item.children[0] if item.type == "with_item" else item
        replacement = _replacement('__import__("contextlib").nullcontext()', target)
        if item.type == "with_item":
            item.children[0] = replacement
        else:
            node.children[node.children.index(item)] = replacement
        return node

    @classmethod
    def examples(cls):
        return (Example("with lock(p):\n    pass\n", 'with __import__("contextlib").nullcontext():\n    pass\n'),)


OPERATORS = {"extra/RemoveCallStatement": RemoveCallStatement, "extra/RemoveContextManager": RemoveContextManager}
