"""``python -m gradalgos.bench``."""

from gradalgos.bench.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
