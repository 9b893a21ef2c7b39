"""Which LRP rule goes on which layer: by layer name or by position among the layers that take a rule."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import keras

from course.explain.backward import backward_for
from course.explain.rules import Rule


class Composite:
    """Different rules for different layers.

    ``rules`` maps a layer's name, or its position among the layers that take a rule (the dense
    layers: 0 is the first, −1 the last), to its rule; ``default`` covers the others. The recipe of
    Montavon et al. (2019): a rule for the input domain at the bottom (z^B for bounded inputs, or
    flat or w²), LRP-γ on the lower hidden layers, LRP-ε in the middle and LRP-0 at the top:

    >>> from course.explain.rules import Epsilon, Gamma, LRP0
    >>> Composite({0: Gamma(0.25), -1: LRP0()}, default=Epsilon(0.25)).rules_for(["in", "hidden", "out"])
    [Gamma(gamma=0.25), Epsilon(epsilon=0.25), LRP0()]
    """

    def __init__(self, rules: Mapping[int | str, Rule], default: Rule) -> None:
        self.rules = dict(rules)
        self.default = default

    def __repr__(self) -> str:
        return f"Composite({self.rules!r}, default={self.default!r})"

    def assign(self, layers: Sequence[keras.layers.Layer]) -> list[Rule | None]:
        """The rule of every layer of the chain (``None`` for layers that take none)."""
        with_rule = [i for i, layer in enumerate(layers) if backward_for(layer)[1]]
        rules = dict(zip(with_rule, self.rules_for([layers[i].name for i in with_rule])))
        return [rules.get(i) for i in range(len(layers))]

    def rules_for(self, names: Sequence[str]) -> list[Rule]:
        """The rules of the layers that take one, given their (distinct) names from input to output.

        Networks that are not chains (``course.explain.lrp_weave``) list their layers here themselves."""
        positions = {name: i for i, name in enumerate(names)}
        chosen: dict[int, Rule] = {}
        for key, rule in self.rules.items():
            if isinstance(key, str):
                if key not in positions:
                    raise ValueError(f"no layer that takes a rule is named {key!r}; they are {sorted(positions)}")
                i = positions[key]
            elif -len(names) <= key < len(names):
                i = key % len(names)
            else:
                raise ValueError(f"rule position {key} is out of range: the model has {len(names)} layers "
                                 "that take a rule")
            if i in chosen:
                raise ValueError(f"layer {names[i]!r} is given two rules")
            chosen[i] = rule
        return [chosen.get(i, self.default) for i in range(len(names))]


def as_composite(rule: Rule | Composite) -> Composite:
    """``rule`` itself if it is a Composite, else the Composite that gives every layer ``rule``."""
    return rule if isinstance(rule, Composite) else Composite({}, default=rule)
