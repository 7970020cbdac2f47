import sys

from gradalgos.study.cli import main

sys.exit(main())
