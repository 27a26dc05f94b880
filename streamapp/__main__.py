"""`python -m streamapp ...`: the same commands as the `streamapp` script."""

import sys

from streamapp.cli import main

sys.exit(main())
