"""The course command: release, check, reproduce and grade the course's notebooks; predict with them."""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

import nbformat

import course
from course import budget as budgets
from course import grading, paths, reproduce, results, run_all, workcopy

EXAMPLES = """\
examples:
  course reproduce --budget quick      execute every solution, print the results table
  course reproduce 1                   only Module 1 (also: 01, regression, 01-regression)
  course start 1                       copy Module 1's student notebook into work/ to solve it
  course release 01-regression         regenerate release/ after editing source/
  course check                         release/ in sync with source/, no solutions leaked
  course grade 1                       autograde autograde/submitted/*/01-regression/
  course predict molecule.xyz          α and ZPVE of a molecule with the course's weave models
  course site                          the executed solutions as a website in build/site/

A module is named by its folder (01-regression), its number (1, 01) or its name (regression);
without one, release, check, reproduce, start and site take every module.
"""
MODULE_HELP = "module folder, number or name (01-regression, 1, regression); none: every module"


def cmd_release(args: argparse.Namespace) -> int:
    root = paths.repo_root()
    for module in paths.resolve_modules(args.modules, root):
        tagged = run_all.tag_notebook(paths.notebook(module, "source", root))
        if tagged:
            print(f"source/{module}: tagged {len(tagged)} answer and check cell(s) {run_all.TAG!r} for Run All")
        with tempfile.TemporaryDirectory() as scratch:
            generated = grading.ScratchCourse(Path(scratch), root).generate(module)
            target = root / "release" / module
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(generated, target)
        print(f"release/{module}: regenerated from source/{module}")
    return 0


def _release_problems(module: str, root: Path) -> list[str]:
    """``grading.check_release``'s problems, with a release that was merely opened or run in
    Jupyter told apart from one that is out of date, and answer or check cells without the tag
    that lets Run All go on past them."""
    source = paths.notebook(module, "source", root)
    untagged = run_all.untagged_cells(nbformat.read(source, as_version=4))
    problems = ([f"{source}: cells without the {run_all.TAG!r} tag, so Run All stops there: "
                 f"{', '.join(untagged)}; run `course release {module}`"] if untagged else [])
    with tempfile.TemporaryDirectory() as scratch:
        found = grading.check_release(module, Path(scratch), root)
        committed = root / "release" / module / f"{module}.ipynb"
        fresh = Path(scratch) / "release" / module / f"{module}.ipynb"
        changes = (workcopy.runtime_changes(nbformat.read(committed, as_version=4),
                                            nbformat.read(fresh, as_version=4))
                   if committed.is_file() and fresh.is_file() else [])
    if changes:
        found = [p for p in found if not p.startswith(f"{committed} is out of date")]
        found.insert(0, f"{committed} was opened or executed ({', '.join(changes)}), not changed in source/: "
                        f"restore it with `git checkout {committed.relative_to(root)}` or `course release {module}`, "
                        f"and work on a copy (`course start {module}`)")
    return problems + found


def cmd_check(args: argparse.Namespace) -> int:
    root = paths.repo_root()
    problems = []
    for module in paths.resolve_modules(args.modules, root):
        found = _release_problems(module, root)
        print(f"{module}: {'ok' if not found else f'{len(found)} problem(s)'}")
        problems += found
    for problem in problems:
        print(f"  - {problem}")
    return 1 if problems else 0


