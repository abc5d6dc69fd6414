"""Declarative constraints on the settings of ``params.yaml``, in the manner of scikit-learn's
``_parameter_constraints``: a section declares once what each key must be (a number in an interval, one of some
names, a list of such, a name defined elsewhere in the file, a mapping with exact keys) and the cross-key rules it
obeys; :func:`check` walks a declaration and generates the one-line error from it."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from medal.errors import UserError


def _fail(where: str, problem: str) -> UserError:
    return UserError(f"params.yaml: {where} {problem}")


def _number(value: Any, kind: type) -> bool:
    if isinstance(value, bool):
        return False
    if kind is int:
        return isinstance(value, int)
    return isinstance(value, (int, float)) and math.isfinite(value)


class Document:
    """What a constraint may read of the whole file besides its own value: the names defined at a dotted path, and
    whether a cross-key :class:`Rule` holds (with its error line)."""

    def __init__(self, settings: dict[str, Any]):
        self._settings = settings

    def names(self, source: str) -> list[str]:
        """The keys of the mapping, or the items of the list, at ``source`` (``learners``, ``study.strategies``)."""
        node: Any = self._settings
        for part in source.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        return list(node) if isinstance(node, (dict, list)) else []

    def check_rule(self, rule: Rule) -> None:
        """Raise the rule's error line unless it holds."""
        if not rule.holds(self._settings):
            raise _fail(rule.where, rule.requirement.format(**self._settings))


class Constraint:
    """What one value must be: :meth:`describe` says it, :meth:`check` raises naming ``where`` when it is not."""

    def describe(self) -> str:
        raise NotImplementedError

    def holds(self, value: Any, document: Document) -> bool:
        raise NotImplementedError

    def check(self, value: Any, document: Document, where: str) -> None:
        if not self.holds(value, document):
            raise _fail(where, f"must be {self.describe()}, got {value!r}")


@dataclass(frozen=True)
class Interval(Constraint):
    """A number of ``kind`` (int or float) between ``low`` and ``high`` (None: unbounded), ``closed`` naming the
    included ends: "both", "left", "right" or "neither"."""

    kind: type
    low: float | None
    high: float | None
    closed: str = "both"

    def holds(self, value: Any, document: Document) -> bool:
        if not _number(value, self.kind):
            return False
        left, right = self.closed in ("both", "left"), self.closed in ("both", "right")
        above = self.low is None or (value >= self.low if left else value > self.low)
        below = self.high is None or (value <= self.high if right else value < self.high)
        return above and below

    def describe(self) -> str:
        noun = "an integer" if self.kind is int else "a number"
        if self.high is None:
            if self.kind is int and self.low == 1:
                return "a positive integer"
            if self.low is None:
                return noun
            return f"{noun} {'at least' if self.closed in ('both', 'left') else 'above'} {self.low}"
        low = "-inf" if self.low is None else self.low
        brackets = {"both": "[]", "left": "[)", "right": "(]", "neither": "()"}[self.closed]
        return f"{noun} in {brackets[0]}{low}, {self.high}{brackets[1]}"


POSITIVE_INT = Interval(int, 1, None)
SEED = Interval(int, 0, None)
SHARE = Interval(float, 0, 1, "neither")


@dataclass(frozen=True)
class Options(Constraint):
    """One of a fixed set of values."""

    values: Sequence[Any]

    def holds(self, value: Any, document: Document) -> bool:
        return not isinstance(value, (dict, list)) and value in self.values

    def describe(self) -> str:
        return f"one of {', '.join(map(str, self.values))}"


@dataclass(frozen=True)
class Predicate(Constraint):
    """A value ``test`` accepts, described in words."""

    test: Callable[[Any], bool]
    description: str

    def holds(self, value: Any, document: Document) -> bool:
        return self.test(value)

    def describe(self) -> str:
        return self.description


@dataclass(frozen=True)
class AnyOf(Constraint):
    """A value at least one of ``options`` accepts."""

    options: tuple[Constraint, ...]

    def holds(self, value: Any, document: Document) -> bool:
        return any(option.holds(value, document) for option in self.options)

    def describe(self) -> str:
        return " or ".join(option.describe() for option in self.options)


