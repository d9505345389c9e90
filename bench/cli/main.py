"""The `bench` command: its parser, and one module per subcommand.

Heavy libraries (torch, transformers, faiss) are imported only inside the
commands that need them, so `bench --help` and `bench ls` start instantly.
The flags are checked here, where they enter: a mistake is one line naming it
and the fix, exit code 2, no traceback, nothing recorded lost.
Exit codes: 0 all cells ok, 1 some cells failed, 2 bad input, 130 interrupted.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from bench.errors import BenchError

RUN_EXAMPLES = """examples:
  bench run --tasks imdb spam                     # the default grid
  bench run --tasks spam --strategies head-only --seeds 0 1 2
  bench run --tasks imdb spam --budgets 8 32 all --seeds 0 1 2   # learning curves
  bench run leaderboard/study.toml                # a study file: the published leaderboard
  bench run --tasks imdb --data imdb=~/data/aclImdb      # the full IMDb set, local copy
  bench run --tasks my-card.toml --strategies head-only  # your own CSV/JSONL/parquet data
  bench run --tasks spam --set head-only.C=0.5 --force   # change an option, re-measure
  bench run --tasks imdb spam --jobs 2            # two cells at a time, the cores shared between them
  bench run --tasks imdb spam --executor ray --ray-address HEAD:6379   # cells as tasks on a Ray cluster
"""


SHOW_EXAMPLES = """examples:
  bench show 4a2fff616901 --results leaderboard      # a run id, as the page and bench report show it
  bench show spam lora seed=0 budget=8               # a filter: task, strategy, seed, label budget
  bench show spam/full budget=all seed=2 --wrong all
  bench show results/records/spam/knn/all-MiniLM-L6-v2/seed0-8ea30cad239f.json
