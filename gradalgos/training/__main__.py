"""``python -m gradalgos.training train|compare [options]`` (``--help`` for each)."""

from __future__ import annotations

import argparse
import sys

from gradalgos.training.cli import (
    DESCRIPTION,
    add_train_arguments,
    check_train_arguments,
    run_train,
)


def build_parser() -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    """The command line's parser and its ``train`` subparser (for usage errors)."""
    from gradalgos.training.experiments import add_compare_arguments

    parser = argparse.ArgumentParser(prog="python -m gradalgos.training", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p_train = sub.add_parser(
        "train", help="train one cell on one task", description=DESCRIPTION,
        epilog="example: train --task sine --cell gru --algorithm hybrid --online --steps 2000",
    )  # fmt: skip
    add_train_arguments(p_train)
    p_cmp = sub.add_parser("compare", help="every algorithm on a few tasks; curves → reports/")
    add_compare_arguments(p_cmp)
    return parser, p_train


def main(argv: list[str] | None = None) -> int:
    parser, p_train = build_parser()
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