@dataclass(frozen=True)
class NameOf(Constraint):
    """A name defined elsewhere in the file: a key of the mapping, or an item of the list, at ``source`` (a dotted
    path such as ``learners`` or ``study.strategies``)."""

    source: str
    singular: str

    def holds(self, value: Any, document: Document) -> bool:
        return isinstance(value, str) and value in document.names(self.source)

    def describe(self) -> str:
        return f"a {self.singular} named in {self.source}"

    def check(self, value: Any, document: Document, where: str) -> None:
        if not self.holds(value, document):
            valid = ", ".join(sorted(map(str, document.names(self.source))))
            raise _fail("unknown", f"{self.singular} '{value}' in {where}; valid: {valid}")


@dataclass(frozen=True)
class ListOf(Constraint):
    """A list of at least ``min_items`` values, each meeting ``item``."""

    item: Constraint
    min_items: int = 1

    def holds(self, value: Any, document: Document) -> bool:
        return isinstance(value, list) and len(value) >= self.min_items

    def describe(self) -> str:
        size = "a non-empty list" if self.min_items == 1 else "a list"
        return f"{size} (each value {self.item.describe()})"

    def check(self, value: Any, document: Document, where: str) -> None:
        if not self.holds(value, document):
            raise _fail(where, f"must be {self.describe()}, got {value!r}")
        for item in value:
            self.item.check(item, document, where if isinstance(self.item, NameOf) else f"{where} values")


@dataclass(frozen=True)
class MappingOf(Constraint):
    """A non-empty mapping from names to values, each meeting ``value``."""

    value: Constraint
    description: str

    def holds(self, value: Any, document: Document) -> bool:
        return isinstance(value, dict) and bool(value)

    def describe(self) -> str:
        return self.description

    def check(self, value: Any, document: Document, where: str) -> None:
        if not self.holds(value, document):
            raise _fail(where, f"must be {self.describe()}")
        for name, entry in value.items():
            self.value.check(entry, document, f"{where}.{name}")


@dataclass(frozen=True)
class Rule:
    """A requirement across keys: ``holds(settings)`` (the whole file) or the error "``where`` ``requirement``", the
    requirement formatted with the file's sections (``{al[budget]}`` reads al.budget)."""

    where: str
    holds: Callable[[dict[str, Any]], bool]
    requirement: str


@dataclass(frozen=True)
class Keys(Constraint):
    """A mapping with the keys of ``required``, maybe those of ``optional`` and no other, each meeting its
    constraint; ``rules`` are checked once every key holds."""

    required: dict[str, Constraint]
    optional: dict[str, Constraint] = field(default_factory=dict)
    rules: tuple[Rule, ...] = ()

    def holds(self, value: Any, document: Document) -> bool:
        return isinstance(value, dict)

    def describe(self) -> str:
        return f"a mapping with exactly {', '.join(self.required)}"

    def check(self, value: Any, document: Document, where: str) -> None:
        known = {**self.required, **self.optional}
        if not isinstance(value, dict):
            raise _fail(where, "must be a mapping of keys to values")
        if not self.optional and set(value) != set(self.required):
            raise _fail(where, f"must set exactly {', '.join(self.required)}")
        for key in self.required:
            if key not in value:
                raise _fail(where, f"is missing key '{key}'; it takes {', '.join(known)}")
        for key in value:
            if key not in known:
                raise UserError(f"params.yaml: unknown key '{where}.{key}'; valid: {', '.join(sorted(known))}")
        for key, constraint in known.items():
            if key in value:
                constraint.check(value[key], document, f"{where}.{key}")
        for rule in self.rules:
            document.check_rule(rule)


def check(settings: dict[str, Any], sections: dict[str, Constraint]) -> None:
    """Check each declared section present in ``settings`` (the whole file), in declaration order."""
    document = Document(settings)
    for name, declaration in sections.items():
        if name in settings:
            declaration.check(settings[name], document, name)
