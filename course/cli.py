"""The ``course`` command: release, check, reproduce and grade the course's notebooks; predict with them."""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from course import budget as budgets
from course import grading, paths, reproduce, results


def cmd_release(args: argparse.Namespace) -> int:
    root = paths.repo_root()
    for module in paths.resolve_modules(args.modules, root):
        paths.notebook(module, "source", root)
        with tempfile.TemporaryDirectory() as scratch:
            generated = grading.ScratchCourse(Path(scratch), root).generate(module)
            target = root / "release" / module
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(generated, target)
        print(f"release/{module}: regenerated from source/{module}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    root = paths.repo_root()
    problems = []
    for module in paths.resolve_modules(args.modules, root):
        paths.notebook(module, "source", root)
        with tempfile.TemporaryDirectory() as scratch:
            found = grading.check_release(module, Path(scratch), root)
        print(f"{module}: {'ok' if not found else f'{len(found)} problem(s)'}")
        problems += found
    for problem in problems:
        print(f"  - {problem}")
    return 1 if problems else 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    root = paths.repo_root()
    modules = paths.resolve_modules(args.modules, root)
    for module in modules:
        paths.notebook(module, "source", root)
    out_dir = Path(args.out) if args.out else root / "build" / "reproduce"
    data = reproduce.reproduce(modules, args.budget, out_dir.resolve(), root)
    rows = [r for r in reproduce.rows_of(data) if r.module in modules]
    print()
    print(results.format_table(rows))
    print(f"\nexecuted notebooks and {reproduce.RESULTS_NAME} are in {out_dir}")
    failing = [r for r in rows if not r.holds]
    if failing:
        print(f"{len(failing)} of {len(rows)} target rows do not hold", file=sys.stderr)
        return 3
    return 0


def cmd_grade(args: argparse.Namespace) -> int:
    from course import classgrade, sandbox

    root = paths.repo_root()
    (module,) = paths.resolve_modules([args.module], root)
    limits = sandbox.Limits(memory=int(args.memory * sandbox.GiB))
    settings = classgrade.Settings(jobs=args.jobs, sandboxed=not args.trusted_without_sandbox,
                                   cell_timeout=args.cell_timeout, notebook_timeout=args.notebook_timeout,
                                   limits=limits)
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="course", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    release = commands.add_parser("release", help="regenerate release/ from source/ through nbgrader")
    release.add_argument("modules", nargs="*", metavar="MODULE")
    release.set_defaults(run=cmd_release)
    check = commands.add_parser("check", help="verify release/ is in sync with source/ and leaks nothing")
    check.add_argument("modules", nargs="*", metavar="MODULE")
    check.set_defaults(run=cmd_check)
    repro = commands.add_parser("reproduce", help="execute the solution notebooks and print the results table")
    repro.add_argument("modules", nargs="*", metavar="MODULE")
    repro.add_argument("--budget", choices=budgets.BUDGETS, default="quick")
    repro.add_argument("--out", metavar="DIR", help="where executed notebooks and results.json go "
                       "(default build/reproduce; pass solutions to replace the committed ones)")
    repro.set_defaults(run=cmd_reproduce)
    grade = commands.add_parser("grade", help="check and autograde autograde/submitted/*/MODULE in a sandbox, "
                                "write feedback, grades.csv and grade.log")
    grade.add_argument("module", metavar="MODULE")
    grade.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="submissions graded at once (default: all cores)")
    grade.add_argument("--cell-timeout", type=int, default=600, metavar="S", help="seconds one cell may run (600)")
    grade.add_argument("--notebook-timeout", type=int, default=1800, metavar="S",
                       help="seconds one whole notebook may run (1800)")
    grade.add_argument("--memory", type=float, default=6, metavar="GIB", help="memory of one kernel in GiB (6)")
    grade.add_argument("--trusted-without-sandbox", action="store_true",
                       help="run kernels unconfined (only for notebooks you trust; needed where bubblewrap is missing)")
    grade.set_defaults(run=cmd_grade)
    data = commands.add_parser("qm9", help="load QM9 (building the local cache once) and report exclusions")
    data.add_argument("--excluded", action="store_true", help="list every excluded molecule with its reason")
    data.set_defaults(run=cmd_qm9)
    featurize = commands.add_parser("featurize", help="build the Molecular Graph features of every usable QM9 molecule")
    featurize.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    featurize.add_argument("--rebuild", action="store_true", help="rebuild even if a valid cache exists")
    featurize.set_defaults(run=cmd_featurize)
    predict = commands.add_parser("predict", help="predict α and/or ZPVE of a molecule in an XYZ file "
                                  "with the committed weave models (no training)")
    predict.add_argument("file", metavar="FILE.xyz")
    predict.add_argument("--property", choices=("alpha", "zpve", "both"), default="both")
    predict.set_defaults(run=cmd_predict)
    training = commands.add_parser("train", help="train or resume weave models of Module 4 on folds of QM9")
    training.add_argument("properties", nargs="+", choices=("alpha", "zpve"), metavar="PROPERTY",
                          help="alpha and/or zpve")
    training.add_argument("--folds", nargs="+", type=int, default=[0], choices=range(10), metavar="K",
                          help="test folds, 0..9 (default 0)")
    training.add_argument("--budget", choices=budgets.BUDGETS, default="quick")
    training.add_argument("--max-minutes", type=float, default=None,
                          help="stop between epochs before this stretch would pass it (resume later)")
    training.add_argument("--out", metavar="DIR", help="default solutions/weave")
    training.add_argument("--epochs", type=int, default=None, help="override the budget's epochs (smoke runs)")
    training.add_argument("--n-train", type=int, default=None, help="override the budget's training molecules")
    training.add_argument("--quiet", action="store_true", help="no progress bar (one line per epoch stays)")
    training.set_defaults(run=cmd_train)
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
