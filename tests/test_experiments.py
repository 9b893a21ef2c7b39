"""The commands behind the committed artefacts (``course krr-curves`` and the rest), each on a tiny
input, against references computed here without the course's code: scikit-learn's KernelRidge,
the stationarity of a minimum, a figure's pixel size."""
import json
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT
from course import cli, reproduce
from course.models.krr_qm9 import PROPERTIES
from test_cli import run_course

COMMANDS = ("krr-curves", "krr-nystrom", "krr-summary", "cmb-baselines", "cmb-figure", "landscapes")


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_explains_itself_with_an_example(command):
    done = run_course(command, "--help")
    assert done.returncode == 0, done.stderr
    assert "example: " in done.stdout and f"course {command}" in done.stdout
    listed = run_course("--help").stdout
    assert command in listed


def test_an_unknown_representation_is_named_without_a_traceback():
    done = run_course("krr-curves", "--representations", "soap")
    assert done.returncode == 2 and "soap" in done.stderr and "cm, bob" in done.stderr


def exact_krr_mae(X, y, X_test, y_test, sigma, lam):
    """Test MAE of scikit-learn's KRR with the Laplacian kernel on centred targets."""
    from sklearn.kernel_ridge import KernelRidge

    model = KernelRidge(alpha=lam, kernel="laplacian", gamma=1 / sigma).fit(X, y - y.mean())
    return float(np.abs(model.predict(X_test) + y.mean() - y_test).mean())


@pytest.fixture(scope="module")
def small_krr_run(tmp_path_factory):
    """``course krr-curves`` on 250 and 500 molecules (BOB and CM), its rows in a results file."""
    out = tmp_path_factory.mktemp("krr")
    done = run_course("krr-curves", "--budget", "quick", "--max-n", "500", "--cv-n", "200", "--test-size", "100",
                      "--out", str(out), "--results", str(out))
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture(scope="module")
def qm9_data():
    from course.data import qm9

    return qm9.load(verbose=False)


def test_krr_curves_match_scikit_learn_and_are_listed_with_module_2(small_krr_run, qm9_data):
    from course.features.qm9_vectors import vectors
    from course.models.krr_qm9 import train_test_ids

    record = json.loads((small_krr_run / "krr_learning_curves.json").read_text())
    assert record["train_sizes"] == [250, 500] and list(record["results"]) == ["cm", "bob"]
    assert (small_krr_run / "krr_learning_curves.png").stat().st_size > 10_000
    train, test = train_test_ids(qm9_data, 500, 100)
    for rep in ("cm", "bob"):
        curve = record["results"][rep]["alpha"]
        X, X_test = vectors(qm9_data, train, rep), vectors(qm9_data, test, rep)
        y, y_test = (qm9_data.table.loc[ids, "alpha_bohr3"].to_numpy() for ids in (train, test))
        for n, mae in zip(curve["n"], curve["mae"]):
            assert mae == pytest.approx(exact_krr_mae(X[:n], y[:n], X_test, y_test, curve["sigma"], curve["lam"]),
                                        rel=1e-6), (rep, n)
    data = reproduce.load_results(small_krr_run)
    assert list(data["modules"]) == ["02-kernels (quick budget, course krr-curves)"]
    rows = reproduce.rows_of(data, ["02-kernels"])
    assert len(rows) == 9 and {row.module for row in rows} == {"02-kernels (quick budget)"}
    assert reproduce.rows_of(data, ["03-neural-networks"]) == []


def test_the_committed_full_budget_rows_belong_to_module_2():
    data = reproduce.load_results(ROOT / "solutions")
    full = [row for row in reproduce.rows_of(data, ["02-kernels"]) if row.module == "02-kernels (full budget)"]
    assert len(full) == 9 and all(row.holds for row in full)
    assert data["modules"]["02-kernels (full budget, course krr-curves)"]["command"] == "course krr-curves"


