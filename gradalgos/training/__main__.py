"""``python -m gradalgos.training train|compare [options]`` (``--help`` for each)."""

from __future__ import annotations

import argparse
import sys

from gradalgos.training.cli import add_train_arguments, check_train_arguments, run_train


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gradalgos.training", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p_train = sub.add_parser("train", help="train one cell on one task")
    add_train_arguments(p_train)
    p_cmp = sub.add_parser("compare", help="every algorithm on a few tasks; curves → reports/")
    from gradalgos.training.experiments import add_compare_arguments

    add_compare_arguments(p_cmp)
    args = parser.parse_args(argv)
    if args.command == "train":
        check_train_arguments(p_train, args)
        run_train(args)
    else:
        from gradalgos.training.experiments import run_compare

        run_compare(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
