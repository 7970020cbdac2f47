"""Placeholder, filled in below."""


def add_compare_arguments(p):
    pass


def run_compare(args):
    raise NotImplementedError