def cmd_start(args: argparse.Namespace) -> int:
    root = paths.repo_root()
    modules = paths.resolve_modules(args.modules, root)
    base = Path(args.to) if args.to else root / workcopy.WORK_FOLDER
    existing = [str(base / m) for m in modules if (base / m).exists()]
    if existing and not args.force:
        raise paths.CourseError(f"{', '.join(existing)} exist(s) and may hold your answers; open them, "
                                "or pass --force to replace them with fresh copies of the release")
    for module in modules:
        paths.notebook(module, "release", root)
        copy = workcopy.start(module, root, base / module, force=args.force)
        print(f"{module}: your copy is {copy}")
    print("open it with:  jupyter lab " + (str(copy) if len(modules) == 1 else str(base)))
    return 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    root = paths.repo_root()
    modules = paths.resolve_modules(args.modules, root)
    for module in modules:
        paths.notebook(module, "source", root)
    out_dir = Path(args.out) if args.out else root / "build" / "reproduce"
    data = reproduce.reproduce(modules, args.budget, out_dir.resolve(), root)
    rows = reproduce.rows_of(data, modules)
    print()
    print(results.format_table(rows, None if args.wide else shutil.get_terminal_size((100, 24)).columns))
    print(f"\nexecuted notebooks, {reproduce.RESULTS_NAME} and each module's {reproduce.KERNEL_LOG} are in {out_dir}")
    failing = [r for r in rows if not r.holds]
    if failing:
        print(f"{len(failing)} of {len(rows)} target rows do not hold", file=sys.stderr)
        return 3
    return 0


def cmd_site(args: argparse.Namespace) -> int:
    from course import site

    root = paths.repo_root()
    out = Path(args.out) if args.out else root / site.SITE_FOLDER
    index = site.build(paths.resolve_modules(args.modules, root), out.resolve(), root)
    print(f"site: {index} (open it in a browser; it works offline)")
    return 0


def cmd_grade(args: argparse.Namespace) -> int:
    from course import classgrade, sandbox

    root = paths.repo_root()
    (module,) = paths.resolve_modules([args.module], root)
    limits = sandbox.Limits(memory=int(args.memory * sandbox.GiB))
    settings = classgrade.Settings(jobs=args.jobs, sandboxed=not args.trusted_without_sandbox,
                                   cell_timeout=args.cell_timeout, notebook_timeout=args.notebook_timeout,
                                   limits=limits, scheduler=args.scheduler or None)
    outcomes = classgrade.grade_class(root, module, settings)
    autograde = root / "autograde"
    print(f"\n{module}: {len(outcomes)} student(s)")
    for outcome in outcomes:
        print(f"  {outcome.summary}")
        for note in outcome.notes:
            print(f"      note: {note}")
    print(f"grades: {autograde / 'grades.csv'}\nfeedback: {autograde / 'feedback'}\nlog: {autograde / 'grade.log'}")
    return 0


def cmd_qm9(args: argparse.Namespace) -> int:
    from course.data import qm9

    data = qm9.load()
    print(f"QM9: {len(data)} molecules, {int(data.usable.sum())} usable, {len(data) - int(data.usable.sum())} excluded")
    for reason, count in data.report["excluded_by_category"].items():
        print(f"  {count:6d}  {reason}")
    if args.excluded:
        print(data.excluded().to_string())
    return 0


def cmd_featurize(args: argparse.Namespace) -> int:
    from course.features import qm9_graphs

    graphs = qm9_graphs.load(rebuild=args.rebuild, n_jobs=args.jobs)
    print(f"MG features of {len(graphs.indices)} QM9 molecules: {qm9_graphs.graphs_path()}")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from course.data.xyz import XYZFormatError
    from course.models.weave_predict import predict_xyz

    properties = ("alpha", "zpve") if args.property == "both" else (args.property,)
    try:
        predictions = predict_xyz(args.file, properties)
    except XYZFormatError as error:
        raise paths.CourseError(str(error)) from None
    for prediction in predictions:
        print(prediction)
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    import dataclasses

    from course.models import weave_fold

    out = Path(args.out) if args.out else paths.repo_root() / "solutions" / "weave"
    plan = weave_fold.PLANS[args.budget]
    if args.epochs is not None:
        plan = dataclasses.replace(plan, epochs={prop: args.epochs for prop in plan.epochs})
    if args.n_train is not None:
        plan = dataclasses.replace(plan, n_train=args.n_train)
    for fold in args.folds:
        for prop in args.properties:
            print(f"{prop}, fold {fold}, {args.budget} budget:", flush=True)
            record = weave_fold.run_fold(prop, fold, args.budget, out, max_minutes=args.max_minutes, plan=plan,
                                         progress=not args.quiet, log=True)
            if record is None:
                print(f"  stopped after {args.max_minutes} min; the same command resumes from "
                      f"{weave_fold.stem(prop, fold, args.budget, out)}.state.npz")
                return 0
            print(f"  test MAE {record['test_mae']:.4g} {record['unit']} on {record['n_test']} molecules; "
                  f"{weave_fold.stem(prop, fold, args.budget, out)}.json and .weights.h5 written")
    return 0