"""


def _wrong_limit(value: str) -> int | None:
    if value == "all":
        return None
    if not value.isdigit():
        raise argparse.ArgumentTypeError(f"expected a number or 'all', got {value!r}")
    return int(value)


def _results_folder(parser: argparse.ArgumentParser, what: str = "to read") -> None:
    """The --results flag of the commands that read a results folder (default: results)."""
    parser.add_argument("--results", type=Path, default=Path("results"), metavar="DIR",
                        help=f"the results folder {what} (default: results)")


class Parser(argparse.ArgumentParser):
    """argparse that reports a usage mistake as one line."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="bench", description="Prompt, retrieve or fine-tune? Runs text-classification "
                    "tasks through pluggable strategies and writes leaderboards.",
                    epilog="examples:\n  bench ls\n  bench run --tasks imdb spam\n  bench report\n"
                    "  bench show spam lora seed=0 budget=8",
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    run = sub.add_parser("run", help="run a grid of task x strategy x model x seed cells, or a study file",
                         description="Run every cell of the grid (or of a study file's grids) that is not recorded "
                         "yet, each in its own process, and print the leaderboard.", epilog=RUN_EXAMPLES,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("study", nargs="?", type=Path, metavar="STUDY.toml",
                     help="a study file: its grids replace the grid flags below (same as --study)")
    run.add_argument("--study", type=Path, dest="study_flag", metavar="STUDY.toml", help=argparse.SUPPRESS)
    run.add_argument("--tasks", nargs="+", metavar="TASK",
                     help="task names or .toml cards (default: imdb spam; `bench ls` lists all)")
    run.add_argument("--strategies", nargs="+", metavar="NAME", help="strategy names (default: all built-in ones)")
    run.add_argument("--models", nargs="+", metavar="MODEL",
                     help="models for the strategies that take one (default: each strategy's own)")
    run.add_argument("--seeds", nargs="+", type=int, metavar="N", help="seeds (default: 0)")
    run.add_argument("--budgets", nargs="+", metavar="N",
                     help="labelled examples per class, nested per seed; 'all' = the whole training split "
                          "(default: all)")
    run.add_argument("--set", nargs="+", action="extend", metavar="NAME=VALUE", dest="options",
                     help="strategy options: OPTION=V for every strategy that has it, or STRATEGY.OPTION=V")
    run.add_argument("--data", nargs="+", action="extend", metavar="TASK=PATH",
                     help="read a task from a local copy (file or folder) instead of its embedded data")
    run.add_argument("--tune", type=int, metavar="N",
                     help="choose each tunable strategy's options on its training labels, trying N configurations "
                          "(see TUNING.md); default: the defaults, untuned")
    run.add_argument("--select-only", action="store_true",
                     help="with --tune: choose the options on training labels and stop, without a final fit or "
                          "the test split (a study of defaults; `bench tuning` tabulates it)")
    run.add_argument("--train-on", metavar="TASK",
                     help="domain shift: fit on this task's training split, test on the --tasks (same label "
                          "names); the leaderboard's shift table sets it beside in-domain accuracy")
    run.add_argument("--probe", nargs="+", metavar="TASK", dest="probes",
                     help="forgetting: after each fine-tune, probe its encoder on these tasks (knn and a linear "
                          "head on frozen features) against the original encoder")
    run.add_argument("--update", type=float, metavar="SHARE",
                     help="keeping up: fit on this share of the training sample first (e.g. 0.5), then absorb "
                          "the rest: retrained from scratch, and by the strategy's own update where it has one")
    run.add_argument("--no-baseline", action="store_true",
                     help="do not add the reference rows (majority, tfidf) to the grid")
    run.add_argument("--results", type=Path, metavar="DIR",
                     help="where records and tables go (default: results, or the study file's results)")
    run.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                     help="auto uses a GPU when there is one (default: auto)")
    run.add_argument("--precision", choices=["auto", "fp32", "bf16"], default="auto",
                     help="what the models compute in: auto is bf16 where the hardware computes it natively (a CPU "
                          "with AVX512-BF16 or AMX, a recent GPU), else fp32 (default: auto)")
    run.add_argument("--max-memory", type=float, metavar="MB",
                     help="fail a cell whose process goes over this resident memory (the grid goes on); on Ray, "
                          "also the memory each cell asks for")
    run.add_argument("--executor", choices=["local", "ray"], default="local",
                     help="local: worker processes on this machine (default); ray: each cell a Ray task, on a "
                          "local Ray instance or the cluster at --ray-address (pip install 'bench[ray]')")
    run.add_argument("--jobs", type=int, metavar="N",
                     help="local executor: cells at a time, this machine's cores shared between them "
                          "(default: 1 on a machine with fewer than 8 cores or 16 GB)")
    run.add_argument("--ray-address", metavar="ADDRESS",
                     help="with --executor ray: the cluster to join (HOST:PORT of its head, or auto); without it "
                          "a local Ray instance is started for the run")
    run.add_argument("--force", action="store_true",
                     help="re-run cells that are already recorded (keeps the old records)")
    run.add_argument("--dry-run", action="store_true",
                     help="plan the grid and list the cells that would run; run nothing, write nothing")

    ls = sub.add_parser("ls", help="list tasks, strategies and models, and where each comes from",
                        epilog="examples:\n  bench ls\n  bench ls --options",
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    ls.add_argument("--options", action="store_true", help="also list each strategy's options and defaults")

    report = sub.add_parser("report",
                            help="rebuild LEADERBOARD.md, leaderboard.csv, index.html and plots from the records",
                            epilog="examples:\n  bench report\n  bench report --results leaderboard",
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    _results_folder(report, "to read and write")

    show = sub.add_parser("show", help="print one run's record: results, costs, curves, and the texts it got wrong",
                          description="Print one run: its results and costs, configuration, training curves, "
                          "confusion matrix and wrong predictions. Name it by its run id, a record file, or a filter "
                          "whose words each match its task, strategy or model, with seed=, budget=, model=, "
                          "status= and tuned=; when several runs match, they are listed.",
                          epilog=SHOW_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    show.add_argument("what", nargs="+", metavar="RUN-OR-FILTER",
                      help="a run id, a record .json file, or filter words (spam lora seed=0 budget=8)")
    _results_folder(show)
    show.add_argument("--wrong", type=_wrong_limit, default=10, metavar="N|all",
                      help="how many wrong predictions to print (default: 10)")

    compare = sub.add_parser("compare", help="two strategies compared paired: difference, interval, p, disagreements",
                             description="Compares two rows of a results folder's leaderboard on the same test "
                             "texts and seeds: the accuracy difference with its 95 % interval and p-value (paired "
                             "bootstrap), McNemar's exact test per seed, and the texts they disagree on.",
                             epilog="examples:\n  bench compare full few-shot --task spam --results leaderboard\n"
                                    "  bench compare lora rag@SmolLM2-135M-Instruct --task spam --budget 8",
                             formatter_class=argparse.RawDescriptionHelpFormatter)
    compare.add_argument("a", metavar="A", help="a strategy, or STRATEGY@MODEL")
    compare.add_argument("b", metavar="B", help="the strategy to compare it with")
    compare.add_argument("--task", help="the task (needed when the folder holds several)")
    compare.add_argument("--budget", help="labels per class (default: all)")
    compare.add_argument("--untuned", action="store_true", help="compare the untuned rows even where tuned ones exist")
    compare.add_argument("--show", type=int, default=10, metavar="N", help="disagreements to print (default: 10)")
    _results_folder(compare)

    tune = sub.add_parser("tuning", help="the configurations the tuner tried, scored on training labels only",
                          description="Prints, per strategy, each configuration's mean validation accuracy over the "
                          "tuned cells of a results folder (the table defaults are chosen from; TUNING.md).",
                          epilog="examples:\n  bench tuning --results leaderboard/defaults\n"
                          "  bench tuning --results leaderboard leaderboard/defaults --tasks imdb --budgets all",
                          formatter_class=argparse.RawDescriptionHelpFormatter)
    tune.add_argument("--results", type=Path, nargs="+", default=[Path("results")], metavar="DIR",
                      help="the results folders to read, their tuned cells pooled (default: results)")
    tune.add_argument("--tasks", nargs="+", metavar="TASK", help="only these tasks' cells (default: all)")
    tune.add_argument("--budgets", nargs="+", metavar="N", help="only these budgets' cells: labels per class, "
                      "or 'all' (default: all budgets)")

    migrate = sub.add_parser("migrate", help="upgrade a results folder's records to this bench's record schema",
                             description="Rewrites records of an older schema in the current one (re-keyed, "
                             "each file replaced atomically); nothing measured changes.",
                             epilog="examples:\n  bench migrate --results leaderboard",
                             formatter_class=argparse.RawDescriptionHelpFormatter)
    _results_folder(migrate, "whose records to upgrade")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from rich.console import Console

    console = Console(stderr=True)
    try:
        if args.command == "ls":
            from bench.cli.listing import cmd_ls

            return cmd_ls(args)
        if args.command == "report":
            from bench.cli.report import cmd_report

            return cmd_report(args)
        if args.command == "show":
            from bench.cli.show import cmd_show

            return cmd_show(args)
        if args.command == "compare":
            from bench.cli.compare import cmd_compare

            return cmd_compare(args)
        if args.command == "tuning":
            from bench.cli.report import cmd_tuning

            return cmd_tuning(args)
        if args.command == "migrate":
            from bench.cli.report import cmd_migrate

            return cmd_migrate(args)
        from bench.cli.run import cmd_run

        signal.signal(signal.SIGTERM, _stop_as_interrupted)
        return cmd_run(args, console)
    except BenchError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        return 130


def _stop_as_interrupted(signum, frame):
    """SIGTERM (`kill`, a job scheduler, a container stopping) stops a run as Ctrl-C does: the cells that
    finished are recorded, the running workers are stopped, the claims are released."""
    raise KeyboardInterrupt


if __name__ == "__main__":
    raise SystemExit(main())
