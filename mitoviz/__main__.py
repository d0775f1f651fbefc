import sys

from mitoviz.cli import main

sys.exit(main())