def test_nystrom_with_every_molecule_a_centre_is_exact_krr(small_krr_run, qm9_data, tmp_path):
    from course.features.qm9_vectors import vectors
    from course.models.krr_qm9 import train_test_ids

    done = run_course("krr-nystrom", "--n-train", "250", "--centres", "50", "250", "--n-val", "100",
                      "--representations", "bob", "--exact", str(small_krr_run / "krr_learning_curves.json"),
                      "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    record = json.loads((tmp_path / "nystrom_study.json").read_text())
    assert record["centres"] == [50, 250] and list(record["results"]) == ["bob"]
    row = record["results"]["bob"]["U0"]
    exact = json.loads((small_krr_run / "krr_learning_curves.json").read_text())["results"]["bob"]["U0"]
    assert row["exact_test_mae_same_n"] == exact["mae"][0]  # the exact run's N = 250
    train, test = train_test_ids(qm9_data, 250, 2000)
    X, X_test = vectors(qm9_data, train, "bob"), vectors(qm9_data, test, "bob")
    y, y_test = (qm9_data.table.loc[ids, "U0_atom_eV"].to_numpy() for ids in (train, test))
    assert row["test_mae"][1] == pytest.approx(exact_krr_mae(X, y, X_test, y_test, row["sigma"], row["lam"][1]),
                                               rel=1e-5)


def test_a_stopped_nystrom_run_resumes_keeping_its_finished_passes(small_krr_run, qm9_data, tmp_path):
    from course.experiments import krr_nystrom

    exact = small_krr_run / "krr_learning_curves.json"
    options = dict(n_train=250, centres=[50, 250], n_val=100, representations=["cm"], data=qm9_data)
    whole = krr_nystrom.run(tmp_path / "whole", exact, **options)["results"]["cm"]
    # A run stopped after its first pass (m = 50) of each σ; a marked value shows whether it is kept.
    stopped = {prop: {key: (value[:1] if isinstance(value, list) else value) for key, value in row.items()}
               for prop, row in whole.items()}
    for row in stopped.values():
        row["val_mae"] = [-1.0]
    resumed_dir = tmp_path / "resumed"
    resumed_dir.mkdir()
    protocol = {"n_train": 250, "n_val": 100, "centres": [50, 250]}
    (resumed_dir / krr_nystrom.PARTIAL_NAME).write_text(json.dumps({"protocol": protocol, "results": {"cm": stopped}}))
    resumed = krr_nystrom.run(resumed_dir, exact, **options)["results"]["cm"]
    for prop, row in resumed.items():
        assert row["m"] == [50, 250] and row["val_mae"][0] == -1.0  # kept, not run again
        assert row["test_mae"][1] == whole[prop]["test_mae"][1]  # the missing pass, as in the whole run
    assert not (resumed_dir / krr_nystrom.PARTIAL_NAME).exists()
    (resumed_dir / krr_nystrom.PARTIAL_NAME).write_text(json.dumps({"protocol": {**protocol, "n_val": 50},
                                                                    "results": {"cm": stopped}}))
    with pytest.raises(ValueError, match="another protocol"):
        krr_nystrom.run(resumed_dir, exact, **options)


def test_n_train_is_a_count_or_all():
    done = run_course("krr-nystrom", "--n-train", "none")
    assert done.returncode == 2 and "'all'" in done.stderr and "'none'" in done.stderr

def test_cmb_baselines_on_a_few_spectra(tmp_path):
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    from course.data import cmb

    with np.load(cmb.DEFAULT_PATH, allow_pickle=False) as shipped:
        arrays = {key: shipped[key] for key in shipped.files}
    for key in ("D_ell_TT", "D_ell_EE", "label", "class_id", "params"):
        arrays[key] = arrays[key][:200]
    np.savez(tmp_path / "small.npz", **arrays)
    done = run_course("cmb-baselines", "--data", str(tmp_path / "small.npz"), "--out", str(tmp_path / "auc.json"))
    assert done.returncode == 0, done.stderr
    result = json.loads((tmp_path / "auc.json").read_text())
    assert result["n_spectra"] == 200 and len(result["validation_auc"]) == 4
    # the raw logistic regression by hand: the stratified 150/50 split, AUC as the Mann-Whitney statistic
    X, y = np.hstack([arrays["D_ell_TT"], arrays["D_ell_EE"]]), arrays["label"]
    train, val = train_test_split(np.arange(200), test_size=50, stratify=y, random_state=0)
    score = LogisticRegression(max_iter=1000).fit(X[train], y[train]).predict_proba(X[val])[:, 1]
    positive, negative = score[y[val] == 1], score[y[val] == 0]
    auc = ((positive[:, None] > negative[None, :]).mean() + 0.5 * (positive[:, None] == negative[None, :]).mean())
    assert result["validation_auc"]["logistic_raw"] == pytest.approx(auc, abs=5e-5)


def test_cmb_figure_is_drawn_at_its_size(tmp_path):
    pytest.importorskip("camb", reason="the figure's bottom row needs CAMB (test extras)")
    from PIL import Image

    done = run_course("cmb-figure", "--out", str(tmp_path / "spectra.png"))
    assert done.returncode == 0, done.stderr
    assert Image.open(tmp_path / "spectra.png").size == (11 * 110, 8 * 110)


def test_landscapes_are_stationary_points_of_the_network(tmp_path, monkeypatch, capsys):
    from course.landscape import explore

    settings = {**explore.COMMITTED["breast-cancer"], "n_hops": 3, "max_minima": 3}
    monkeypatch.setitem(explore.COMMITTED, "breast-cancer", settings)
    assert cli.main(["landscapes", "--out", str(tmp_path)]) == 0
    assert "breast-cancer: " in capsys.readouterr().out
    land = explore.Landscape.load(tmp_path / "breast-cancer.npz")
    net = explore.committed_network("breast-cancer")
    assert land.minima
    for x, energy in zip(land.minima, land.energies):
        loss, gradient = net.loss_and_gradient(x)
        assert loss == pytest.approx(energy, rel=1e-9) and np.linalg.norm(gradient) < 1e-3
        assert np.linalg.eigvalsh(net.hessian(x)).min() > -1e-4  # a minimum, up to finite differences
    assert cli.main(["landscapes", "nowhere", "--out", str(tmp_path)]) == 2


def test_distances_kept_in_a_file_give_the_same_curves(qm9_data, monkeypatch):
    """Above SCRATCH_IN_MEMORY_BYTES the training distances go to a temporary file (memory for the
    kernel at N = 40,000): same curves to the bit, and the file is gone afterwards."""
    from course.models import krr_qm9

    def curves():
        return krr_qm9.learning_curves(qm9_data, [100, 200], cv_n=100, test_size=50, representations=["cm"],
                                       log=lambda line: None)

    in_memory = curves()
    created, mapped = [], np.lib.format.open_memmap
    monkeypatch.setattr(krr_qm9, "SCRATCH_IN_MEMORY_BYTES", 0)
    monkeypatch.setattr(np.lib.format, "open_memmap", lambda path, **kw: created.append(path) or mapped(path, **kw))
    in_file = curves()
    assert len(created) == 1 and not Path(created[0]).exists()
    for prop, row in in_memory["cm"].items():
        assert in_file["cm"][prop]["mae"] == row["mae"]


def test_krr_summary_takes_the_m_chosen_on_validation_and_lists_six_rows(small_krr_run, tmp_path):
    from course.experiments import krr_summary

    exact = small_krr_run / "krr_learning_curves.json"
    done = run_course("krr-nystrom", "--n-train", "250", "--centres", "25", "50", "--n-val", "100",
                      "--exact", str(exact), "--out", str(tmp_path / "all"))
    assert done.returncode == 0, done.stderr
    study = json.loads((tmp_path / "all" / "nystrom_study.json").read_text())
    done = run_course("krr-summary", "--exact", str(exact), "--nystrom", str(tmp_path / "all" / "nystrom_study.json"),
                      "--out", str(tmp_path), "--results", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / krr_summary.FIGURE_NAME).stat().st_size > 10_000
    entry = reproduce.load_results(tmp_path)["modules"][krr_summary.results_key(250)]
    assert len(entry["rows"]) == 6
    for row in entry["rows"]:
        rep = "bob" if row["metric"].startswith("BOB") else "cm"
        prop = next(p for p, (_, label, _) in PROPERTIES.items() if f" {label} " in row["metric"])
        fit = study["results"][rep][prop]
        k = int(np.argmin(fit["val_mae"]))  # chosen on validation, whatever the test MAE says
        assert row["achieved"] == round(fit["test_mae"][k], 6) and f"m = {fit['m'][k]} " in row["metric"]
        assert row["holds"] == (row["achieved"] <= row["target"])


def test_krr_summary_names_a_missing_file(tmp_path):
    done = run_course("krr-summary", "--exact", str(tmp_path / "none.json"), "--nystrom", str(tmp_path / "no.json"))
    assert done.returncode != 0 and "none.json: no such results file" in done.stderr