def cmd_cmb_dataset(args: argparse.Namespace) -> int:
    from course.data import cmb, cmb_make

    out = Path(args.out) if args.out else cmb.DEFAULT_PATH
    try:
        made = cmb_make.generate(out, n=args.n, seed=args.seed, workers=args.workers, save_every=args.save_every,
                                 max_minutes=args.max_minutes, resume=args.resume)
    except ModuleNotFoundError as error:
        raise paths.CourseError(f"{error.name} is missing: CAMB comes with the test extras "
                                "(pip install -c constraints.txt -e \".[test]\")") from None
    except ValueError as error:
        raise paths.CourseError(str(error)) from None
    print(f"{made} spectra in {out}")
    return 0


def _representations(chosen: list[str] | None) -> tuple[str, ...]:
    """The molecular representations a KRR command was asked for (all by default)."""
    from course.features.qm9_vectors import REPRESENTATIONS

    unknown = sorted(set(chosen or ()) - set(REPRESENTATIONS))
    if unknown:
        raise paths.CourseError(f"unknown representation(s) {', '.join(unknown)}; choose from {', '.join(REPRESENTATIONS)}")
    return tuple(chosen or REPRESENTATIONS)


def cmd_krr_curves(args: argparse.Namespace) -> int:
    from course.experiments import krr_curves

    out = Path(args.out) if args.out else paths.repo_root() / "solutions" / "krr"
    record, results_file = krr_curves.run(args.budget or budgets.current(), out, max_n=args.max_n,
                                          test_size=args.test_size, cv_n=args.cv_n, dtype=args.dtype,
                                          representations=_representations(args.representations),
                                          results=Path(args.results) if args.results else None)
    seconds = sum(run["wall_seconds"] for run in record["runs"].values())
    print(f"wrote {out / krr_curves.RESULTS_NAME} and .png ({', '.join(record['results'])}; {seconds:.0f} s of runs)")
    if results_file is not None:
        print(f"added its rows to {results_file}")
    return 0


def _count_or_all(text: str) -> int | str:
    """``--n-train`` is a positive whole number or ``all``."""
    if text == "all":
        return text
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number or 'all', got {text!r}")
    return int(text)


def cmd_krr_nystrom(args: argparse.Namespace) -> int:
    from course.experiments import krr_curves, krr_nystrom

    root = paths.repo_root()
    out = Path(args.out) if args.out else root / "solutions" / "krr"
    exact = Path(args.exact).resolve() if args.exact else root / "solutions" / "krr" / krr_curves.RESULTS_NAME
    record = krr_nystrom.run(out, exact, n_train=args.n_train, centres=args.centres, n_val=args.n_val,
                             representations=_representations(args.representations), root=root)
    print(f"wrote {out / krr_nystrom.RESULTS_NAME} and .png ({', '.join(record['results'])})")
    return 0


def cmd_krr_summary(args: argparse.Namespace) -> int:
    from course.experiments import krr_curves, krr_nystrom, krr_summary

    root = paths.repo_root()
    krr = root / "solutions" / "krr"
    exact = Path(args.exact) if args.exact else krr / krr_curves.RESULTS_NAME
    nystrom = Path(args.nystrom) if args.nystrom else krr / "all" / krr_nystrom.RESULTS_NAME
    for path in (exact, nystrom):
        if not path.is_file():
            raise paths.CourseError(f"{path}: no such results file (run course krr-curves / course krr-nystrom first)")
    out = Path(args.out) if args.out else krr
    try:
        found, written = krr_summary.run(exact, nystrom, out, Path(args.results) if args.results else None)
    except ValueError as error:
        raise paths.CourseError(str(error)) from None
    print(f"wrote {out / krr_summary.FIGURE_NAME}" + (f"; {len(found)} rows in {written}" if written else ""))
    return 0


