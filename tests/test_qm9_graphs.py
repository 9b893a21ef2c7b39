"""The cached QM9 MG features: keyed to their QM9 cache, rebuilt when stale, indexed by QM9 index."""
import json

import numpy as np
import pytest

from course.data.qm9_cache import MANIFEST
from course.features import graph, qm9_graphs


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A cache folder with a QM9 manifest and a tiny MG feature file written for it."""
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path))
    folder = tmp_path / "qm9"
    folder.mkdir()
    (folder / MANIFEST).write_text(json.dumps({"npz_sha256": "abc"}))
    batch = graph.GraphBatch(atoms=np.ones((3, 21), np.float32), pair_bits=np.zeros((5, 12), np.uint8),
                             distances=np.ones(5, np.float32), n_atoms=np.array([1, 2]))
    np.savez_compressed(qm9_graphs.graphs_path(), indices=np.array([4, 9]), key=json.dumps(qm9_graphs._key(None)),
                        atoms=batch.atoms, pair_bits=batch.pair_bits, distances=batch.distances, n_atoms=batch.n_atoms)
    built = []
    monkeypatch.setattr(qm9_graphs, "build", lambda *a, **k: built.append(1) or "rebuilt")
    return folder, built


def test_valid_cache_is_used_and_indexed_by_qm9_index(cache):
    folder, built = cache
    graphs = qm9_graphs.load(verbose=False)
    assert not built and graphs.indices.tolist() == [4, 9] and len(graphs.batch) == 2
    assert graphs.rows(np.array([9, 4])).tolist() == [1, 0]
    with pytest.raises(KeyError, match="not in the MG features"):
        graphs.rows(np.array([5]))


def test_cache_of_another_qm9_build_is_rebuilt(cache, capsys):
    folder, built = cache
    (folder / MANIFEST).write_text(json.dumps({"npz_sha256": "def"}))
    assert qm9_graphs.load() == "rebuilt" and built
    assert "another QM9 cache" in capsys.readouterr().out


def test_unreadable_cache_is_rebuilt(cache, capsys):
    folder, built = cache
    qm9_graphs.graphs_path().write_bytes(b"not an npz")
    assert qm9_graphs.load() == "rebuilt"
    assert "cannot be read" in capsys.readouterr().out


def test_forked_qm9_featurization_equals_featurize_many():
    from course.data import qm9

    data = qm9.load(verbose=False)  # the full cache, built once for the test session by test_qm9
    indices = data.table.index[data.usable.to_numpy()].to_numpy()[:200]
    forked = qm9_graphs._featurize_all(data, indices, n_jobs=2, progress=False)
    plain = graph.featurize_many([data.mol(i) for i in indices], n_jobs=1, progress=False)
    for name in ("atoms", "pair_bits", "distances", "n_atoms"):
        assert np.array_equal(getattr(forked, name), getattr(plain, name)), name


def test_features_for_a_few_molecules_equal_featurize_and_refuse_excluded_ones():
    from course.data import qm9

    data = qm9.load(verbose=False)
    usable = data.table.index[data.usable.to_numpy()].to_numpy()
    wanted = np.array([usable[50], usable[7], usable[300]])
    few = qm9_graphs.for_indices(data, wanted)
    np.testing.assert_array_equal(few.indices, np.sort(wanted))
    for row, idx in enumerate(few.indices):
        expected = graph.featurize(data.mol(int(idx)))
        np.testing.assert_array_equal(few.batch[row].atoms, expected.atoms)
        np.testing.assert_array_equal(few.batch[row].pair_bits, expected.pair_bits)
    excluded = int(data.table.index[~data.usable.to_numpy()][0])
    with pytest.raises(ValueError, match=str(excluded)):
        qm9_graphs.for_indices(data, [usable[0], excluded])
