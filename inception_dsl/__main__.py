import sys

from inception_dsl.cli import main

sys.exit(main())