def cmd_cmb_baselines(args: argparse.Namespace) -> int:
    from course.experiments import cmb_baselines

    out = Path(args.out) if args.out else cmb_baselines.DEFAULT_OUT
    result = cmb_baselines.run(Path(args.data) if args.data else None, out)
    print(f"wrote {out} ({result['n_spectra']} spectra)")
    return 0


def cmd_cmb_figure(args: argparse.Namespace) -> int:
    from course.experiments import cmb_figure

    out = Path(args.out) if args.out else paths.repo_root() / "docs" / cmb_figure.FILE_NAME
    try:
        print(f"wrote {cmb_figure.run(out)}")
    except ModuleNotFoundError as error:
        raise paths.CourseError(f"{error.name} is missing: CAMB comes with the test extras "
                                "(pip install -c constraints.txt -e \".[test]\")") from None
    return 0


def cmd_landscapes(args: argparse.Namespace) -> int:
    from course.experiments import landscapes

    for built in landscapes.build(args.names, Path(args.out) if args.out else None):
        print(built, flush=True)
    return 0


def _command(commands, name: str, summary: str, description: str, run) -> argparse.ArgumentParser:
    parser = commands.add_parser(name, help=summary, description=f"{summary[0].upper()}{summary[1:]}.\n\n{description}",
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.set_defaults(run=run)
    return parser


def _krr_options(parser: argparse.ArgumentParser) -> None:
    """The options the two KRR experiments share: which representations, and where their files go."""
    parser.add_argument("--representations", nargs="+", metavar="REP", default=None,
                        help="cm and/or bob (default both); run one per process to use two cores: the results of "
                             "the same protocol already in --out are kept and merged")
    parser.add_argument("--out", metavar="DIR", help="default solutions/krr")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="course", description=__doc__, epilog=EXAMPLES,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {course.__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    start = _command(commands, "start", "copy a module's student notebook into work/ to solve it",
                     "The copy lives in the git-ignored work/ folder, so opening and running it never\n"
                     "changes the committed release/ and course updates pull without conflicts.\n"
                     "example: course start 1 && jupyter lab work/01-regression/01-regression.ipynb", cmd_start)
    start.add_argument("modules", nargs="*", metavar="MODULE", help=MODULE_HELP)
    start.add_argument("--to", metavar="DIR", help="folder for the copies (default work/ in the repository)")
    start.add_argument("--force", action="store_true", help="replace an existing copy (its answers are lost)")
    release = _command(commands, "release", "regenerate release/ from source/ through nbgrader",
                       "Tags every answer and check cell of source/ 'raises-exception' (so Run All goes on\n"
                       "past unfinished exercises), then runs nbgrader generate_assignment. Commit both.\n"
                       "example: course release 01-regression", cmd_release)
    release.add_argument("modules", nargs="*", metavar="MODULE", help=MODULE_HELP)
    check = _command(commands, "check", "verify release/ is in sync with source/ and leaks nothing",
                     "Generates each student version afresh and compares it with release/; tells a release\n"
                     "that was only opened or run in Jupyter from one out of date with source/; looks for\n"
                     "solution code and hidden tests in release/. Exit 1 on any problem.", cmd_check)
    check.add_argument("modules", nargs="*", metavar="MODULE", help=MODULE_HELP)
    repro = _command(commands, "reproduce", "execute the solution notebooks and print the results table",
                     "Runs source/MODULE/MODULE.ipynb top to bottom in a fresh kernel; any error output fails\n"
                     "the run (exit 2, naming the notebook and cell), a target that does not hold gives\n"
                     "exit 3. The kernel's stderr goes to OUT/MODULE/kernel.log.\n"
                     "example: course reproduce 1 2 --budget quick", cmd_reproduce)
    repro.add_argument("modules", nargs="*", metavar="MODULE", help=MODULE_HELP)
    repro.add_argument("--budget", choices=budgets.BUDGETS, default="quick",
                       help="quick: CPU sizes, minutes (default); full: the literature protocol, meant for a GPU")
    repro.add_argument("--out", metavar="DIR", help="where executed notebooks and results.json go "
                       "(default build/reproduce; pass solutions to replace the committed ones)")
    repro.add_argument("--wide", action="store_true", help="one line per table row, however wide")
    site = _command(commands, "site", "build a static website of the executed solutions for self-study",
                    "Renders solutions/MODULE/MODULE.ipynb with nbconvert (figures included, hidden tests and\n"
                    "solution markers removed, mathematics by a local MathJax) and an index with each\n"
                    "module's introduction and results table. Default folder build/site (git-ignored).\n"
                    "example: course site && xdg-open build/site/index.html", cmd_site)
    site.add_argument("modules", nargs="*", metavar="MODULE", help=MODULE_HELP)
    site.add_argument("--out", metavar="DIR", help="where the pages go (default build/site)")
    grade = _command(commands, "grade", "check and autograde autograde/submitted/*/MODULE in a sandbox, write feedback, grades.csv and grade.log",
                     "Submissions go in autograde/submitted/STUDENT/MODULE/MODULE.ipynb; see autograde/README.md.\n"
                     "example: course grade 01-regression", cmd_grade)
    grade.add_argument("module", metavar="MODULE", help="module folder, number or name (01-regression, 1, regression)")
    grade.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="submissions graded at once (default: all cores)")
    grade.add_argument("--cell-timeout", type=int, default=600, metavar="S", help="seconds one cell may run (600)")
    grade.add_argument("--notebook-timeout", type=int, default=1800, metavar="S",
                       help="seconds one whole notebook may run (1800)")
    grade.add_argument("--memory", type=float, default=6, metavar="GIB", help="memory of one kernel in GiB (6)")
    grade.add_argument("--scheduler", metavar="ADDRESS", default=os.environ.get("COURSE_GRADE_SCHEDULER"),
                       help="grade on this Dask cluster (tcp://host:8786; default $COURSE_GRADE_SCHEDULER, "
                            "else on this machine); needs the cluster extra")
    grade.add_argument("--trusted-without-sandbox", action="store_true",
                       help="run kernels unconfined (only for notebooks you trust; needed where bubblewrap is missing)")
    data = _command(commands, "qm9", "load QM9 (building the local cache once) and report exclusions",
                    "The first run builds the cache (about 5 min on 2 cores) in ~/.cache/mlchem-course\n"
                    "or COURSE_CACHE_DIR.", cmd_qm9)
    data.add_argument("--excluded", action="store_true", help="list every excluded molecule with its reason")
    featurize = _command(commands, "featurize", "build the Molecular Graph features of every usable QM9 molecule",
                         "Cached next to the QM9 cache; a few minutes on 2 cores.", cmd_featurize)
    featurize.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    featurize.add_argument("--rebuild", action="store_true", help="rebuild even if a valid cache exists")
    predict = _command(commands, "predict", "predict α and/or ZPVE of a molecule in an XYZ file "
                       "with the committed weave models (no training)",
                       "FILE.xyz: a standard XYZ file in Å with H, C, N, O, F only, at most 29 atoms.\n"
                       "example: course predict molecule.xyz --property zpve", cmd_predict)
    predict.add_argument("file", metavar="FILE.xyz", help="the molecule's geometry")
    predict.add_argument("--property", choices=("alpha", "zpve", "both"), default="both",
                         help="what to predict (default both)")
    training = _command(commands, "train", "train or resume the weave models of Module 4 on folds of QM9",
                        "Seed 001's protocol: per fold, train on the nine others (validation taken from them),\n"
                        "test on the whole fold, one model per property. The state is saved after every epoch\n"
                        "and every few minutes in OUT/weave_PROPERTY_foldK_BUDGET.state.npz; the same command\n"
                        "resumes it exactly. A finished fold writes its .json and .weights.h5.\n"
                        "example: nice -n 19 course train alpha zpve --folds 0 1 --budget full --max-minutes 120",
                        cmd_train)
    training.add_argument("properties", nargs="+", choices=("alpha", "zpve"), metavar="PROPERTY",
                          help="alpha and/or zpve")
    training.add_argument("--folds", nargs="+", type=int, default=[0], choices=range(10), metavar="K",
                          help="test folds, 0..9 (default 0)")
    training.add_argument("--budget", choices=budgets.BUDGETS, default="quick")
    training.add_argument("--max-minutes", type=float, default=None,
                          help="end this stretch once it has run this long (the state is kept; resume later)")
    training.add_argument("--out", metavar="DIR", help="default solutions/weave")
    training.add_argument("--epochs", type=int, default=None, help="override the budget's epochs (smoke runs)")
    training.add_argument("--n-train", type=int, default=None, help="override the budget's training molecules")
    training.add_argument("--quiet", action="store_true", help="no progress bar (one line per epoch stays)")
    spectra = _command(commands, "cmb-dataset", "simulate the CMB power spectra of Module 3 with CAMB",
                       "Writes course/data/cmb_spectra.npz (or --out), rewritten every --save-every spectra;\n"
                       "every spectrum follows from (seed, index), so --resume adds the rest exactly. Needs\n"
                       "CAMB (test extras); see docs/cmb-dataset.md.\n"
                       "example: nice -n 10 course cmb-dataset --n 4000 --workers 2 --max-minutes 42", cmd_cmb_dataset)
    spectra.add_argument("--n", type=int, default=4000, help="spectra wanted (a multiple of 4 keeps the classes balanced)")
    from course.data.cmb_make import DEFAULT_SEED

    spectra.add_argument("--seed", type=int, default=DEFAULT_SEED, help="global seed (default: the shipped file's)")
    spectra.add_argument("--workers", type=int, default=1, help="processes, one CAMB thread each")
    spectra.add_argument("--save-every", type=int, default=200, help="rewrite the output after this many spectra")
    spectra.add_argument("--max-minutes", type=float, default=None,
                         help="stop at the first save after this wall time (keeps a balanced prefix)")
    spectra.add_argument("--out", metavar="FILE", help="default course/data/cmb_spectra.npz")
    spectra.add_argument("--resume", action="store_true",
                         help="keep the spectra already in --out (made with the same seed) and add the rest")
    curves = _command(commands, "krr-curves", "measure the KRR learning curves of Module 2 on QM9",
                      "Sorted Coulomb matrix and Bag of Bonds, for U0, α and ZPVE: nested training sets from\n"
                      "folds 1-9, a fixed subset of fold 0 as test set, σ and λ cross-validated once on the first\n"
                      "--cv-n molecules. Writes OUT/krr_learning_curves.json and .png; representations run as\n"
                      "separate processes (--representations cm, then bob) merge into the same file.\n"
                      "example: OPENBLAS_NUM_THREADS=1 nice -n 5 course krr-curves --budget full --results solutions",
                      cmd_krr_curves)
    curves.add_argument("--budget", choices=budgets.BUDGETS, default=None, help="default: $COURSE_BUDGET or quick")
    curves.add_argument("--max-n", type=int, default=None, help="largest training set (full: default 20000)")
    curves.add_argument("--test-size", type=int, default=2000, help="random molecules of fold 0 to test on")
    curves.add_argument("--cv-n", type=int, default=None, help="molecules for choosing σ, λ (quick 1000, full 2000)")
    curves.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    curves.add_argument("--results", metavar="DIR", default=None,
                        help="also add the target rows to DIR/results.json (e.g. solutions)")
    _krr_options(curves)
    nystrom = _command(commands, "krr-nystrom", "measure Nyström KRR on QM9 against the number of centres m",
                       "Validation and test MAE, time and peak memory per m; σ per representation and property\n"
                       "is the one the exact learning curves chose (--exact), λ is chosen on a validation set.\n"
                       "Writes OUT/nystrom_study.json and .png, merged across --representations as krr-curves.\n"
                       "example: OPENBLAS_NUM_THREADS=1 nice -n 5 course krr-nystrom --n-train 20000 "
                       "--centres 500 1000 2000 4000", cmd_krr_nystrom)
    nystrom.add_argument("--n-train", type=_count_or_all, default=20_000,
                         help="training molecules, or all of the training folds but --n-val (default 20000)")
    nystrom.add_argument("--centres", type=int, nargs="+", default=[500, 1000, 2000, 4000], help="values of m")
    nystrom.add_argument("--n-val", type=int, default=2000, help="validation molecules for choosing λ")
    nystrom.add_argument("--exact", metavar="FILE", help="the exact curves (default solutions/krr/krr_learning_curves.json)")
    _krr_options(nystrom)
    summary = _command(commands, "krr-summary", "put exact and Nyström KRR on QM9 in one figure and six rows",
                       "Reads the exact learning curves (--exact) and a Nyström study on all training molecules\n"
                       "(--nystrom, from course krr-nystrom --n-train all); per representation and property takes the\n"
                       "m with the lowest validation MAE and compares its test MAE with the literature at ~117k.\n"
                       "Writes OUT/krr_all_molecules.png and, with --results, the rows into DIR/results.json.\n"
                       "example: course krr-summary --results solutions", cmd_krr_summary)
    summary.add_argument("--exact", metavar="FILE", help="default solutions/krr/krr_learning_curves.json")
    summary.add_argument("--nystrom", metavar="FILE", help="default solutions/krr/all/nystrom_study.json")
    summary.add_argument("--out", metavar="DIR", help="folder of the figure (default solutions/krr)")
    summary.add_argument("--results", metavar="DIR", default=None, help="also add the rows to DIR/results.json")
    baselines = _command(commands, "cmb-baselines", "score sklearn baselines on the CMB data set of Module 3",
                         "Logistic regression and an MLP(64, 64), each on raw and on standardized band powers:\n"
                         "validation ROC AUC on the split of Modules 3 and 5 (overall and per alternative) and\n"
                         "5-fold AUC. Writes course/data/cmb_baselines.json, quoted in docs/cmb-dataset.md.\n"
                         "example: course cmb-baselines", cmd_cmb_baselines)
    baselines.add_argument("--data", metavar="FILE", help="npz file (default: the shipped one)")
    baselines.add_argument("--out", metavar="FILE", help="default course/data/cmb_baselines.json")
    figure = _command(commands, "cmb-figure", "draw docs/cmb-spectra.png, example CMB spectra of each class",
                      "Top: three noisy spectra per class from the data set; bottom: noiseless CAMB spectra of\n"
                      "representative alternatives relative to ΛCDM, against the binned cosmic variance.\n"
                      "Needs CAMB (test extras).\n"
                      "example: course cmb-figure --out /tmp/cmb-spectra.png", cmd_cmb_figure)
    figure.add_argument("--out", metavar="FILE", help="default docs/cmb-spectra.png")
    lands = _command(commands, "landscapes", "explore the loss landscapes that Module 7's quick budget reads",
                     "Basin-hopping and CI-NEB with the settings of course.landscape.explore.COMMITTED; writes\n"
                     "course/landscape/data/NAME.npz (the breast-cancer network: under a minute on 2 cores). On another\nCPU the same seed can find other minima (docs/loss-landscapes.md).\n"
                     "example: nice -n 10 course landscapes", cmd_landscapes)
    lands.add_argument("names", nargs="*", metavar="NAME", help="networks to explore (default: all committed)")
    lands.add_argument("--out", metavar="DIR", help="write DIR/NAME.npz instead of the committed files")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except paths.CourseError as error:
        print(f"course {args.command}: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
