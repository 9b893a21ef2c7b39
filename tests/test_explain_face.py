"""The public face of ``course.explain``: cheap to import, every listed name resolves, one result base."""
import subprocess
import sys

import numpy as np
import pytest

import course.explain
from conftest import ROOT
from course.explain.attribution import Attribution


def test_importing_the_face_imports_no_deep_learning_or_explainer_package():
    probe = ("import sys, course.explain; "
             "print(sorted(m for m in ('tensorflow', 'keras', 'torch', 'jax', 'shap', 'lime') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True)
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("name", course.explain.__all__)
def test_every_public_name_resolves_to_the_object_of_its_module(name):
    value = getattr(course.explain, name)
    module = sys.modules[f"course.explain.{course.explain._MODULE_OF[name]}"]
    assert value is getattr(module, name)
    assert name in dir(course.explain)


def test_an_unknown_name_is_an_attribute_error_and_submodules_still_import():
    with pytest.raises(AttributeError, match="no_such_name"):
        course.explain.no_such_name  # noqa: B018
    from course.explain import occlusion
    assert occlusion.windows(4, 2)[1].tolist() == [2, 3]


def test_every_explanation_result_derives_from_one_base():
    from course.explain import LRPResult, ShapleyValues, TypeRelevance, WeaveRelevance
    assert all(issubclass(cls, Attribution) for cls in (LRPResult, ShapleyValues, TypeRelevance, WeaveRelevance))


def test_completeness_gap_is_start_minus_attributed_and_absorbed_by_hand():
    from course.explain import LRPResult, ShapleyValues
    lrp = LRPResult(relevance=np.array([[1.0, 2.0], [0.5, 0.5]]), start=np.array([4.0, 1.0]), output=np.zeros(2, int),
                    bias={"a": np.array([0.5, 0.25]), "b": np.array([0.25, 0.0])},
                    stabilizer={"a": np.zeros(2), "b": np.array([0.0, 0.25])})
    np.testing.assert_allclose(lrp.absorbed(), [0.75, 0.5])
    np.testing.assert_allclose(lrp.completeness_gap(), [4 - 3 - 0.75, 1 - 1 - 0.5])
    shapley = ShapleyValues(values=np.array([[1.0, -2.0]]), base=np.array([3.0]), prediction=np.array([2.5]))
    np.testing.assert_allclose(shapley.completeness_gap(), [2.5 - (-1.0 + 3.0)])


def test_every_explanation_defaults_to_the_first_start_of_its_kind():
    import inspect

    from course.explain import (TypeRemoval, explain, explain_rows, explain_weave, gradient, gradient_times_input,
                                integrated_gradients)
    from course.explain.network import STARTS

    kinds = {"dense": (explain, gradient, gradient_times_input, integrated_gradients),
             "weave": (explain_weave, explain_rows, TypeRemoval)}
    for kind, functions in kinds.items():
        for function in functions:
            assert inspect.signature(function).parameters["start"].default == STARTS[kind][0], function.__name__
