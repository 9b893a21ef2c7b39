"""`course predict`: committed weave weights, XYZ in, α and ZPVE out, no training."""
import numpy as np
import pytest

from course import cli
from course.data import qm9
from course.features import qm9_graphs
from course.models import weave_predict
from course.models.weave_data import WeaveData
from course.models.weave_training import PROPERTIES, predict


def _write_xyz(path, mol, comment):
    conf = mol.GetConformer()
    lines = [str(mol.GetNumAtoms()), comment]
    for atom in mol.GetAtoms():
        p = conf.GetAtomPosition(atom.GetIdx())
        lines.append(f"{atom.GetSymbol()} {p.x:.8f} {p.y:.8f} {p.z:.8f}")
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def test_molecules(tmp_path_factory):
    data = qm9.load(verbose=False)
    _, test = data.split(test_fold=0)
    picked = np.random.default_rng(0).choice(test[data.usable.loc[test].to_numpy()], 12, replace=False)
    folder = tmp_path_factory.mktemp("xyz")
    files = []
    for idx in picked:
        _write_xyz(folder / f"{idx}.xyz", data.mol(int(idx)), f"QM9 {idx}")
        files.append(folder / f"{idx}.xyz")
    return data, picked, files


@pytest.mark.parametrize("prop", list(PROPERTIES))
def test_predictions_are_near_dft_at_the_model_error_scale(test_molecules, prop):
    data, picked, files = test_molecules
    column = PROPERTIES[prop][0]
    predicted = np.array([weave_predict.predict_xyz(f, (prop,))[0].value for f in files])
    record = weave_predict.load_model(weave_predict.model_record(prop, prefer="full"))[1]
    error = np.abs(predicted - data.table.loc[picked, column].to_numpy()).mean()
    assert error < 3 * record["test_mae"], (error, record["test_mae"])


def test_xyz_route_equals_the_training_pipeline(test_molecules):
    # Bonds perceived from the file and features built on the fly must give what training saw.
    data, picked, files = test_molecules
    model, _ = weave_predict.load_model(weave_predict.model_record("alpha", prefer="full"))
    weave_data = WeaveData.from_qm9(qm9_graphs.for_indices(data, picked), data, picked)
    cached = predict(model, weave_data, weave_data.rows(np.sort(picked)))
    by_index = dict(zip(np.sort(picked), cached))
    from_files = [weave_predict.predict_xyz(f, ("alpha",))[0].value for f in files]
    np.testing.assert_allclose(from_files, [by_index[i] for i in picked], rtol=1e-4)


def test_cli_prints_both_properties_with_units_and_names_bad_files(test_molecules, tmp_path, capsys):
    assert cli.main(["predict", str(test_molecules[2][0])]) == 0
    out = capsys.readouterr().out
    assert "alpha:" in out and "bohr³" in out and "zpve:" in out and " eV" in out and "test MAE" in out
    bad = tmp_path / "bad.xyz"
    bad.write_text("2\ncomment\nC 0 0 0\nXx 1 1 1\n")
    assert cli.main(["predict", str(bad)]) == 2
    assert "bad.xyz, line 4" in capsys.readouterr().err
    assert cli.main(["predict", str(tmp_path / "missing.xyz")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_molecules_outside_qm9s_sizes_are_flagged(tmp_path):
    methane = tmp_path / "methane.xyz"
    methane.write_text("5\nmethane\nC 0 0 0\nH 0.629 0.629 0.629\nH -0.629 -0.629 0.629\n"
                       "H -0.629 0.629 -0.629\nH 0.629 -0.629 -0.629\n")
    (prediction,) = weave_predict.predict_xyz(methane, ("alpha",))
    assert len(prediction.warnings) == 1 and "1 heavy atom" in prediction.warnings[0]
    assert "warning: 1 heavy atom" in str(prediction)
    assert weave_predict.domain_warnings(list("CCCNOH")) == []  # 5 heavy atoms: inside QM9
    assert "at most 9" in weave_predict.domain_warnings(["C"] * 10 + ["H"] * 12)[0]


def test_notebooks_take_their_budgets_model_and_predict_takes_the_full_one(tmp_path, monkeypatch):
    for name in ("weave_alpha_fold0_quick.json", "weave_alpha_fold0_full.json", "weave_zpve_fold0_quick.json"):
        (tmp_path / name).write_text("{}")
    monkeypatch.setenv("COURSE_BUDGET", "quick")
    assert weave_predict.model_record("alpha", tmp_path).name == "weave_alpha_fold0_quick.json"
    assert weave_predict.model_record("alpha", tmp_path, prefer="full").name == "weave_alpha_fold0_full.json"
    monkeypatch.setenv("COURSE_BUDGET", "full")
    assert weave_predict.model_record("alpha", tmp_path).name == "weave_alpha_fold0_full.json"
    assert weave_predict.model_record("zpve", tmp_path).name == "weave_zpve_fold0_quick.json"  # the fallback
    with pytest.raises(ValueError, match="prefer"):
        weave_predict.model_record("alpha", tmp_path, prefer="gpu")
